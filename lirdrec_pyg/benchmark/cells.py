"""Benchmark cells: one run of a model on a dataset with one resolved config
and one seed, cached by exactly that.

A cell lives in ``OUT/cells/<dataset>/<model>/<config hash>/seed<k>/`` (the
run folder of :func:`~lirdrec_pyg.train.experiment.run_experiment`). The
hash covers the whole resolved configuration (model, train, data and eval
sections, see :func:`config_hash`) except the seed, which names the
sub-folder, and the execution settings in :data:`EXECUTION_KEYS`, which do not
change what is computed. A changed setting therefore lands in a new folder
and runs; a finished cell is read back (``cached``); an interrupted one
resumes from its checkpoint.
"""
import copy
import hashlib
import json
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Dict, Optional

from lirdrec_pyg.io import atomic_write

#: ``train`` keys that change how a run executes, not what it computes.
EXECUTION_KEYS = ('threads', 'progress')

#: Cell statuses: ``ran`` and ``cached`` hold results; ``n/a`` means the
#: model cannot run on the dataset; ``failed`` holds the error.
STATUSES = ('ran', 'cached', 'n/a', 'failed')

ERROR_FILE = 'error.txt'


def _numbers_as_floats(value: Any) -> Any:
    # 2 and 2.0 (YAML and --set spell numbers either way) hash alike.
    if isinstance(value, dict):
        return {k: _numbers_as_floats(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_numbers_as_floats(v) for v in value]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return value


def canonical_config(config: Dict[str, Any], model: str) -> Dict[str, Any]:
    r"""What a run computes: :obj:`config` without the seed and the
    :data:`EXECUTION_KEYS`, and without model and train keys that equal
    their defaults (so that writing a default out, or a new key with a
    default, does not look like a change)."""
    import inspect

    from lirdrec_pyg.models import get_model_class
    from lirdrec_pyg.train.trainer import TrainConfig

    cfg = copy.deepcopy(config)
    # The 'run' record repeats the seed and names files; the sections hold
    # what is computed.
    cfg.pop('run', None)
    train = {k: v for k, v in (cfg.get('train') or {}).items()
             if k not in (*EXECUTION_KEYS, 'seed')}
    defaults = asdict(TrainConfig())
    cfg['train'] = {k: v for k, v in asdict(TrainConfig.from_dict(
        train)).items() if k in train and v != defaults[k]}
    params = inspect.signature(get_model_class(model).__init__).parameters
    cfg['model'] = {k: v for k, v in (cfg.get('model') or {}).items()
                    if k not in params or params[k].default is
                    inspect.Parameter.empty or v != params[k].default}
    return _numbers_as_floats(cfg)


def config_hash(config: Dict[str, Any], model: str) -> str:
    r"""A short hash of the canonical JSON of
    :func:`canonical_config`."""
    text = json.dumps(canonical_config(config, model), sort_keys=True,
                      separators=(',', ':'))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass
class Cell:
    r"""What a worker needs to run one cell (plain data, picklable)."""
    dataset: str
    model: str
    seed: int
    config: Dict[str, Any]
    key: str
    dir: str
    point: Optional[int] = None

    @property
    def label(self) -> str:
        point = '' if self.point is None else f' point {self.point}'
        return f'{self.dataset}/{self.model}{point} seed {self.seed}'


def make_cell(dataset: str, model: str, seed: int, config: Dict[str, Any],
              out: Path, threads: int = 1,
              point: Optional[int] = None) -> Cell:
    config = copy.deepcopy(config)
    config['train']['seed'] = seed
    config['train']['threads'] = threads
    key = config_hash(config, model)
    folder = Path(out) / 'cells' / dataset / model / key / f'seed{seed}'
    return Cell(dataset, model, seed, config, key, str(folder), point)


_DATA: Dict[str, Any] = {}


def _load_data(dataset: str, data_cfg: Dict[str, Any]) -> Any:
    # One dataset per process is kept: cells run dataset by dataset.
    from lirdrec_pyg.data import load_dataset
    key = json.dumps([dataset, data_cfg], sort_keys=True)
    if key not in _DATA:
        _DATA.clear()
        _DATA[key] = load_dataset(dataset, **data_cfg)
    return _DATA[key]


def _summary(results: Dict[str, Any]) -> Dict[str, Any]:
    valid_metric = results['config']['train'].get('valid_metric',
                                                  'Recall@20')
    out = {k: results.get(k) for k in ('valid', 'test', 'best_epoch',
                                       'epochs', 'train_seconds', 'threads',
                                       'versions')}
    if 'cold_start' in results:
        out['cold_start'] = results['cold_start']
    out['valid_curve'] = [[h['epoch'], h['valid'][valid_metric]]
                          for h in results.get('history') or []
                          if 'valid' in h and valid_metric in h['valid']]
    return out


def read_cached(cell: Cell) -> Optional[Dict[str, Any]]:
    r"""The record of a finished cell, or :obj:`None`."""
    from lirdrec_pyg.train.experiment import RESULTS
    path = Path(cell.dir) / RESULTS
    if not path.exists():
        return None
    # The folder name is the configuration's hash: what it holds ran it.
    results = json.loads(path.read_text())
    return {**_record(cell, 'cached', 0.0), **_summary(results)}


def _record(cell: Cell, status: str, seconds: float) -> Dict[str, Any]:
    return {'dataset': cell.dataset, 'model': cell.model, 'seed': cell.seed,
            'point': cell.point, 'key': cell.key, 'dir': cell.dir,
            'status': status, 'seconds': round(seconds, 3)}


def run_cell(cell: Cell, progress: bool = False) -> Dict[str, Any]:
    r"""Runs (or reads back) one cell and returns its record: the status,
    the wall seconds, and for a result the valid / test (/ cold-start)
    metrics, best epoch, train seconds, threads, versions and validation
    curve. A model that cannot run on the dataset or in its
    ``train.mode`` gives ``n/a`` with the reason, decided before any
    training; any other
    error gives ``failed`` with the error, its traceback in ``error.txt``.
    :class:`KeyboardInterrupt` propagates (the cell resumes next time)."""
    from lirdrec_pyg.models.base import MissingModalitiesError
    from lirdrec_pyg.train.experiment import check_model_setup, \
        run_experiment

    start = time.perf_counter()
    try:
        cached = read_cached(cell)
        if cached is not None:
            return cached
        try:
            # A model that cannot run in this training mode is n/a like one
            # that lacks the dataset's modalities (a cell runs in one
            # process).
            check_model_setup(cell.model,
                              cell.config['train'].get('mode', 'full'), 1)
        except ValueError as e:
            return {**_record(cell, 'n/a', time.perf_counter() - start),
                    'reason': str(e)}
        data = _load_data(cell.dataset, cell.config.get('data') or {})
        config = copy.deepcopy(cell.config)
        config['train']['progress'] = progress
        results = run_experiment(cell.dataset, cell.model, config,
                                 out_dir=cell.dir, resume=True, data=data)
    except MissingModalitiesError as e:
        return {**_record(cell, 'n/a', time.perf_counter() - start),
                'reason': str(e)}
    except Exception as e:  # noqa: BLE001 -- recorded, the table goes on
        text = traceback.format_exc()
        try:
            atomic_write(Path(cell.dir) / ERROR_FILE, lambda f: f.write(text),
                         'w')
        except OSError:
            pass
        return {**_record(cell, 'failed', time.perf_counter() - start),
                'error': f'{type(e).__name__}: {e}'}
    return {**_record(cell, 'ran', time.perf_counter() - start),
            **_summary(results)}
