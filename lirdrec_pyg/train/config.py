"""Experiment configuration: YAML files, per-dataset overrides, ``--set``.

A configuration has the sections ``model`` (constructor keyword arguments),
``train`` (:class:`~lirdrec_pyg.train.TrainConfig` fields), ``data``
(keyword arguments of the dataset reader) and ``eval`` (extra protocols),
plus an optional ``search`` section that documents a reference grid and is
not read by training. Later sources win: ``configs/models/<model>.yaml``,
then ``configs/datasets/<dataset>.yaml`` (its ``data`` section and its
``models.<model>`` overrides; only for the registered dataset it was written
for), then a user file, then ``--set`` pairs.

:func:`load_config` returns the *effective* configuration: every value the
run uses, defaults included, each checked for type and range before any data
is loaded, and a ``run`` section naming the model, the dataset (name, path,
the dataset config applied) and the seed. The configs ship inside the package
(``lirdrec_pyg/configs``, read through :mod:`importlib.resources`), so an
installed package resolves them exactly as a checkout does.
"""
import copy
import os
import importlib.resources
import inspect
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any, Dict, Iterable, Optional, Union

import yaml

from lirdrec_pyg.train.schema import ConfigError, check_kwargs
from lirdrec_pyg.train.trainer import TrainConfig

SECTIONS = ('model', 'train', 'data', 'eval', 'search')
MAX_EPOCHS_ENV = 'LIRDREC_MAX_EPOCHS'
EVAL_KEYS = {'cold_item_fraction': 0.0}
#: Keys that may differ when a run is resumed (they do not change what the
#: run computes, or only extend it; a resume with another process count
#: gives the same results, see :class:`~lirdrec_pyg.train.Trainer`).
RESUMABLE_KEYS = ('train.epochs', 'train.threads', 'train.progress',
                  'train.eval_batch_size', 'train.device', 'run.processes')
# Reader parameters that are not dataset settings.
_NOT_DATA_KEYS = ('return_factors', )


def config_root() -> Path:
    r"""The folder of the shipped configs: :obj:`lirdrec_pyg/configs`
    (:obj:`models/<model>.yaml`, :obj:`datasets/<dataset>.yaml`)."""
    return Path(str(importlib.resources.files('lirdrec_pyg') / 'configs'))


def read_yaml(path: Union[str, Path]) -> Dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file '{path}' does not exist")
    try:
        with open(path) as f:
            cfg = yaml.safe_load(f) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, 'problem_mark', None)
        where = f', line {mark.line + 1}' if mark is not None else ''
        problem = getattr(e, 'problem', None) or 'cannot be parsed'
        raise ConfigError(f"config file '{path}'{where} is not valid YAML: "
                          f"{problem}") from None
    if not isinstance(cfg, dict):
        raise ConfigError(f"config file '{path}' must hold a mapping of "
                          f"sections {SECTIONS} (got {type(cfg).__name__})")
    # 'run' is what a run folder's config.yaml records; it is not read back.
    unknown = sorted(set(cfg) - set(SECTIONS) - {'models', 'run'})
    if unknown:
        raise ConfigError(f"config file '{path}' has unknown section(s) "
                          f"{unknown}; expected some of {SECTIONS}")
    for section in SECTIONS:
        if cfg.get(section) is not None and not isinstance(cfg[section],
                                                           dict):
            raise ConfigError(f"config file '{path}': section '{section}' "
                              f"must be a mapping (got "
                              f"{type(cfg[section]).__name__})")
    return cfg


def _merge(base: Dict[str, Any], other: Dict[str, Any]) -> Dict[str, Any]:
    out = copy.deepcopy(base)
    for section, values in other.items():
        if section in ('models', 'run') or values is None:
            continue
        if not isinstance(values, dict):
            raise ConfigError(f"config section '{section}' must be a "
                              f"mapping")
        out.setdefault(section, {}).update(copy.deepcopy(values))
    return out


def parse_value(raw: str) -> Any:
    r"""A ``--set`` value as YAML, reading ``1e-4`` as a float (YAML 1.1
    wants ``1.0e-4``)."""
    if raw == '':
        return None
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw  # kept as text; the type check names the key
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def parse_set(pairs: Iterable[str], model_keys: Iterable[str]) -> Dict[str,
                                                                     Any]:
    r"""Turns ``['train.lr=1e-4', 'num_layers=3']`` into a partial config.

    A key without a section is looked up among the model's hyper-parameters,
    the train keys and the eval keys; unknown or ambiguous keys are errors.
    """
    train_keys = {f.name for f in fields(TrainConfig)}
    model_keys = set(model_keys)
    out: Dict[str, Dict[str, Any]] = {}
    for pair in pairs:
        if '=' not in pair:
            raise ConfigError(f"--set expects key=value (got '{pair}')")
        key, raw = pair.split('=', 1)
        value = parse_value(raw)
        if '.' in key:
            section, name = key.split('.', 1)
            if section not in SECTIONS:
                raise ConfigError(f"--set '{key}': unknown section "
                                  f"'{section}'; expected one of {SECTIONS}")
        else:
            homes = [s for s, keys in (('model', model_keys),
                                       ('train', train_keys),
                                       ('eval', set(EVAL_KEYS)))
                     if key in keys]
            if not homes:
                raise ConfigError(
                    f"--set '{key}': unknown key; model keys: "
                    f"{sorted(model_keys)}, train keys: "
                    f"{sorted(train_keys)}, eval keys: {sorted(EVAL_KEYS)}")
            if len(homes) > 1:
                raise ConfigError(
                    f"--set '{key}' is ambiguous: write "
                    f"{' or '.join(h + '.' + key for h in homes)}")
            section, name = homes[0], key
        out.setdefault(section, {})[name] = value
    return out


def _plain(value: Any) -> Any:
    r"""YAML/JSON-friendly copy (tuples become lists)."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _defaults(function: Any, skip: Iterable[str]) -> Dict[str, Any]:
    skip = set(skip)
    return {name: _plain(p.default)
            for name, p in inspect.signature(function).parameters.items()
            if name not in skip and p.default is not p.empty
            and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def effective_config(model: str, spec: Any, cfg: Dict[str, Any]
                     ) -> Dict[str, Any]:
    r"""Checks every section of :obj:`cfg` for :obj:`model` on the resolved
    dataset :obj:`spec` (:class:`~lirdrec_pyg.data.datasets.DatasetSpec`;
    :obj:`None`: the ``data`` section is kept as given) and fills in the
    defaults, so that the result holds every value the run uses. Raises
    :class:`~lirdrec_pyg.train.schema.ConfigError` naming the key for any
    unknown key, wrong type or value out of range."""
    from lirdrec_pyg.models import get_model_class

    cls = get_model_class(model)
    model_cfg = check_kwargs('model', cfg.get('model') or {}, cls.__init__,
                             what=f"model '{model}'")
    train_cfg = asdict(TrainConfig.from_dict(dict(cfg.get('train') or {})))
    if spec is not None:
        skip = ('self', *spec.fixed, *_NOT_DATA_KEYS)
        data_cfg = {**_defaults(spec.reader, skip), **_plain(check_kwargs(
            'data', cfg.get('data') or {}, spec.reader, skip=skip,
            what=f"dataset '{spec.name}'"))}
    else:
        data_cfg = dict(cfg.get('data') or {})
    eval_in = dict(cfg.get('eval') or {})
    unknown = sorted(set(eval_in) - set(EVAL_KEYS))
    if unknown:
        raise ConfigError(f"unknown eval key(s) {unknown}; accepted: "
                          f"{sorted(EVAL_KEYS)}")
    eval_cfg = dict(EVAL_KEYS)
    eval_cfg.update(eval_in)
    fraction = eval_cfg['cold_item_fraction']
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) \
            or not 0.0 <= fraction < 1.0:
        raise ConfigError(f"eval.cold_item_fraction must be a number in "
                          f"[0, 1) (got {fraction!r})")
    eval_cfg['cold_item_fraction'] = float(fraction)
    return {
        'model': {**_defaults(cls.__init__, ('self', 'data')), **model_cfg},
        'train': _plain(train_cfg),
        'data': data_cfg,
        'eval': eval_cfg,
    }


def load_config(model: str, dataset: Optional[Union[str, Path]] = None,
                config_file: Optional[Union[str, Path]] = None,
                overrides: Iterable[str] = (),
                root: Optional[Path] = None) -> Dict[str, Any]:
    r"""Assembles and checks the effective configuration of :obj:`model` on
    :obj:`dataset` (a registered name, a folder name under the data root or
    a folder path; see :func:`~lirdrec_pyg.data.datasets.resolve_dataset`).

    Returns the sections ``model``, ``train``, ``data`` and ``eval`` with
    every value the run uses, and ``run`` with the model name, the dataset
    name and path, the dataset config applied (or :obj:`None`) and the seed.
    Nothing is loaded: a mistake is reported before any data is read.
    """
    from lirdrec_pyg.data.datasets import resolve_dataset
    from lirdrec_pyg.models import get_model_class, model_hyperparameters

    get_model_class(model)  # an unknown model is the first error
    root = root or config_root()
    cfg: Dict[str, Any] = {s: {} for s in ('model', 'train', 'data', 'eval')}
    model_file = root / 'models' / f'{model}.yaml'
    if model_file.exists():
        cfg = _merge(cfg, read_yaml(model_file))
    spec = resolve_dataset(dataset) if dataset is not None else None
    dataset_config = None
    dataset_file = root / 'datasets' / f'{spec.name if spec else ""}.yaml'
    # A dataset's settings apply to that dataset only, never to another
    # folder that happens to share its name.
    if spec is not None and spec.registered and dataset_file.exists():
        dcfg = read_yaml(dataset_file)
        cfg = _merge(cfg, {'data': dcfg.get('data') or {}})
        per_model = (dcfg.get('models') or {}).get(model) or {}
        cfg = _merge(cfg, per_model)
        dataset_config = f'configs/datasets/{spec.name}.yaml'
    if config_file is not None:
        user = read_yaml(config_file)
        cfg = _merge(cfg, user)
        per_model = (user.get('models') or {}).get(model) or {}
        cfg = _merge(cfg, per_model)
    cfg = _merge(cfg, parse_set(overrides, model_hyperparameters(model)))
    cfg.pop('search', None)
    out = effective_config(model, spec, cfg)
    out['run'] = {
        'model': model,
        'dataset': spec.name if spec else None,
        'dataset_path': (str(spec.path.resolve()) if spec and spec.path
                         else None),
        'dataset_config': dataset_config,
        'config_file': str(config_file) if config_file is not None else None,
        'seed': out['train']['seed'],
    }
    return cap_epochs(out)


def cap_epochs(cfg: Dict[str, Any]) -> Dict[str, Any]:
    r"""Lowers :obj:`train.epochs` to :obj:`$LIRDREC_MAX_EPOCHS` if that is
    set: a smoke test of a command (the docs tests run every documented
    ``lirdrec train`` and benchmark command this way) without editing it. The
    capped value is what the run records in its config."""
    raw = os.environ.get(MAX_EPOCHS_ENV)
    if not raw:
        return cfg
    if not raw.isdigit() or int(raw) <= 0:
        raise ValueError(f"{MAX_EPOCHS_ENV} must be a positive integer "
                         f"(got {raw!r})")
    cfg['train']['epochs'] = min(int(cfg['train']['epochs']), int(raw))
    return cfg


def config_differences(old: Dict[str, Any], new: Dict[str, Any],
                       sections: Iterable[str] = ('run', 'model', 'train',
                                                  'data', 'eval')
                       ) -> Dict[str, Any]:
    r"""The keys :obj:`section.key` whose values differ between two
    configurations, with :obj:`(old, new)` values."""
    out = {}
    for section in sections:
        a, b = old.get(section) or {}, new.get(section) or {}
        for key in sorted(set(a) | set(b)):
            if section == 'run' and key == 'config_file':
                continue
            if a.get(key, '<unset>') != b.get(key, '<unset>'):
                out[f'{section}.{key}'] = (a.get(key, '<unset>'),
                                           b.get(key, '<unset>'))
    return out
