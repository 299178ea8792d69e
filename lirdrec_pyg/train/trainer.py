"""Training with early stopping, checkpoints and exact resumption."""
import logging
import math
import time
import typing
import warnings
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Union

import torch
import torch_geometric
from torch_geometric.data import HeteroData

from lirdrec_pyg.data import BPRSampler
from lirdrec_pyg.data.sampler import NEGATIVE_POOLS, negative_pool
from lirdrec_pyg.distributed import (Sharding, ShardedAdam, check_device,
                                    init_process_group, resolve_device)
from lirdrec_pyg.models.base import Recommender, train_edge_index
from lirdrec_pyg.train.evaluator import FullRankingEvaluator
from lirdrec_pyg.train.io import (CheckpointError, atomic_torch_save,
                                  safe_torch_load)
from lirdrec_pyg.train.metrics import METRIC_NAMES
from lirdrec_pyg.train.sampled import (check_subgraph_support,
                                       make_sampled_optimizer,
                                       make_subgraph_sampler,
                                       subgraph_batch_loss)
from lirdrec_pyg.train.schema import ConfigError, check_value

CHECKPOINT = 'checkpoint.pt'
BEST_MODEL = 'best_model.pt'
#: The fan-out of sampled training unless ``train.num_neighbors`` says.
DEFAULT_NUM_NEIGHBORS = 10


@dataclass
class TrainConfig:
    r"""Settings of :class:`Trainer` (the ``train:`` section of a config).

    Args:
        epochs (int): Maximum number of epochs. (default: :obj:`1000`)
        batch_size (int): Triples per optimisation step. (default: :obj:`2048`)
        lr (float): Adam learning rate. (default: :obj:`1e-3`)
        lr_decay (float): Learning-rate decay of the reference toolbox's
            ``learning_rate_scheduler``: epoch :math:`t` (from 1) trains with
            :math:`\mathrm{lr} \cdot \mathrm{lr\_decay}^{(t-1) /
            \mathrm{lr\_decay\_step}}`, a smooth decay reaching
            :obj:`lr_decay` after :obj:`lr_decay_step` epochs; :obj:`1.0`
            keeps the rate constant. (default: :obj:`1.0`)
        lr_decay_step (int): Epochs over which the rate decays by
            :obj:`lr_decay`. (default: :obj:`50`)
        weight_decay (float): Adam weight decay. (default: :obj:`0.0`)
        patience (int): Evaluations without improvement of
            :obj:`valid_metric` before stopping. (default: :obj:`20`)
        eval_every (int): Evaluate every this many epochs. (default: :obj:`1`)
        eval_batch_size (int): Users per scoring block. (default: :obj:`4096`)
        valid_metric (str): Model-selection metric. (default: :obj:`Recall@20`)
        ks (list of int): Cut-offs of the metrics. (default: 5, 10, 20, 50)
        seed (int): Fixes sampling and per-epoch randomness.
            (default: :obj:`2024`)
        threads (int): ``torch.set_num_threads``; one thread is much faster on
            small machines. (default: :obj:`1`)
        device (str): ``auto`` (CUDA if available), ``cpu``, ``cuda`` (the
            process's GPU) or ``cuda:N``. (default: :obj:`cpu`)
        progress (bool): Show a tqdm progress bar (on a terminal only).
            (default: :obj:`True`)
        negatives (str): The pool BPR negatives are drawn from:
            :obj:`"train_items"` (the items that occur in the training
            split, as the MMRec toolbox draws them) or :obj:`"all_items"`.
            Held-out cold-start items are never drawn.
            (default: :obj:`"train_items"`)
        mode (str): ``full`` (every step propagates over the whole graph,
            exact, the reference) or ``sampled`` (every step propagates over
            its batch's sampled subgraph, linear-time epochs; LightGCN and
            LIRDRec; needs the ``ext`` extra, see
            :mod:`lirdrec_pyg.train.sampled`). (default: :obj:`full`)
        num_neighbors (int or list of int): With ``mode: sampled``,
            neighbours sampled per node at each hop (one int for every hop,
            or one per propagation layer); ``-1`` keeps all.
            (default: :obj:`10`)
    """
    epochs: int = 1000
    batch_size: int = 2048
    lr: float = 1e-3
    lr_decay: float = 1.0
    lr_decay_step: int = 50
    weight_decay: float = 0.0
    patience: int = 20
    eval_every: int = 1
    eval_batch_size: int = 4096
    valid_metric: str = 'Recall@20'
    ks: List[int] = field(default_factory=lambda: [5, 10, 20, 50])
    seed: int = 2024
    threads: int = 1
    device: str = 'cpu'
    progress: bool = True
    negatives: str = 'train_items'
    mode: str = 'full'
    num_neighbors: Union[int, List[int]] = DEFAULT_NUM_NEIGHBORS

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in fields(self):
            setattr(self, f.name, check_value(f'train.{f.name}',
                                              getattr(self, f.name),
                                              hints[f.name]))
        for name in ('epochs', 'batch_size', 'patience', 'eval_every',
                     'eval_batch_size', 'threads', 'lr_decay_step'):
            if getattr(self, name) <= 0:
                raise ConfigError(f"train.{name} must be a positive integer "
                                  f"(got {getattr(self, name)})")
        check_device(self.device)
        if self.lr <= 0:
            raise ConfigError(f"train.lr must be positive (got {self.lr})")
        if not 0.0 < self.lr_decay <= 1.0:
            raise ConfigError(f"train.lr_decay must lie in (0, 1] "
                              f"(got {self.lr_decay})")
        if self.weight_decay < 0:
            raise ConfigError(f"train.weight_decay must be >= 0 "
                              f"(got {self.weight_decay})")
        if not self.ks or min(self.ks) <= 0:
            raise ConfigError(f"train.ks must be a non-empty list of "
                              f"positive integers (got {self.ks})")
        if self.mode not in ('full', 'sampled'):
            raise ConfigError(f"train.mode must be 'full' or 'sampled' "
                              f"(got '{self.mode}')")
        fanouts = self.num_neighbors if isinstance(self.num_neighbors,
                                                   list) else [
                                                       self.num_neighbors]
        if not fanouts or any(k != -1 and k <= 0 for k in fanouts):
            raise ConfigError(f"train.num_neighbors must be a positive "
                              f"integer or -1 (all), or a list of them "
                              f"(got {self.num_neighbors!r})")
        if self.mode == 'full' and \
                self.num_neighbors != DEFAULT_NUM_NEIGHBORS:
            warnings.warn(f"train.num_neighbors={self.num_neighbors!r} has no "
                          f"effect with train.mode='full' (every step uses "
                          f"the whole graph); set train.mode=sampled to "
                          f"sample neighbours", stacklevel=2)
        name, _, k = self.valid_metric.partition('@')
        if name not in METRIC_NAMES or not k.isdigit() or int(
                k) not in self.ks:
            raise ConfigError(
                f"train.valid_metric must be '<Metric>@K' with Metric in "
                f"{list(METRIC_NAMES)} and K in train.ks {self.ks} "
                f"(got '{self.valid_metric}')")
        if self.negatives not in NEGATIVE_POOLS:
            raise ConfigError(f"train.negatives must be one of "
                              f"{list(NEGATIVE_POOLS)} (got "
                              f"'{self.negatives}')")

    @classmethod
    def from_dict(cls, cfg: Dict[str, Any]) -> 'TrainConfig':
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(cfg) - known)
        if unknown:
            raise ConfigError(f"unknown train key(s) {unknown}; accepted: "
                             f"{sorted(known)}")
        return cls(**cfg)


@dataclass
class TrainResult:
    best_epoch: int
    epochs: int
    valid: Dict[str, float]
    test: Dict[str, float]
    train_seconds: float
    history: List[Dict[str, Any]]
    stopped_early: bool


def seed_everything(seed: int) -> None:
    r"""Seeds Python, NumPy and torch (model initialisation) with
    :func:`torch_geometric.seed_everything` (NumPy takes seeds below
    :math:`2^{32}`, hence the modulo)."""
    torch_geometric.seed_everything(seed % 2**32)


def epoch_seed(seed: int, epoch: int) -> int:
    r"""The seed of epoch :obj:`epoch`'s sampling and dropout: a function of
    (seed, epoch) only, so that a resumed run draws what the uninterrupted
    one drew."""
    return (seed * 1_000_003 + epoch * 7_919) % (2**63 - 1)


def learning_rate(config: TrainConfig, epoch: int) -> float:
    r"""The learning rate of epoch :obj:`epoch` (from 1),
    :math:`\mathrm{lr} \cdot \mathrm{lr\_decay}^{(t-1) /
    \mathrm{lr\_decay\_step}}`: the reference toolbox's ``LambdaLR``
    factor, stepped once per epoch. A function of the epoch only, so a resumed
    run trains with the rates of the uninterrupted one."""
    return config.lr * config.lr_decay ** ((epoch - 1) / config.lr_decay_step)


def make_adam(params: Iterable[torch.nn.Parameter], lr: float,
              weight_decay: float = 0.0) -> torch.optim.Adam:
    r"""Adam with the fused single-kernel update where torch has one for
    the parameters' device and dtype (CPU and CUDA floating point): the same
    update rule as the per-tensor loop, about 2.5x cheaper per step here."""
    params = list(params)
    fused = bool(params) and all(
        p.is_floating_point() and p.device.type in ('cpu', 'cuda')
        for p in params)
    return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay,
                            fused=fused or None)


class Trainer:
    r"""Trains a :class:`~lirdrec_pyg.models.Recommender` with BPR triples,
    Adam, full-ranking validation every :obj:`eval_every` epochs and early
    stopping; reports the test metrics of the best validation epoch.

    With :obj:`out_dir`, a checkpoint is written atomically after every epoch
    and :obj:`resume=True` continues from it to the same result an
    uninterrupted run gives.

    Launched by ``torchrun`` with several processes, the trainer joins the
    process group, asks the model to :meth:`~Recommender.shard` its work,
    gives every process its block of each batch, sums the gradients, splits
    the evaluation by users, and lets only rank 0 write and log (see
    :mod:`lirdrec_pyg.distributed`).

    Args:
        model (Recommender): The model (built from :obj:`data`).
        data (HeteroData): The dataset with train/valid/test edges.
        config (TrainConfig): The settings.
        out_dir (str or Path, optional): Where checkpoints go.
        resume (bool): Continue from :obj:`out_dir`'s checkpoint if any.
        log (callable, optional): Receives one line per evaluation
            (default: the ``lirdrec_pyg`` logger).
    """
    def __init__(self, model: Recommender, data: HeteroData,
                 config: Optional[TrainConfig] = None,
                 out_dir: Optional[Union[str, Path]] = None,
                 resume: bool = False,
                 log: Optional[Callable[[str], None]] = None) -> None:
        self.config = config or TrainConfig()
        self.device = resolve_device(self.config.device)
        self.model = model.to(self.device)
        self.sharding = self._shard(self.model)
        self.is_main = self.sharding.rank == 0
        self.data = data
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.resume = resume
        log = log or logging.getLogger('lirdrec_pyg').info
        self.log = log if self.is_main else _no_log
        ks = self.config.ks
        bs = self.config.eval_batch_size
        self.valid_evaluator = FullRankingEvaluator.from_data(
            data, 'valid', ks=ks, batch_size=bs)
        self.test_evaluator = FullRankingEvaluator.from_data(
            data, 'test', ks=ks, batch_size=bs)
        self.subgraph_sampler = None
        if self.config.mode == 'sampled' and self.model.trainable:
            check_subgraph_support(self.model)
            if self.sharding.world_size > 1:
                raise ValueError("train.mode='sampled' runs in one process "
                                 "only; use train.mode='full' under torchrun")

    def _shard(self, model: Recommender) -> Sharding:
        r"""Joins ``torchrun``'s process group if there is one, and shards
        :obj:`model` over it (one process: a trivial sharding, no change)."""
        init_process_group(self.device)
        sharding = Sharding.from_process_group(model.num_users,
                                               model.num_items)
        if sharding.world_size > 1:
            model.shard(sharding)
            sharding.broadcast_state(model)
        return sharding

    def evaluate(self, evaluator: FullRankingEvaluator) -> Dict[str, float]:
        r"""The metrics of :obj:`evaluator`'s split; with several processes
        each scores its block of users and the sums are added up."""
        self.model.eval()
        state = self.model.inference()

        def score(users: torch.Tensor) -> torch.Tensor:
            return self.model.score(state, users.to(self.device))

        if self.sharding.world_size == 1:
            return evaluator.evaluate(score)
        start, end = self.sharding.local_range(evaluator.users.numel())
        acc = evaluator.accumulate(score, start, end)
        acc.all_reduce_(self.sharding.all_reduce_, device=self.device)
        return acc.compute()

    def make_optimizer(self) -> Any:
        r"""Adam over the model's parameters; with several processes a
        :class:`~lirdrec_pyg.distributed.ShardedAdam`, which sums the shared
        parameters' gradients over the processes in :meth:`step` and
        updates the rows of per-user tables on their owner only. With
        ``mode: sampled``, the sampled mode's optimiser (and the subgraph
        sampler on the model's device)."""
        cfg = self.config
        if cfg.mode == 'sampled' and self.model.trainable:
            self.subgraph_sampler = make_subgraph_sampler(
                self.model, self.data, cfg.num_neighbors)
            return make_sampled_optimizer(self.model, cfg.lr,
                                          cfg.weight_decay)
        if self.sharding.world_size == 1:
            return make_adam(self.model.parameters(), cfg.lr,
                             cfg.weight_decay)
        return ShardedAdam(
            list(self.model.named_parameters()),
            self.model.owned_parameters(), self.sharding,
            lambda params: make_adam(params, cfg.lr, cfg.weight_decay))

    def _checkpoint(self, state: Dict[str, Any]) -> None:
        if self.out_dir is not None and self.is_main:
            atomic_torch_save(self.out_dir / CHECKPOINT, state)

    def _train_epoch(self, epoch: int, sampler: BPRSampler,
                     optimizer: torch.optim.Optimizer) -> float:
        seed = epoch_seed(self.config.seed, epoch)
        for group in optimizer.param_groups:
            group['lr'] = learning_rate(self.config, epoch)
        torch.manual_seed(seed)  # dropout and other in-model randomness
        generator = torch.Generator(sampler.key.device).manual_seed(seed)
        self.model.train()
        self.model.on_epoch_start(epoch)
        users, pos, neg = sampler.sample(generator)
        users, pos, neg = (users.to(self.device), pos.to(self.device),
                           neg.to(self.device))
        bs = self.config.batch_size
        num_batches = math.ceil(users.numel() / bs)
        # Summed on the device: no host synchronisation inside the epoch.
        total = torch.zeros((), dtype=torch.float64, device=self.device)
        first_bad = torch.full((), num_batches, device=self.device)
        for b in range(num_batches):
            sl = slice(b * bs, (b + 1) * bs)
            if self.subgraph_sampler is not None:
                loss = subgraph_batch_loss(self.model, self.subgraph_sampler,
                                           users[sl], pos[sl], neg[sl])
            else:
                loss = self.model.loss(*self._batch(users[sl], pos[sl],
                                                    neg[sl]))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss = loss.detach()
            total += loss
            first_bad = torch.where(torch.isfinite(loss) | (first_bad < b),
                                    first_bad, b)
        self.model.on_epoch_end(epoch)
        return self._epoch_loss(epoch, total, first_bad, num_batches)

    def _batch(self, users: torch.Tensor, pos: torch.Tensor,
               neg: torch.Tensor) -> Any:
        if self.sharding.world_size == 1:
            return users, pos, neg
        return self.sharding.split_batch(users, pos, neg)

    def _epoch_loss(self, epoch: int, total: torch.Tensor,
                    first_bad: torch.Tensor, num_batches: int) -> float:
        r"""The mean batch loss of the epoch (the processes' shares added
        up), or a :class:`FloatingPointError` naming the first batch whose
        loss was not finite."""
        stats = torch.stack([total, (first_bad - num_batches).double()])
        # The sum of (first_bad - num_batches) is negative iff some process
        # saw a non-finite share; every process then raises the same error.
        stats = self.sharding.all_reduce_(stats).tolist()
        if not math.isfinite(stats[0]) or stats[1] < 0:
            batch = int(first_bad) if int(first_bad) < num_batches else '?'
            raise FloatingPointError(
                f"loss became {stats[0]} at epoch {epoch}, batch {batch}; "
                f"lower train.lr or check the features for extreme values")
        return stats[0] / max(num_batches, 1)

    def _restore_best(self) -> None:
        r"""Leaves the model at its best validation epoch."""
        best = getattr(self, 'best_state', None)
        if best is None and self.out_dir is not None and (
                self.out_dir / BEST_MODEL).exists():
            best = safe_torch_load(self.out_dir / BEST_MODEL, self.device)
        if best is not None:
            self.model.load_state_dict(best)

    def fit(self) -> TrainResult:
        cfg = self.config
        torch.set_num_threads(cfg.threads)
        metric = cfg.valid_metric
        if not self.model.trainable:
            start = time.perf_counter()
            valid = self.evaluate(self.valid_evaluator)
            test = self.evaluate(self.test_evaluator)
            self.log(f'epoch 0 | valid {metric} {valid[metric]:.4f}')
            return TrainResult(0, 0, valid, test,
                               time.perf_counter() - start, [], False)

        # Losses that divide by the nominal batch size, as the toolbox does.
        self.model.batch_size = cfg.batch_size
        edge_index = train_edge_index(self.data)
        sampler = BPRSampler(edge_index.to(self.device),
                             self.model.num_users, self.model.num_items,
                             negative_items=negative_pool(self.data,
                                                          cfg.negatives))
        optimizer = self.make_optimizer()
        state: Dict[str, Any] = dict(epoch=0, best_score=-math.inf,
                                     best_epoch=0, valid={}, test={},
                                     bad_evals=0, history=[],
                                     train_seconds=0.0, stopped=False)
        ckpt = self.out_dir / CHECKPOINT if self.out_dir else None
        if self.resume and ckpt is not None and ckpt.exists():
            saved = safe_torch_load(ckpt, self.device,
                                    keys=('model', 'model_extra',
                                          'optimizer', 'trainer'))
            try:
                self.model.load_state_dict(saved['model'])
                self.model.load_extra_state_from_checkpoint(
                    saved['model_extra'])
                optimizer.load_state_dict(saved['optimizer'])
            except (RuntimeError, KeyError, ValueError) as e:
                raise CheckpointError(
                    f"checkpoint '{ckpt}' does not fit this model "
                    f"({type(self.model).__name__}): "
                    f"{str(e).splitlines()[0]}") from None
            state = saved['trainer']
            if state['epoch'] > cfg.epochs:
                # Its results would come from epochs the config excludes.
                raise CheckpointError(
                    f"checkpoint '{ckpt}' has trained {state['epoch']} "
                    f"epochs, more than train.epochs={cfg.epochs}; resume "
                    f"with train.epochs >= {state['epoch']}")
            self.log(f"resumed from {ckpt} at epoch {state['epoch']}")

        bar = None
        if cfg.progress and self.is_main:
            from tqdm.auto import tqdm
            bar = tqdm(total=cfg.epochs, initial=state['epoch'],
                       desc=type(self.model).__name__, unit='epoch',
                       dynamic_ncols=True,
                       # On a terminal only: piped into a file, a bar's
                       # redraws would fill it.
                       disable=None)
        epoch = state['epoch']
        while epoch < cfg.epochs and not state['stopped']:
            epoch += 1
            start = time.perf_counter()
            loss = self._train_epoch(epoch, sampler, optimizer)
            seconds = time.perf_counter() - start
            state['train_seconds'] += seconds
            record: Dict[str, Any] = dict(epoch=epoch, loss=loss,
                                          seconds=seconds)
            if epoch % cfg.eval_every == 0 or epoch == cfg.epochs:
                valid = self.evaluate(self.valid_evaluator)
                record['valid'] = valid
                if valid[metric] > state['best_score']:
                    state.update(best_score=valid[metric], best_epoch=epoch,
                                 valid=valid, bad_evals=0,
                                 test=self.evaluate(self.test_evaluator))
                    self.best_state = {
                        k: v.detach().clone()
                        for k, v in self.model.state_dict().items()}
                    if self.out_dir is not None and self.is_main:
                        atomic_torch_save(self.out_dir / BEST_MODEL,
                                          self.best_state)
                else:
                    state['bad_evals'] += 1
                state['stopped'] = state['bad_evals'] >= cfg.patience
                self.log(f"epoch {epoch} | loss {loss:.4f} | valid {metric} "
                         f"{valid[metric]:.4f} | best {state['best_score']:.4f}"
                         f" @ {state['best_epoch']} | "
                         f"{time.perf_counter() - start:.2f}s")
            state['history'].append(record)
            state['epoch'] = epoch
            self._checkpoint(dict(
                model=self.model.state_dict(),
                model_extra=self.model.extra_state_for_checkpoint(),
                optimizer=optimizer.state_dict(), trainer=state))
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f'{loss:.4f}',
                                best=f"{state['best_score']:.4f}")
        if bar is not None:
            bar.close()
        self._restore_best()
        return TrainResult(state['best_epoch'], state['epoch'], state['valid'],
                           state['test'], state['train_seconds'],
                           state['history'], state['stopped'])


def _no_log(line: str) -> None:
    r"""The log of processes other than rank 0."""


def result_to_dict(result: TrainResult) -> Dict[str, Any]:
    out = asdict(result)
    out.pop('history')
    return out

