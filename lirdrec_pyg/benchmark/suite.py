"""Benchmark suites: a published table as one YAML file.

A suite names the datasets, models and seeds of a comparison, the settings
every cell shares, per-model settings and search spaces, and the protocol::

    description: LIRDRec against graph baselines on the synthetic set
    datasets: [synthetic]
    models: [lirdrec, lightgcn, bpr, popularity]
    seeds: [0, 1]
    set:                        # the grammar of ``--set``
      - train.epochs=60         # a section key: every model
      - lirdrec.train.lr=1e-3   # MODEL.key: that model only
      - num_layers=2            # a plain key: the models that have it
    grid:                       # replaces a model's ``search:`` (with --grid)
      lightgcn: {num_layers: [1, 2], reg_weight: [1.0e-2, 1.0e-4]}
    tune: true                  # select on the grids (as --grid does)
    budget: 12                  # at most 12 grid points per model, seeded,
                                # or by model: {lirdrec: 12}
    protocol: cold_start        # or standard (the default)
    cold_item_fraction: 0.1
    target: lirdrec             # significance: target against every model
    metric: Recall@20           # grid selection on validation
"""
import itertools
import random
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import yaml

from lirdrec_pyg.train.config import (EVAL_KEYS, SECTIONS, config_root,
                                      parse_value, read_yaml)
from lirdrec_pyg.train.trainer import TrainConfig

PROTOCOLS = ('standard', 'cold_start')


def suite_root() -> Path:
    r"""The repository's ``benchmarks/suites/`` folder."""
    return Path(__file__).resolve().parents[2] / 'benchmarks' / 'suites'


@dataclass
class Suite:
    r"""A benchmark: datasets x models x seeds with shared settings.

    Args:
        name (str): Names the default output folder ``results/<name>``.
        datasets (list of str): Dataset names.
        models (list of str): Model names.
        seeds (list of int): Training seeds of every cell. (default: [0])
        set (list of str): ``--set`` pairs; ``MODEL.key=value`` for one
            model, a plain key for the models that have it.
        grid (dict): Search spaces by model (``{key: [values]}``), replacing
            the ``search:`` section of ``configs/models/<model>.yaml``.
        tune (bool): Select each model's point on its grid (``--grid``).
            (default: :obj:`False`)
        budget (int or dict, optional): Grid points per model at most (or
            by model); a larger grid is sampled at random with
            :obj:`grid_seed`.
        grid_seed (int): Seeds the sample. (default: :obj:`0`)
        protocol (str): ``standard`` (test split) or ``cold_start`` (items
            held out entirely, ranked from their features; the table reports
            their metrics). (default: :obj:`standard`)
        cold_item_fraction (float): Held-out share of the items under
            ``cold_start``. (default: :obj:`0.1`)
        target (str): The model compared against every other one.
            (default: :obj:`lirdrec`)
        metric (str): Validation metric of the grid selection.
            (default: :obj:`Recall@20`)
        description (str): Free text shown in the summary.
    """
    name: str
    datasets: List[str]
    models: List[str]
    seeds: List[int] = field(default_factory=lambda: [0])
    set: List[str] = field(default_factory=list)
    grid: Dict[str, Dict[str, List[Any]]] = field(default_factory=dict)
    tune: bool = False
    budget: Union[None, int, Dict[str, int]] = None
    grid_seed: int = 0
    protocol: str = 'standard'
    cold_item_fraction: float = 0.1
    target: str = 'lirdrec'
    metric: str = 'Recall@20'
    description: str = ''

    def check(self, where: str = 'suite') -> None:
        r"""Raises a one-line :class:`ValueError` naming the field."""
        from lirdrec_pyg.models import MODELS

        for name in ('datasets', 'models', 'seeds'):
            value = getattr(self, name)
            if not isinstance(value, list) or not value:
                raise ValueError(f"{where}: '{name}' must be a non-empty list "
                                 f"(got {value!r})")
        for name in ('datasets', 'models'):
            dup = sorted({v for v in getattr(self, name)
                          if getattr(self, name).count(v) > 1})
            if dup:
                raise ValueError(f"{where}: '{name}' lists {dup} twice")
        unknown = [m for m in self.models if m not in MODELS]
        if unknown:
            raise ValueError(f"{where}: unknown model(s) {unknown} in "
                             f"'models'; known: {sorted(MODELS)}")
        if any(isinstance(s, bool) or not isinstance(s, int)
               for s in self.seeds) or len(set(self.seeds)) < len(self.seeds):
            raise ValueError(f"{where}: 'seeds' must be distinct integers "
                             f"(got {self.seeds!r})")
        if not isinstance(self.set, list) or not all(
                isinstance(p, str) for p in self.set):
            raise ValueError(f"{where}: 'set' must be a list of 'key=value' "
                             f"strings (got {self.set!r})")
        if not isinstance(self.grid, dict):
            raise ValueError(f"{where}: 'grid' must map models to "
                             f"{{key: [values]}} (got {self.grid!r})")
        for model, space in self.grid.items():
            if model not in MODELS:
                raise ValueError(f"{where}: 'grid' names unknown model "
                                 f"'{model}'")
            check_space(space, f"{where}: grid.{model}")
        budgets = (self.budget.values() if isinstance(self.budget, dict)
                   else [] if self.budget is None else [self.budget])
        if any(isinstance(b, bool) or not isinstance(b, int) or b <= 0
               for b in budgets):
            raise ValueError(f"{where}: 'budget' must be a positive integer "
                             f"or map models to one (got {self.budget!r})")
        if not isinstance(self.tune, bool):
            raise ValueError(f"{where}: 'tune' must be true or false (got "
                             f"{self.tune!r})")
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"{where}: 'protocol' must be one of "
                             f"{PROTOCOLS} (got {self.protocol!r})")
        if not 0.0 < float(self.cold_item_fraction) < 1.0:
            raise ValueError(f"{where}: 'cold_item_fraction' must lie in "
                             f"(0, 1) (got {self.cold_item_fraction!r})")
        TrainConfig(valid_metric=self.metric)  # '<Metric>@K' with K in ks
        if self.target not in MODELS:
            raise ValueError(f"{where}: 'target' must be a model name (got "
                             f"{self.target!r})")


    def budget_for(self, model: str) -> Optional[int]:
        if isinstance(self.budget, dict):
            return self.budget.get(model)
        return self.budget


def check_space(space: Any, where: str) -> None:
    if not isinstance(space, dict):
        raise ValueError(f"{where} must map keys to lists of values "
                         f"(got {space!r})")
    for key, values in space.items():
        if not isinstance(values, list) or not values:
            raise ValueError(f"{where}.{key} must be a non-empty list of "
                             f"values (got {values!r})")


def find_suite(name: str) -> Path:
    r"""A suite by path, or by name in ``benchmarks/suites/``."""
    path = Path(name)
    if path.suffix in ('.yaml', '.yml') or path.exists():
        if not path.exists():
            raise ValueError(f"suite file '{path}' does not exist")
        return path
    path = suite_root() / f'{name}.yaml'
    if not path.exists():
        known = sorted(p.stem for p in suite_root().glob('*.yaml'))
        raise ValueError(f"unknown suite '{name}'; known suites: {known} "
                         f"(or give a path to a .yaml file)")
    return path


def load_suite(name: str) -> Suite:
    r"""Reads and checks a suite file (by name or path)."""
    path = find_suite(name)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ValueError(f"suite file '{path}' is not valid YAML: {e}")
    if not isinstance(raw, dict):
        raise ValueError(f"suite file '{path}' must hold a mapping")
    known = {f.name for f in fields(Suite)} - {'name'}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ValueError(f"suite file '{path}': unknown field(s) {unknown}; "
                         f"expected some of {sorted(known)}")
    for name in ('datasets', 'models'):
        if name not in raw:
            raise ValueError(f"suite file '{path}': '{name}' is missing")
    suite = Suite(name=path.stem, **raw)
    suite.check(f"suite file '{path}'")
    return suite


def _train_and_eval_keys() -> set:
    return {f.name for f in fields(TrainConfig)} | set(EVAL_KEYS)


def split_overrides(pairs: Sequence[str], models: Sequence[str]
                    ) -> Dict[str, List[str]]:
    r"""Distributes ``--set`` pairs over :obj:`models`.

    ``MODEL.key=value`` goes to that model only; a section key
    (``train.lr``) to every model; a plain key or ``model.key`` to the models
    whose hyper-parameters (or train / eval keys) include it. A pair that no
    selected model accepts is an error, raised before anything runs.
    """
    from lirdrec_pyg.models import MODELS, model_hyperparameters

    common = _train_and_eval_keys()
    out: Dict[str, List[str]] = {m: [] for m in models}
    for pair in pairs:
        if '=' not in pair:
            raise ValueError(f"--set expects key=value (got '{pair}')")
        key, value = pair.split('=', 1)
        head, _, rest = key.partition('.')
        if head in MODELS and rest:
            if head not in out:
                raise ValueError(f"--set '{pair}': model '{head}' is not "
                                 f"among the selected models {list(models)}")
            out[head].append(f'{rest}={value}')
            continue
        if head in SECTIONS and head != 'model' and rest:
            for m in models:
                out[m].append(pair)
            continue
        name = rest if head == 'model' and rest else key
        if '.' in name:
            raise ValueError(f"--set '{pair}': '{head}' is neither a section "
                             f"{SECTIONS} nor a selected model "
                             f"{list(models)}")
        homes = [m for m in models
                 if name in model_hyperparameters(m) or
                 (head != 'model' and name in common)]
        if not homes:
            raise ValueError(f"--set '{pair}': no selected model has the key "
                             f"'{name}' (models: {list(models)}); write "
                             f"MODEL.{name}=... for one model")
        for m in homes:
            out[m].append(pair)
    return out


def override(key: str, value: Any) -> str:
    r"""A ``key=value`` pair whose value :func:`parse_value` reads back as
    :obj:`value` (numbers, lists and mappings in YAML flow style)."""
    text = yaml.safe_dump(value, default_flow_style=True,
                          width=10**6).strip()
    if text.endswith('\n...'):
        text = text[:-4].strip()
    if text.endswith('...'):
        text = text[:-3].strip()
    if parse_value(text) != value:
        raise ValueError(f"grid value {value!r} of '{key}' cannot be written "
                         f"as a --set value")
    return f'{key}={text}'


def search_space(model: str, suite: Suite) -> Dict[str, List[Any]]:
    r"""The grid of :obj:`model`: the suite's, else the ``search:`` section
    of ``configs/models/<model>.yaml``, else no grid (one point)."""
    if model in suite.grid:
        return dict(suite.grid[model])
    path = config_root() / 'models' / f'{model}.yaml'
    space = (read_yaml(path).get('search') or {}) if path.exists() else {}
    check_space(space, f"'{path}': search")
    return dict(space)


def grid_points(space: Dict[str, List[Any]], budget: Optional[int] = None,
                seed: int = 0) -> Tuple[List[List[str]], int]:
    r"""Every point of :obj:`space` as ``--set`` pairs, in the order of
    :func:`itertools.product`; with :obj:`budget` smaller than the grid, a
    random subset of that size drawn with :obj:`seed` (kept in grid order).

    Returns:
        The points and the size of the full grid.
    """
    keys = list(space)
    points = [[override(k, v) for k, v in zip(keys, values)]
              for values in itertools.product(*(space[k] for k in keys))]
    total = len(points)
    if budget is not None and budget < total:
        chosen = sorted(random.Random(seed).sample(range(total), budget))
        points = [points[i] for i in chosen]
    return points, total
