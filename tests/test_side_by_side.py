"""benchmarks/side_by_side.py: the toolbox's settings are read and mapped
to ours correctly (without the toolbox: a planted config tree)."""
import importlib.util
import json
from pathlib import Path

import pytest

from lirdrec_pyg.models import model_hyperparameters
from lirdrec_pyg.train import TrainConfig
from lirdrec_pyg.train.config import parse_set

SCRIPT = Path(__file__).resolve().parents[1] / 'benchmarks' / \
    'side_by_side.py'


@pytest.fixture(scope='module')
def sbs():
    spec = importlib.util.spec_from_file_location('side_by_side', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def plant_toolbox(root: Path) -> Path:
    configs = root / 'src' / 'configs'
    (configs / 'model').mkdir(parents=True)
    (configs / 'dataset').mkdir()
    (root / 'src' / 'main.py').write_text('')
    (configs / 'overall.yaml').write_text(
        'learning_rate: 0.001\nlearning_rate_scheduler: [1.0, 50]\n'
        'stopping_step: 20\ntrain_batch_size: 2048\nweight_decay: 0.0\n'
        'embedding_size: 64\nhyper_parameters: ["seed"]\nseed: [999]\n')
    (configs / 'dataset' / 'toy.yaml').write_text('inter_file_name: x\n')
    (configs / 'model' / 'MGCN.yaml').write_text(
        'n_ui_layers: 2\nn_layers: 1\nlearning_rate_scheduler: [0.96, 50]\n'
        'reg_weight: 1e-04\nknn_k: 10\ncl_loss: [0.001, 0.01, 0.1]\n'
        'hyper_parameters: ["cl_loss"]\n')
    (configs / 'model' / 'GRCN.yaml').write_text(
        'reg_weight: [0.1, 0.01]\nlearning_rate: [1, 0.1]\n'
        'hyper_parameters: ["reg_weight", "learning_rate"]\n')
    return root


def test_first_values_numbers_and_overrides(sbs, tmp_path):
    root = plant_toolbox(tmp_path)
    mgcn = sbs.toolbox_settings(root, 'mgcn', 'toy')
    assert mgcn['cl_loss'] == 0.001            # first of the grid
    assert mgcn['reg_weight'] == 1e-4          # '1e-04' read as a number
    assert mgcn['learning_rate_scheduler'] == [0.96, 50]  # not a grid
    grcn = sbs.toolbox_settings(root, 'grcn', 'toy')
    assert grcn['reg_weight'] == 0.1
    assert grcn['learning_rate'] == 1e-3       # TOOLBOX_OVERRIDES, not 1
    with pytest.raises(FileNotFoundError, match='toolbox config'):
        sbs.toolbox_settings(root, 'bm3', 'toy')


def test_mapped_settings_reach_our_config(sbs, tmp_path):
    root = plant_toolbox(tmp_path)
    pairs = sbs.our_overrides('mgcn', sbs.toolbox_settings(root, 'mgcn',
                                                           'toy'))
    cfg = parse_set(pairs, model_hyperparameters('mgcn'))
    assert cfg['model'] == {'embedding_dim': 64, 'cl_weight': 0.001,
                            'reg_weight': 1e-4, 'knn_k': 10,
                            'num_ui_layers': 2, 'num_mm_layers': 1}
    # stopping_step 20 stops after the 21st evaluation without improvement.
    assert cfg['train'] == {'lr': 1e-3, 'batch_size': 2048,
                            'weight_decay': 0.0, 'lr_decay': 0.96,
                            'lr_decay_step': 50, 'patience': 21}
    TrainConfig.from_dict(cfg['train'])


def test_every_mapped_key_is_a_hyper_parameter(sbs):
    assert set(sbs.MAPPING) == set(sbs.TOOLBOX_NAMES)
    for model, mapping in sbs.MAPPING.items():
        keys = set(model_hyperparameters(model))
        for ours in list(mapping.values()) + [
                pair.split('=')[0] for pair in sbs.OURS_FIXED.get(model, [])]:
            assert ours is None or ours in keys, (model, ours)


def test_summary_and_table(sbs):
    toolbox = {'test': {'recall@20': 0.4, 'ndcg@20': 0.2}, 'best_epoch': 50,
               'seconds_per_epoch': 2.0, 'settings': {}}
    ours = [{'test': {'Recall@20': r, 'NDCG@20': n}, 'best_epoch': e,
             'epochs': e + 20, 'train_seconds': 1.5 * (e + 20)}
            for r, n, e in ((0.38, 0.21, 40), (0.42, 0.19, 60))]
    row = sbs.summarise('bm3', [toolbox], ours)
    assert row['ours']['Recall@20'] == pytest.approx(0.40)
    assert row['ratio']['Recall@20'] == pytest.approx(1.0)
    assert row['ratio']['NDCG@20'] == pytest.approx(1.0)
    assert row['ours_std']['NDCG@20'] == pytest.approx(0.0141421, rel=1e-4)
    assert row['ours_seconds_per_epoch'] == pytest.approx(1.5)
    line = sbs.format_table([row]).splitlines()[-1]
    assert line == ('| bm3 | 0.4000 / 0.2000 | 0.4000 ± 0.0283 / 0.2000 ± '
                    '0.0141 (2) | 100.0% / 100.0% | 50 / 50 | 2.00 / 1.50 |')
    assert sbs.format_table([sbs.summarise('vbpr', [], [])]).splitlines(
    )[-1] == '| vbpr | - | - | - | - / - | - / - |'
    json.dumps(row)


def test_seconds_per_epoch_are_medians_and_one_seed_has_no_spread(sbs):
    # A run paused for a minute in one epoch must not move the figure.
    toolbox = {'test': {'recall@20': 0.4, 'ndcg@20': 0.2}, 'best_epoch': 2,
               'seconds_per_epoch': 21.0, 'settings': {},
               'epoch_seconds': [1.0, 2.0, 60.0]}
    ours = [{'test': {'Recall@20': 0.4, 'NDCG@20': 0.2}, 'best_epoch': 2,
             'epochs': 3, 'train_seconds': 63.0,
             'history': [{'seconds': s} for s in (1.0, 60.0, 1.5)]}]
    row = sbs.summarise('bm3', [toolbox], ours)
    assert row['toolbox_seconds_per_epoch'] == 2.0
    assert row['ours_seconds_per_epoch'] == 1.5
    line = sbs.format_table([row]).splitlines()[-1]
    assert '| 0.4000 / 0.2000 (1) |' in line and '±' not in line


def test_report_only_reads_finished_cells(sbs, tmp_path):
    root = plant_toolbox(tmp_path / 'mmrec')
    out = tmp_path / 'out'
    cell = out / 'toy' / 'mgcn' / 'toolbox_seed999.json'
    cell.parent.mkdir(parents=True)
    cell.write_text(json.dumps({'test': {'recall@20': 0.4, 'ndcg@20': 0.2},
                                'best_epoch': 5, 'seconds_per_epoch': 1.0,
                                'settings': {}}))
    rows = sbs.main(['--mmrec', str(root), '--dataset', 'toy', '--models',
                     'mgcn', '--only', 'none', '--out', str(out)])
    assert rows[0]['toolbox']['Recall@20'] == 0.4 and 'ours' not in rows[0]
    assert (out / 'side_by_side.md').read_text().startswith('| model |')


def test_several_toolbox_seeds_give_a_mean_and_spread(sbs, tmp_path):
    root = plant_toolbox(tmp_path / 'mmrec')
    out = tmp_path / 'out'
    for seed, recall, ndcg, epoch in ((999, 0.26, 0.18, 60), (0, 0.22, 0.14,
                                                               30)):
        cell = out / 'toy' / 'mgcn' / f'toolbox_seed{seed}.json'
        cell.parent.mkdir(parents=True, exist_ok=True)
        cell.write_text(json.dumps({
            'seed': seed, 'test': {'recall@20': recall, 'ndcg@20': ndcg},
            'best_epoch': epoch, 'seconds_per_epoch': 2.0, 'settings': {}}))
    ours = out / 'toy' / 'mgcn' / 'seed0' / 'results.json'
    ours.parent.mkdir(parents=True)
    ours.write_text(json.dumps({
        'test': {'Recall@20': 0.22, 'NDCG@20': 0.16}, 'best_epoch': 40,
        'epochs': 60, 'train_seconds': 60.0}))
    rows = sbs.main(['--mmrec', str(root), '--dataset', 'toy', '--models',
                     'mgcn', '--only', 'none', '--out', str(out),
                     '--seeds', '0', '--toolbox-seeds', '999', '0', '7'])
    row = rows[0]
    # seed 7 has no finished run: the row is over the two that finished
    assert row['toolbox_seeds'] == 2
    assert row['toolbox']['Recall@20'] == pytest.approx(0.24)
    assert row['toolbox_std']['Recall@20'] == pytest.approx(0.0282843,
                                                            rel=1e-5)
    assert row['ratio']['Recall@20'] == pytest.approx(0.22 / 0.24)
    assert row['ratio']['NDCG@20'] == pytest.approx(1.0)
    assert [r['seed'] for r in row['toolbox_runs']] == [999, 0]
    line = (out / 'side_by_side.md').read_text().splitlines()[-1]
    assert line == ('| mgcn | 0.2400 ± 0.0283 / 0.1600 ± 0.0283 (2) | '
                    '0.2200 / 0.1600 (1) | 91.7% / 100.0% | 45 / 40 | '
                    '2.00 / 1.00 |')
