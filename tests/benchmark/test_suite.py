import pytest

from lirdrec_pyg.benchmark.runner import plan
from lirdrec_pyg.benchmark.suite import (Suite, grid_points, load_suite,
                                         override, split_overrides,
                                         suite_root)
from lirdrec_pyg.train.config import parse_value


@pytest.mark.parametrize('path', sorted(suite_root().glob('*.yaml')),
                         ids=lambda p: p.stem)
def test_shipped_suites_resolve_every_config(path, tmp_path):
    suite = load_suite(str(path))
    entries = plan(suite, tmp_path, grid=suite.tune)
    assert len(entries) == len(suite.datasets) * len(suite.models)
    for entry in entries:
        assert len(entry.configs) == len(entry.points) >= 1
        if suite.protocol == 'cold_start':
            assert entry.configs[0]['eval']['cold_item_fraction'] == \
                suite.cold_item_fraction


def test_quick_suite_is_synthetic():
    assert load_suite('quick').datasets == ['synthetic']


def test_plain_key_goes_to_the_models_that_have_it():
    out = split_overrides(['num_layers=1', 'train.epochs=5',
                           'bpr.reg_weight=0.5', 'model.combine=sum'],
                          ['lightgcn', 'bpr', 'popularity'])
    assert out['lightgcn'] == ['num_layers=1', 'train.epochs=5',
                               'model.combine=sum']
    assert out['bpr'] == ['train.epochs=5', 'reg_weight=0.5']
    assert out['popularity'] == ['train.epochs=5']


def test_key_no_selected_model_has_is_an_error():
    with pytest.raises(ValueError, match="no selected model has the key "
                       "'num_layers'"):
        split_overrides(['num_layers=1'], ['bpr', 'popularity'])
    with pytest.raises(ValueError, match="model 'lightgcn' is not among"):
        split_overrides(['lightgcn.num_layers=1'], ['bpr'])
    with pytest.raises(ValueError, match='key=value'):
        split_overrides(['num_layers'], ['lightgcn'])


def test_wrong_value_is_an_error_before_anything_runs(tmp_path):
    suite = Suite(name='x', datasets=['synthetic'], models=['lightgcn'],
                  set=['lightgcn.model.no_such_key=1'])
    with pytest.raises(ValueError, match='synthetic/lightgcn'):
        plan(suite, tmp_path)
    suite.set = ['train.epochs=0']
    with pytest.raises(ValueError, match='train.epochs'):
        plan(suite, tmp_path)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize('value', [1e-4, 0.0, 3, 'fac', None, True,
                                   [1, 2], {'audio': 0.1, 'text': 0.9}])
def test_override_reads_back(value):
    key, text = override('k', value).split('=', 1)
    assert key == 'k' and parse_value(text) == value


def test_budget_samples_a_seeded_subset():
    space = {'a': [1, 2, 3, 4], 'b': [0.1, 0.2, 0.3]}
    full, size = grid_points(space)
    assert size == 12 and len(full) == 12 and full[0] == ['a=1', 'b=0.1']
    sample, size = grid_points(space, budget=5, seed=3)
    assert size == 12 and len(sample) == 5
    assert sample == grid_points(space, budget=5, seed=3)[0]
    assert sample != grid_points(space, budget=5, seed=4)[0]
    assert all(p in full for p in sample)
    assert sample == sorted(sample, key=full.index)
    assert grid_points(space, budget=50)[0] == full


def test_suite_file_errors_name_the_field(tmp_path):
    path = tmp_path / 's.yaml'
    path.write_text('datasets: [synthetic]\nmodels: [bpr]\nseed: [1]\n')
    with pytest.raises(ValueError, match=r"s.yaml': unknown field\(s\) "
                       r"\['seed'\]"):
        load_suite(str(path))
    path.write_text('datasets: [synthetic]\nmodels: [nope]\n')
    with pytest.raises(ValueError, match=r"unknown model\(s\) \['nope'\]"):
        load_suite(str(path))
    path.write_text('datasets: [synthetic]\nmodels: [bpr]\nbudget: 0\n')
    with pytest.raises(ValueError, match="'budget' must be"):
        load_suite(str(path))
    with pytest.raises(ValueError, match='unknown suite'):
        load_suite('no_such_suite')
