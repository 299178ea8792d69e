"""docs/models.md agrees with the code: every registered model is listed, the
default settings equal configs/, and the lastfm2k numbers equal
docs/results.md."""
import math
import re
from dataclasses import fields
from pathlib import Path
from typing import Any, Dict, List

import yaml

from lirdrec_pyg.models import MODELS
from lirdrec_pyg.train import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / 'docs' / 'models.md'
SETTING = re.compile(r'`([A-Za-z_][\w.]*)=([^`]*)`')


def section_table(text: str, heading: str) -> Dict[str, List[str]]:
    r"""The rows of the first table under :obj:`heading`, keyed by the first
    cell with its backticks removed."""
    body = text.split(heading, 1)[1]
    rows = {}
    for line in body.splitlines():
        if line.startswith('## '):
            break
        if line.startswith('|') and not line.startswith('|---'):
            cells = [c.strip() for c in line.strip().strip('|').split('|')]
            rows[cells[0].strip('`')] = cells[1:]
    return rows


def parse_value(raw: str) -> Any:
    value = yaml.safe_load(raw)
    if isinstance(value, str):
        try:
            return float(value)  # YAML 1.1 reads 1e-5 as a string
        except ValueError:
            return value
    return value


def same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) \
            and not isinstance(a, bool) and not isinstance(b, bool):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=0.0)
    return a == b


def settings(cell: str) -> Dict[str, Any]:
    return {k: parse_value(v) for k, v in SETTING.findall(cell)}


def check_settings(model: str, column: str, cell: str,
                   expected: Dict[str, Any]) -> List[str]:
    written = settings(cell)
    errors = [f'{model} {column}: {k}={written[k]!r} but the config has '
              f'{expected.get(k, "no such key")!r}'
              for k in written if k not in expected
              or not same(written[k], expected[k])]
    errors += [f'{model} {column}: {k}={v!r} is not listed'
               for k, v in expected.items() if k not in written]
    return errors


def test_every_registered_model_is_in_both_tables():
    text = PAGE.read_text()
    for heading in ('## Overview', '## Default settings'):
        listed = set(section_table(text, heading)) - {'model'}
        assert listed == set(MODELS), (heading, sorted(listed ^ set(MODELS)))


def test_default_settings_equal_the_config_files():
    rows = section_table(PAGE.read_text(), '## Default settings')
    defaults = {f.name: f.default for f in fields(TrainConfig)
                if f.name != 'ks'}
    lastfm = yaml.safe_load(
        (ROOT / 'configs' / 'datasets' / 'lastfm2k.yaml').read_text())
    errors = []
    for model in MODELS:
        cfg = yaml.safe_load(
            (ROOT / 'configs' / 'models' / f'{model}.yaml').read_text())
        model_cell, train_cell, lastfm_cell = rows[model]
        errors += check_settings(model, 'model section', model_cell,
                                 cfg.get('model') or {})
        train = {f'train.{k}': v for k, v in (cfg.get('train') or {}).items()
                 if k not in defaults or not same(v, defaults[k])}
        errors += check_settings(model, 'train', train_cell, train)
        override = (lastfm.get('models') or {}).get(model) or {}
        expected = dict(override.get('model') or {})
        expected.update({f'train.{k}': v
                         for k, v in (override.get('train') or {}).items()})
        errors += check_settings(model, 'lastfm2k overrides', lastfm_cell,
                                 expected)
    assert not errors, errors


def test_lastfm_results_equal_results_page():
    rows = section_table(PAGE.read_text(), '## Overview')
    results = section_table((ROOT / 'docs' / 'results.md').read_text(),
                            '## All models on lastfm2k')
    header = results.pop('model')
    r20, n20 = header.index('R@20'), header.index('N@20')
    for model in MODELS:
        assert model in results, f'{model} has no row in docs/results.md'
        written = rows[model][-1]
        expected = f'{results[model][r20]} / {results[model][n20]}'
        assert written == expected, (model, written, expected)


def test_parsers_on_a_hand_made_page():
    # The checks above are only as good as the table parsing: a planted
    # mismatch and a missing key must be found.
    text = ('## Default settings\n\n| model | a | b |\n|---|---|---|\n'
            '| `m` | `reg_weight=1e-5`, `combine=mean` | x |\n\n## Next\n'
            '| `n` | y | z |\n')
    rows = section_table(text, '## Default settings')
    assert rows == {'model': ['a', 'b'],
                    'm': ['`reg_weight=1e-5`, `combine=mean`', 'x']}
    cell = rows['m'][0]
    assert not check_settings('m', 'c', cell, {'reg_weight': 1.0e-5,
                                                'combine': 'mean'})
    assert len(check_settings('m', 'c', cell, {'reg_weight': 1.0e-4,
                                               'combine': 'mean'})) == 1
    assert len(check_settings('m', 'c', cell, {'reg_weight': 1.0e-5,
                                               'combine': 'mean',
                                               'num_layers': 2})) == 1
