"""Experiment configuration: YAML files, per-dataset overrides, ``--set``.

A configuration has the sections ``model`` (constructor keyword arguments),
``train`` (:class:`~lirdrec_pyg.train.TrainConfig` fields), ``data``
(keyword arguments of the dataset loader) and ``eval`` (extra protocols),
plus an optional ``search`` section that documents a reference grid and is
not read by training. Later sources win: ``configs/models/<model>.yaml``,
then ``configs/datasets/<dataset>.yaml`` (its ``data`` section and its
``models.<model>`` overrides), then a user file, then ``--set`` pairs.
"""
import copy
import os
from dataclasses import fields
from pathlib import Path
from typing import Any, Dict, Iterable, Optional, Union

import yaml

from lirdrec_pyg.train.trainer import TrainConfig

SECTIONS = ('model', 'train', 'data', 'eval', 'search')
MAX_EPOCHS_ENV = 'LIRDREC_MAX_EPOCHS'
EVAL_KEYS = {'cold_item_fraction': 0.0}


def config_root() -> Path:
    r"""The repository's ``configs/`` folder."""
    return Path(__file__).resolve().parents[2] / 'configs'


def read_yaml(path: Union[str, Path]) -> Dict[str, Any]:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"config file '{path}' does not exist")
    try:
        with open(path) as f:
            cfg = yaml.safe_load(f) or {}
    except yaml.YAMLError as e:
        raise ValueError(f"config file '{path}' is not valid YAML: {e}")
    if not isinstance(cfg, dict):
        raise ValueError(f"config file '{path}' must hold a mapping of "
                         f"sections {SECTIONS} (got {type(cfg).__name__})")
    unknown = sorted(set(cfg) - set(SECTIONS) - {'models'})
    if unknown:
        raise ValueError(f"config file '{path}' has unknown section(s) "
                         f"{unknown}; expected some of {SECTIONS}")
    return cfg


def _merge(base: Dict[str, Any], other: Dict[str, Any]) -> Dict[str, Any]:
    out = copy.deepcopy(base)
    for section, values in other.items():
        if section == 'models':
            continue
        if values is None:
            continue
        if not isinstance(values, dict):
            raise ValueError(f"config section '{section}' must be a mapping")
        out.setdefault(section, {}).update(copy.deepcopy(values))
    return out


def parse_value(raw: str) -> Any:
    r"""A ``--set`` value as YAML, reading ``1e-4`` as a float (YAML 1.1
    wants ``1.0e-4``)."""
    if raw == '':
        return None
    value = yaml.safe_load(raw)
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
            raise ValueError(f"--set expects key=value (got '{pair}')")
        key, raw = pair.split('=', 1)
        value = parse_value(raw)
        if '.' in key:
            section, name = key.split('.', 1)
            if section not in SECTIONS:
                raise ValueError(f"--set '{key}': unknown section "
                                 f"'{section}'; expected one of {SECTIONS}")
        else:
            homes = [s for s, keys in (('model', model_keys),
                                       ('train', train_keys),
                                       ('eval', set(EVAL_KEYS)))
                     if key in keys]
            if not homes:
                raise ValueError(
                    f"--set '{key}': unknown key; model keys: "
                    f"{sorted(model_keys)}, train keys: "
                    f"{sorted(train_keys)}, eval keys: {sorted(EVAL_KEYS)}")
            if len(homes) > 1:
                raise ValueError(f"--set '{key}' is ambiguous: write "
                                 f"{' or '.join(h + '.' + key for h in homes)}")
            section, name = homes[0], key
        out.setdefault(section, {})[name] = value
    return out


def load_config(model: str, dataset: Optional[str] = None,
                config_file: Optional[Union[str, Path]] = None,
                overrides: Iterable[str] = (),
                root: Optional[Path] = None) -> Dict[str, Any]:
    r"""Assembles the configuration of :obj:`model` on :obj:`dataset`."""
    from lirdrec_pyg.models import model_hyperparameters

    root = root or config_root()
    cfg: Dict[str, Any] = {s: {} for s in ('model', 'train', 'data', 'eval')}
    model_file = root / 'models' / f'{model}.yaml'
    if model_file.exists():
        cfg = _merge(cfg, read_yaml(model_file))
    if dataset is not None:
        dataset_file = root / 'datasets' / f'{dataset}.yaml'
        if dataset_file.exists():
            dcfg = read_yaml(dataset_file)
            cfg = _merge(cfg, {'data': dcfg.get('data') or {}})
            per_model = (dcfg.get('models') or {}).get(model) or {}
            cfg = _merge(cfg, per_model)
    if config_file is not None:
        user = read_yaml(config_file)
        cfg = _merge(cfg, user)
        per_model = (user.get('models') or {}).get(model) or {}
        cfg = _merge(cfg, per_model)
    cfg = _merge(cfg, parse_set(overrides, model_hyperparameters(model)))
    cfg.pop('search', None)
    eval_cfg = dict(EVAL_KEYS)
    unknown = sorted(set(cfg['eval']) - set(EVAL_KEYS))
    if unknown:
        raise ValueError(f"unknown eval key(s) {unknown}; accepted: "
                         f"{sorted(EVAL_KEYS)}")
    eval_cfg.update(cfg['eval'])
    cfg['eval'] = eval_cfg
    return cap_epochs(cfg)


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
    default = next(f.default for f in fields(TrainConfig)
                   if f.name == 'epochs')
    epochs = cfg['train'].get('epochs', default)
    cfg['train']['epochs'] = min(int(epochs), int(raw))
    return cfg
