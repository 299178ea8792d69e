import json

import pytest
import torch

from lirdrec_pyg.benchmark import cells as cells_module
from lirdrec_pyg.benchmark.executors import ProcessExecutor, SerialExecutor
from lirdrec_pyg.benchmark.runner import run_suite
from lirdrec_pyg.train import trainer as trainer_module


def _run(suite, out, executor=None, grid=False):
    return run_suite(suite, out, executor or SerialExecutor(), grid=grid,
                     progress=False)


def _cells(summary):
    return {(r['model'], c['seed']): c for r in summary['entries']
            for c in r['cells']}


def _metrics(summary):
    return {k: (c['status'] in ('ran', 'cached'), c.get('valid'),
                c.get('test')) for k, c in _cells(summary).items()}


def test_changed_setting_reruns_and_the_rest_is_cached(tiny_suite,
                                                       tmp_path):
    suite = tiny_suite(seeds=[0])
    first, code = _run(suite, tmp_path)
    assert code == 0
    assert {c['status'] for c in _cells(first).values()} == {'ran'}
    again, _ = _run(suite, tmp_path)
    assert {c['status'] for c in _cells(again).values()} == {'cached'}
    assert _metrics(again) == _metrics(first)

    changed = tiny_suite(seeds=[0], extra=['lightgcn.reg_weight=0.5'])
    third, _ = _run(changed, tmp_path)
    cells = _cells(third)
    assert cells[('bpr', 0)]['status'] == 'cached'
    assert cells[('lightgcn', 0)]['status'] == 'ran'
    assert cells[('lightgcn', 0)]['key'] != \
        _cells(first)[('lightgcn', 0)]['key']
    lgcn = [r for r in third['entries'] if r['model'] == 'lightgcn'][0]
    assert lgcn['config']['model']['reg_weight'] == 0.5
    assert (tmp_path / 'summary.md').read_text().count('cached') == 1


def test_incompatible_cell_is_na_and_the_table_is_written(tiny_suite,
                                                           tmp_path):
    suite = tiny_suite(models=['bpr', 'freedom'], seeds=[0],
                       extra=['data.modality_dims={}'])
    summary, code = _run(suite, tmp_path)
    assert code == 0
    rows = {r['model']: r for r in summary['entries']}
    assert rows['bpr']['status'] == 'ok'
    assert rows['freedom']['status'] == 'n/a'
    assert 'needs item features' in rows['freedom']['detail']
    assert rows['freedom']['cells'][0]['seconds'] < 30
    table = (tmp_path / 'summary.md').read_text()
    assert '| freedom | - |' in table and 'n/a: FREEDOM needs item' in table
    assert 'freedom,n/a,' in (tmp_path / 'summary.csv').read_text()


def test_model_without_the_training_mode_is_na(tiny_suite, tmp_path):
    suite = tiny_suite(models=['bpr', 'lightgcn'], seeds=[0],
                       extra=['train.mode=sampled'])
    summary, code = _run(suite, tmp_path)
    assert code == 0  # n/a is not a failure
    rows = {r['model']: r for r in summary['entries']}
    assert rows['lightgcn']['status'] == 'ok'
    assert rows['bpr']['status'] == 'n/a'
    assert "train.mode='sampled' is not supported by BPR" in \
        rows['bpr']['detail']


def test_failing_cell_is_recorded_and_the_rest_go_on(tiny_suite, tmp_path,
                                                     monkeypatch):
    from lirdrec_pyg.models import get_model_class

    def boom(self, *args, **kwargs):
        raise RuntimeError('boom in loss')

    monkeypatch.setattr(get_model_class('lightgcn'), 'loss', boom)
    suite = tiny_suite(models=['lightgcn', 'bpr'], seeds=[0])
    summary, code = _run(suite, tmp_path)
    assert code == 1
    rows = {r['model']: r for r in summary['entries']}
    assert rows['lightgcn']['status'] == 'failed'
    assert rows['lightgcn']['detail'] == 'RuntimeError: boom in loss'
    assert rows['bpr']['status'] == 'ok'
    cell = rows['lightgcn']['cells'][0]
    assert 'Traceback' in (tmp_path / cell['dir'] / 'error.txt').read_text()
    assert json.loads((tmp_path / 'summary.json').read_text())['entries']


def test_interrupted_benchmark_resumes_to_the_uninterrupted_result(
        tiny_suite, tmp_path, monkeypatch):
    suite = tiny_suite(models=['bpr', 'lightgcn'], seeds=[0],
                       extra=['train.epochs=4'])
    reference, _ = _run(suite, tmp_path / 'reference')

    original = trainer_module.Trainer._train_epoch
    calls = []

    def interrupt_lightgcn(self, epoch, sampler, optimizer):
        if type(self.model).__name__ == 'LightGCN' and epoch == 3 \
                and not calls:
            calls.append(epoch)
            raise KeyboardInterrupt
        return original(self, epoch, sampler, optimizer)

    monkeypatch.setattr(trainer_module.Trainer, '_train_epoch',
                        interrupt_lightgcn)
    out = tmp_path / 'run'
    summary, code = _run(suite, out)
    assert code == 130 and calls == [3]
    assert summary['interrupted'] is True
    rows = {r['model']: r for r in summary['entries']}
    assert rows['bpr']['status'] == 'ok'
    assert rows['lightgcn']['status'] == 'incomplete'
    assert 'Interrupted' in (out / 'summary.md').read_text()

    resumed, code = _run(suite, out)
    assert code == 0
    cells = _cells(resumed)
    assert cells[('bpr', 0)]['status'] == 'cached'
    assert cells[('lightgcn', 0)]['status'] == 'ran'
    log = (out / cells[('lightgcn', 0)]['dir'] / 'train.log').read_text()
    assert 'resumed from' in log and 'at epoch 2' in log
    assert _metrics(resumed) == _metrics(reference)


def test_selection_never_reads_the_test_split(tiny_suite, tmp_path,
                                               monkeypatch):
    suite = tiny_suite(models=['lightgcn'], seeds=[0],
                       grid={'lightgcn': {'num_layers': [1, 2, 3],
                                          'reg_weight': [1e-4, 0.5]}})
    clean, _ = _run(suite, tmp_path / 'clean', grid=True)

    from lirdrec_pyg.data import load_dataset

    def corrupted(dataset, /, **kwargs):
        data = load_dataset(dataset, **kwargs)
        store = data['user', 'interacts', 'item']
        generator = torch.Generator().manual_seed(5)
        test = store.test_edge_index
        store.test_edge_index = torch.stack([
            test[0], torch.randint(0, data['item'].num_nodes,
                                   (test.size(1), ), generator=generator)])
        return data

    monkeypatch.setattr(cells_module, '_DATA', {})
    monkeypatch.setattr('lirdrec_pyg.data.load_dataset', corrupted)
    dirty, _ = _run(suite, tmp_path / 'dirty', grid=True)

    grid_clean = clean['entries'][0]['grid']
    grid_dirty = dirty['entries'][0]['grid']
    assert [p['valid'] for p in grid_dirty['points']] == \
        [p['valid'] for p in grid_clean['points']]
    assert grid_dirty['selected'] == grid_clean['selected']
    # the corruption reached the test metrics
    assert _cells(dirty)[('lightgcn', 0)]['test'] != \
        _cells(clean)[('lightgcn', 0)]['test']
    scores = [p['valid']['Recall@20'] for p in grid_clean['points']]
    assert grid_clean['selected'] == scores.index(max(scores))
    assert len(scores) == 6


def test_two_jobs_give_the_table_of_one(tiny_suite, tmp_path):
    suite = tiny_suite(models=['lightgcn', 'bpr'], seeds=[0, 1])
    serial, _ = _run(suite, tmp_path / 'one')
    parallel, code = _run(suite, tmp_path / 'two', ProcessExecutor(2))
    assert code == 0 and parallel['jobs'] == 2
    assert _metrics(parallel) == _metrics(serial)
    assert all(v[0] for v in _metrics(parallel).values())
    table = lambda p: (p / 'summary.md').read_text().split('## ', 1)[1]
    strip = lambda t: [line.rsplit('|', 4)[0] for line in t.splitlines()]
    assert strip(table(tmp_path / 'two')) == strip(table(tmp_path / 'one'))
