"""One experiment end to end: dataset + model + config -> results.json."""
import contextlib
import logging
import os
import platform
import sys
import warnings
from pathlib import Path
from typing import (Any, Callable, Dict, Iterator, List, Optional, Set,
                    Union)

import numpy as np
import torch
import torch_geometric

import lirdrec_pyg
from lirdrec_pyg.data import load_dataset
from lirdrec_pyg.data.datasets import resolve_dataset
from lirdrec_pyg.distributed import (init_process_group, is_main_process,
                                    resolve_device)
from lirdrec_pyg.io import atomic_write
from lirdrec_pyg.models import create_model
from lirdrec_pyg.train.config import effective_config
from lirdrec_pyg.train.io import atomic_write_json
from lirdrec_pyg.train.run_folder import RESULTS, RunFolder, RunFolderError
from lirdrec_pyg.train.trainer import TrainConfig, Trainer, seed_everything

#: Per-user test metrics (``per_user_test.npz``) and, under the cold-start
#: protocol, per-user metrics on the held-out items (``per_user_cold.npz``).
PER_USER = 'per_user_{}.npz'
PER_USER_METRICS = ('Recall', 'NDCG')


def versions() -> Dict[str, str]:
    r"""Versions of the software a result depends on."""
    from lirdrec_pyg.typing import WITH_TORCH_SPARSE
    out = {
        'lirdrec_pyg': lirdrec_pyg.__version__,
        'python': sys.version.split()[0],
        'torch': torch.__version__,
        'torch_geometric': torch_geometric.__version__,
        'numpy': np.__version__,
        'platform': platform.platform(),
    }
    if WITH_TORCH_SPARSE:
        import torch_sparse
        out['torch_sparse'] = torch_sparse.__version__
    return out


def compact_history(history: List[Dict[str, Any]],
                    digits: int = 6) -> List[Dict[str, Any]]:
    r"""The per-epoch records of a run (epoch, mean training loss, training
    seconds and, at evaluated epochs, the validation metrics), rounded for
    :obj:`results.json`; :func:`lirdrec_pyg.train.plots.plot_learning_curves`
    draws them."""
    out = []
    for record in history:
        row: Dict[str, Any] = {'epoch': record['epoch'],
                               'loss': round(float(record['loss']), digits)}
        if 'seconds' in record:
            row['seconds'] = round(float(record['seconds']), 3)
        if 'valid' in record:
            row['valid'] = {k: round(float(v), digits)
                            for k, v in record['valid'].items()}
        out.append(row)
    return out


def save_per_user(path: Union[str, Path], values: Dict[str, Any]) -> None:
    r"""Writes the user ids and per-user Recall/NDCG of
    :meth:`~lirdrec_pyg.train.FullRankingEvaluator.evaluate_per_user`
    atomically as a ``.npz`` of plain arrays."""
    arrays = {key: value.cpu().numpy() for key, value in values.items()
              if key == 'user' or key.split('@')[0] in PER_USER_METRICS}
    atomic_write(path, lambda f: np.savez(f, **arrays))


def load_per_user(path: Union[str, Path]) -> Dict[str, np.ndarray]:
    r"""Reads what :func:`save_per_user` wrote (plain arrays only: no
    pickled objects are accepted)."""
    with np.load(path, allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}


def _file_logger(path: Path) -> Callable[[str], None]:
    logger = logging.getLogger(f'lirdrec_pyg.run.{path}')
    logger.setLevel(logging.INFO)
    logger.propagate = False
    for handler in list(logger.handlers):  # a file an --overwrite removed
        logger.removeHandler(handler)
        handler.close()
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter('%(asctime)s %(message)s'))
    logger.addHandler(handler)
    return logger.info


def item_graph_weights(model: Any, data: Any,
                       model_cfg: Dict[str, Any]) -> Optional[Dict[str, float]]:
    r"""The modality weights of the item-item graph :obj:`model` uses
    (LIRDRec, FREEDOM, DRAGON...), or :obj:`None` for models without one."""
    weights = getattr(model, 'item_graph_weights', None)
    if weights:
        return dict(weights)
    if 'modality_weights' not in model_cfg or not getattr(
            data, 'modalities', None):
        return None
    from lirdrec_pyg.transforms.knn_graph import ItemKNNGraph
    return ItemKNNGraph(modality_weights=model_cfg['modality_weights'],
                        modalities=model_cfg.get('modalities')
                        ).resolve_weights(data)


def complete_config(dataset: Union[str, Path], model: str,
                    config: Dict[str, Any]) -> Dict[str, Any]:
    r"""The effective configuration of :obj:`config` (checked, defaults
    filled in, with its ``run`` section), for configurations not made by
    :func:`~lirdrec_pyg.train.config.load_config`."""
    if config.get('run', {}).get('model') == model and all(
            s in config for s in ('model', 'train', 'data', 'eval')):
        return config
    spec = resolve_dataset(dataset)
    out = effective_config(model, spec, config)
    out['run'] = {
        'model': model, 'dataset': spec.name,
        'dataset_path': str(spec.path.resolve()) if spec.path else None,
        'dataset_config': None, 'config_file': None,
        'seed': out['train']['seed']}
    return out


def run_experiment(dataset: Union[str, Path], model: str,
                   config: Dict[str, Any],
                   out_dir: Optional[Union[str, Path]] = None,
                   resume: bool = False,
                   echo: Optional[Callable[[str], None]] = None,
                   data: Any = None, overwrite: bool = False
                   ) -> Dict[str, Any]:
    r"""Loads :obj:`dataset`, builds :obj:`model` with :obj:`config`
    (see :func:`~lirdrec_pyg.train.config.load_config`), trains it and
    returns (and, with :obj:`out_dir`, atomically writes) the results with
    the config, versions and thread count beside them.

    With :obj:`out_dir`, the folder is locked for the run, a folder holding
    another run is refused unless :obj:`overwrite` (or :obj:`resume` with
    an unchanged configuration, see
    :class:`~lirdrec_pyg.train.run_folder.RunFolder`), and
    :obj:`config.yaml` records the effective configuration.

    Under ``torchrun`` every process runs this function; they train one
    model together (see :class:`~lirdrec_pyg.train.Trainer`) and only rank 0
    locks and writes :obj:`out_dir` and echoes the log."""
    with recording() as record:
        return _run_experiment(dataset, model, config, out_dir, resume,
                               echo, data, overwrite, record)


def _run_experiment(dataset: Union[str, Path], model: str,
                    config: Dict[str, Any],
                    out_dir: Optional[Union[str, Path]], resume: bool,
                    echo: Optional[Callable[[str], None]], data: Any,
                    overwrite: bool, record: '_RunRecord') -> Dict[str, Any]:
    config = complete_config(dataset, model, config)
    train_cfg = TrainConfig.from_dict(dict(config.get('train') or {}))
    check_model_setup(model, train_cfg.mode,
                      int(os.environ.get('WORLD_SIZE', '1')))
    init_process_group(resolve_device(train_cfg.device))
    config = {**config, 'run': {**(config.get('run') or {}),
                                'processes': _world_size()}}
    out = Path(out_dir) if out_dir is not None else None
    if out is None:
        return _run(dataset, model, config, None, resume, echo, data, record)
    if not is_main_process():
        # Rank 0 checks the folder; the others follow its verdict.
        if _agree(None) is not None:
            raise RunFolderError('rank 0 refused the run folder')
        return _run(dataset, model, config, out, resume, None, data, record)
    with RunFolder(out) as folder:
        try:
            config = folder.prepare(config, resume=resume,
                                    overwrite=overwrite)
        except RunFolderError as error:
            _agree(str(error))
            raise
        _agree(None)
        return _run(dataset, model, config, folder.path, resume, echo, data,
                    record)


def check_model_setup(model: str, mode: str, world_size: int) -> None:
    r"""Refuses, before any data is loaded, a model that cannot run in
    :obj:`mode` (``train.mode``) or in :obj:`world_size` processes (the
    same checks the trainer makes once the model is built)."""
    from lirdrec_pyg.models import get_model_class
    from lirdrec_pyg.train.sampled import check_subgraph_support
    cls = get_model_class(model)
    if mode == 'sampled' and cls.trainable:
        check_subgraph_support(cls)
        if world_size > 1:
            raise ValueError("train.mode='sampled' runs in one process "
                             "only; launch it without torchrun or with "
                             "--nproc_per_node 1")
    if world_size > 1 and not getattr(cls, 'shardable', False):
        raise ValueError(f"model {cls.__name__} runs in one process only "
                         f"(it has no sharded forward pass); launch it "
                         f"without torchrun or with --nproc_per_node 1")


def _agree(error: Optional[str]) -> Optional[str]:
    r"""Rank 0's verdict on the run folder, shared with every rank (no-op
    in one process)."""
    import torch.distributed as dist
    if not dist.is_initialized() or dist.get_world_size() == 1:
        return error
    box = [error]
    dist.broadcast_object_list(box, src=0)
    return box[0]


class _RunRecord:
    r"""The warnings and the error of a run, for its :obj:`train.log`:
    kept until the run's folder is ready (a run refused before it has none),
    written to its log after."""
    def __init__(self) -> None:
        self.pending: List[str] = []
        self.file_log: Optional[Callable[[str], None]] = None
        self.shown: Set[str] = set()

    def write(self, line: str) -> None:
        if self.file_log is not None:
            self.file_log(line)
        else:
            self.pending.append(line)

    def attach(self, file_log: Callable[[str], None]) -> None:
        self.file_log = file_log
        for line in self.pending:
            file_log(line)
        self.pending = []


_ACTIVE_RECORD: Optional[_RunRecord] = None


@contextlib.contextmanager
def recording() -> Iterator[_RunRecord]:
    r"""The context of one run: each warning is shown once (a setting
    checked twice warns once) and recorded, with the error that stops the
    run, for the run's :obj:`train.log`, so that a run folder says why a
    run left no results. :func:`run_experiment` opens one; a caller that
    checks the configuration first (the CLI) opens it around both, so that
    the warnings of its checks reach the log too."""
    global _ACTIVE_RECORD
    if _ACTIVE_RECORD is not None:  # the caller's
        yield _ACTIVE_RECORD
        return
    record = _ACTIVE_RECORD = _RunRecord()
    show = warnings.showwarning

    def show_once(message: Any, *args: Any, **kwargs: Any) -> None:
        if str(message) in record.shown:
            return
        record.shown.add(str(message))
        record.write(f'warning: {message}')
        show(message, *args, **kwargs)

    warnings.showwarning = show_once
    try:
        yield record
    except KeyboardInterrupt:
        record.write('stopped: interrupted')
        raise
    except Exception as error:
        record.write(f'error: {error}')
        raise
    finally:
        warnings.showwarning = show
        _ACTIVE_RECORD = None


def _run(dataset: Union[str, Path], model: str, config: Dict[str, Any],
         out: Optional[Path], resume: bool,
         echo: Optional[Callable[[str], None]], data: Any,
         record: _RunRecord) -> Dict[str, Any]:
    main = is_main_process()
    file_log = (_file_logger(out / 'train.log')
                if out is not None and main else None)
    if file_log is not None:
        record.attach(file_log)
    train_cfg = TrainConfig.from_dict(dict(config.get('train') or {}))
    torch.set_num_threads(train_cfg.threads)
    if data is None:
        data = load_dataset(dataset, **(config.get('data') or {}))
    eval_cfg = config.get('eval') or {}
    cold = None
    if eval_cfg.get('cold_item_fraction', 0.0) > 0:
        from lirdrec_pyg.data.cold_start import hold_out_items
        data, cold = hold_out_items(data, eval_cfg['cold_item_fraction'],
                                    seed=train_cfg.seed)

    def log(line: str) -> None:
        if echo is not None and main:
            echo(line)
        if file_log is not None:
            file_log(line)

    seed_everything(train_cfg.seed)
    recommender = create_model(model, data, **(config.get('model') or {}))
    weights = item_graph_weights(recommender, data, config.get('model') or {})
    if weights:
        # Which modality weighs what in the item graph is easy to get wrong
        # (the reference gives 0.9 to whatever sits in its text slot).
        log('item-graph modality weights: ' + ', '.join(
            f'{m} {w:g}' for m, w in weights.items()))
    trainer = Trainer(recommender, data, train_cfg, out_dir=out,
                      resume=resume, log=log)
    result = trainer.fit()
    results: Dict[str, Any] = {
        'dataset': config['run']['dataset'],
        'model': model,
        'seed': train_cfg.seed,
        'config': config,
        'best_epoch': result.best_epoch,
        'epochs': result.epochs,
        'valid': result.valid,
        'test': result.test,
        'train_seconds': round(result.train_seconds, 3),
        'versions': versions(),
        'threads': torch.get_num_threads(),
        'processes': _world_size(),
        'history': compact_history(result.history),
    }
    if weights:
        results['item_graph_weights'] = dict(weights)
    if cold is not None:
        from lirdrec_pyg.train.cold_start import evaluate_cold_items
        results['cold_start'] = evaluate_cold_items(recommender, data, cold,
                                                    ks=train_cfg.ks)
    if out is not None and main and _world_size() == 1:
        # The model is at its best validation epoch (Trainer.fit restores
        # it): these are the users behind results['test'].
        state = recommender.eval().inference()
        save_per_user(out / PER_USER.format('test'),
                      trainer.test_evaluator.evaluate_per_user(
                          lambda users: recommender.score(
                              state, users.to(trainer.device))))
        if cold is not None:
            from lirdrec_pyg.train.cold_start import \
                evaluate_cold_items_per_user
            save_per_user(out / PER_USER.format('cold'),
                          evaluate_cold_items_per_user(recommender, cold,
                                                       ks=train_cfg.ks))
    if out is not None and main:
        atomic_write_json(out / RESULTS, results)
    return results


def _world_size() -> int:
    import torch.distributed as dist
    return dist.get_world_size() if dist.is_initialized() else 1
