"""Timed training epochs of a model through the library's own trainer,
shared by ``gpu_check.py`` and ``distributed.py``."""
import resource
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: Synthetic graphs by name: Amazon Baby's size with 4,096-d and 384-d
#: features, and a tiny one for dry runs.
SYNTHETIC = {
    'baby_sized': dict(num_users=19445, num_items=7050,
                       interactions_per_user=8,
                       modality_dims={'image': 4096, 'text': 384}, seed=0),
    'tiny': dict(num_users=300, num_items=200, interactions_per_user=10,
                 modality_dims={'image': 64, 'text': 16}, seed=0),
}


def peak_mib() -> float:
    r"""The peak resident memory of this process so far, MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load(dataset: str) -> Any:
    from lirdrec_pyg.data import load_dataset, make_synthetic
    if dataset in SYNTHETIC:
        return make_synthetic(name=dataset, **SYNTHETIC[dataset])
    return load_dataset(dataset)


def build_trainer(model_name: str, dataset: str, data: Any, device: str,
                  threads: int = 1, overrides: tuple = (),
                  mode: str = 'full') -> Any:
    r"""The model with its reference config (the dataset's overrides for a
    real dataset) inside a :class:`Trainer`, which shards it when this
    process is one of several; :obj:`mode` is ``train.mode`` (``sampled``:
    sampled-subgraph steps, sampled on :obj:`device`)."""
    import torch

    from lirdrec_pyg.models import create_model
    from lirdrec_pyg.train.config import load_config
    from lirdrec_pyg.train.trainer import Trainer, TrainConfig

    cfg = load_config(model_name, dataset=None if dataset in SYNTHETIC
                      else dataset, overrides=list(overrides))
    torch.manual_seed(0)
    model = create_model(model_name, data, **cfg['model'])
    train = TrainConfig(batch_size=cfg['train'].get('batch_size', 2048),
                        lr=cfg['train'].get('lr', 1e-3), progress=False,
                        threads=threads, device=device, mode=mode)
    return Trainer(model, data, train)


class _FirstTriples:
    r"""A sampler that keeps the first :obj:`count` triples of each epoch
    (to time a fixed number of steps of a long epoch)."""
    def __init__(self, sampler: Any, count: int) -> None:
        self.sampler, self.count, self.key = sampler, count, sampler.key

    def sample(self, generator: Any) -> Any:
        return tuple(t[:self.count] for t in self.sampler.sample(generator))


def time_epochs(trainer: Any, epochs: int, steps: Optional[int] = None
                ) -> Dict[str, Any]:
    r"""Seconds of :obj:`epochs` training epochs after one untimed warm-up
    epoch, through :meth:`Trainer._train_epoch`; with :obj:`steps`, each
    epoch is cut to its first :obj:`steps` batches and the time is scaled
    to the full epoch (reported as estimated): :obj:`epoch_seconds` scales
    the whole cut epoch, :obj:`epoch_seconds_fixed_once` only its steps
    (the per-epoch work, timed in an epoch without steps, counted once)."""
    from lirdrec_pyg.data import UI, BPRSampler

    model, cfg = trainer.model, trainer.config
    sampler = BPRSampler(trainer.data[UI].edge_index.to(trainer.device),
                         model.num_users, model.num_items)
    full_steps = -(-len(sampler) // cfg.batch_size)
    timed = sampler
    if steps is not None and steps < full_steps:
        timed = _FirstTriples(sampler, steps * cfg.batch_size)
    optimizer = trainer.make_optimizer()
    seconds: List[float] = []
    cpu: List[float] = []
    for epoch in range(1, epochs + 2):
        start, start_cpu = time.perf_counter(), time.process_time()
        trainer._train_epoch(epoch, timed, optimizer)
        seconds.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    seconds, cpu = seconds[1:], cpu[1:]
    scale = full_steps / steps if timed is not sampler else 1.0
    out = {}
    if timed is not sampler:
        # The per-epoch work (sampling the epoch's triples, the schedule,
        # the end-of-epoch exchange and loss sum) happens once per epoch:
        # timed in an epoch without steps (the same epoch number again,
        # so the schedule does not move) and not scaled, only the steps are.
        empty = _FirstTriples(sampler, 0)
        start, start_cpu = time.perf_counter(), time.process_time()
        trainer._train_epoch(epochs + 1, empty, optimizer)
        fixed = time.perf_counter() - start
        fixed_cpu = time.process_time() - start_cpu
        out = {'epoch_seconds_fixed_once': round(
                   fixed + (min(seconds) - fixed) * scale, 3),
               'epoch_cpu_seconds_fixed_once': round(
                   fixed_cpu + (min(cpu) - fixed_cpu) * scale, 3),
               'per_epoch_seconds': round(fixed, 3)}
    # The CPU time of the process (all its threads, the collectives'
    # included) depends much less on other jobs than the wall time.
    return dict({'epoch_seconds': round(min(seconds) * scale, 3),
                 'epoch_cpu_seconds': round(min(cpu) * scale, 3),
                 'epoch_seconds_all': [round(s * scale, 3) for s in seconds],
                 'estimated_from_steps': steps if timed is not sampler
                 else None,
                 'steps_per_epoch': full_steps}, **out)


def time_evaluation(trainer: Any) -> float:
    r"""Seconds of one full validation evaluation."""
    start = time.perf_counter()
    trainer.evaluate(trainer.valid_evaluator)
    return round(time.perf_counter() - start, 3)
