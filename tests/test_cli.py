import json

import pytest

from lirdrec_pyg.cli import main


def test_train_writes_results_and_resumes(tmp_path, capsys):
    out = tmp_path / 'run'
    args = ['train', '--dataset', 'synthetic', '--model', 'bpr', '--out',
            str(out), '--no-progress', '--set', 'train.epochs=3',
            'data.num_users=200', 'data.num_items=100', 'embedding_dim=8']
    assert main(args) == 0
    results = json.loads((out / 'results.json').read_text())
    for key in ('dataset', 'model', 'config', 'best_epoch', 'epochs',
                'valid', 'test', 'train_seconds', 'versions', 'threads'):
        assert key in results
    assert results['threads'] == 1
    assert results['epochs'] == 3
    assert {'Recall@10', 'Recall@20', 'NDCG@10', 'NDCG@20'} <= set(
        results['test'])
    assert (out / 'config.yaml').exists() and (out / 'train.log').exists()
    history = results['history']
    assert [h['epoch'] for h in history] == [1, 2, 3]
    assert all(h['loss'] > 0 and 'Recall@20' in h['valid'] for h in history)
    best = history[results['best_epoch'] - 1]['valid']
    assert best['Recall@20'] == round(results['valid']['Recall@20'], 6)
    # A finished run resumed does no more epochs and reports the same.
    assert main(args + ['--resume']) == 0
    again = json.loads((out / 'results.json').read_text())
    assert again['test'] == results['test']
    assert [h['loss'] for h in again['history']] == [
        h['loss'] for h in history]
    # Its learning curves.
    assert main(['plot', str(out), '--out', str(tmp_path / 'c.png')]) == 0
    assert (tmp_path / 'c.png').read_bytes().startswith(b'\x89PNG')


def test_unknown_key_is_a_clear_error(tmp_path, capsys):
    code = main(['train', '--dataset', 'synthetic', '--model', 'bpr',
                 '--out', str(tmp_path), '--set', 'embeding_dim=8'])
    assert code == 2
    assert "--set 'embeding_dim': unknown key" in capsys.readouterr().err


def test_datasets_lists_all(capsys):
    assert main(['datasets']) == 0
    out = capsys.readouterr().out
    for name in ('lastfm2k', 'amazon_baby', 'movielens_small', 'synthetic'):
        assert name in out


def test_cold_items_protocol(tmp_path, capsys):
    out = tmp_path / 'cold'
    assert main(['train', '--dataset', 'synthetic', '--model', 'bpr', '--out',
                 str(out), '--no-progress', '--cold-items', '0.2', '--set',
                 'train.epochs=2', 'data.num_users=200',
                 'data.num_items=100']) == 0
    cold = json.loads((out / 'results.json').read_text())['cold_start']
    assert cold['num_cold_items'] == 20
    assert cold['random_Recall@10'] == 0.5
    # Only the 20 held-out items are ranked: at K >= 20 every ranking
    # recalls them all, so those cut-offs are dropped.
    assert 'Recall@10' in cold and 'Recall@20' not in cold
    assert 'Recall@50' not in cold


def test_build_kernels(capsys, monkeypatch):
    assert main(['build-kernels']) == 0
    assert 'built and loads' in capsys.readouterr().out
    monkeypatch.setenv('LIRDREC_KERNELS', '0')
    assert main(['build-kernels']) == 1
    assert 'disabled' in capsys.readouterr().out


def test_settings_warning_is_one_line_without_a_source_location():
    import os
    import warnings

    from lirdrec_pyg import cli
    from lirdrec_pyg.train import TrainConfig

    # Where TrainConfig's check warns from: the dataclass's generated
    # __init__ ('<string>'), called inside the package.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        TrainConfig(num_neighbors=5)
    (w, ) = [c for c in caught if 'num_neighbors' in str(c.message)]
    line = cli._format_warning(w.message, w.category, w.filename, w.lineno)
    assert line == f'lirdrec: warning: {w.message}\n'
    # A warning from a package file is shortened too; one from another
    # library keeps Python's format with its location.
    inside = os.path.join(cli._PACKAGE_DIR, 'train', 'trainer.py')
    assert cli._format_warning('x', UserWarning, inside, 3).startswith(
        'lirdrec: warning: x')
    other = cli._format_warning('y', UserWarning, '/elsewhere/mod.py', 7)
    assert other.startswith('/elsewhere/mod.py:7: UserWarning: y')
    assert cli._format_warning('z', DeprecationWarning, inside, 1) != \
        'lirdrec: warning: z\n'


def test_a_command_leaves_the_process_group_it_joined(tmp_path, monkeypatch):
    # Under torchrun a command joins a Gloo group; main() must destroy it
    # before the interpreter exits, but leave a group its caller made.
    import argparse

    import torch.distributed as dist

    from lirdrec_pyg import cli
    store = iter(f"file://{tmp_path / f'store{i}'}" for i in range(3))

    def join() -> None:
        dist.init_process_group('gloo', init_method=next(store),
                                world_size=1, rank=0)

    def parser() -> argparse.ArgumentParser:
        p = argparse.ArgumentParser()
        p.set_defaults(func=lambda args: join(), debug=False)
        return p
    monkeypatch.setattr(cli, 'build_parser', parser)
    assert cli.main([]) == 0
    assert not dist.is_initialized()

    join()
    try:
        monkeypatch.setattr(cli, 'build_parser', lambda: argparse.Namespace(
            parse_args=lambda argv: argparse.Namespace(
                func=lambda args: 0, debug=False)))
        assert cli.main([]) == 0
        assert dist.is_initialized()
    finally:
        dist.destroy_process_group()


def test_run_log_records_the_warnings_and_the_error(tmp_path, capsys):
    # A settings warning (from the config's check before the folder exists)
    # is shown once and written to train.log; a bad model setting stops the
    # run after config.yaml is written, and train.log says why.
    out = tmp_path / 'run'
    args = ['train', '--dataset', 'synthetic', '--model', 'lightgcn',
            '--out', str(out), '--no-progress', '--set', 'train.epochs=1',
            'train.num_neighbors=[5,5]', 'data.num_users=100',
            'data.num_items=60', 'embedding_dim=8']
    with pytest.warns(UserWarning, match='has no effect') as caught:
        assert main(args) == 0
    # Checked twice (the config, then the run), shown once.
    assert sum('train.num_neighbors=[5, 5] has no effect' in str(w.message)
               for w in caught) == 1
    log = (out / 'train.log').read_text()
    assert log.count('warning: train.num_neighbors=[5, 5] has no effect') == 1
    bad = tmp_path / 'bad'
    assert main(['train', '--dataset', 'synthetic', '--model', 'lightgcn',
                 '--out', str(bad), '--set', 'combine=bogus']) == 2
    assert (bad / 'config.yaml').exists()
    last = (bad / 'train.log').read_text().strip().splitlines()[-1]
    assert last.endswith("error: 'combine' must be one of ('mean', 'sum', "
                         "'last') (got 'bogus')")


def test_progress_bar_only_on_a_terminal(tmp_path, capsys):
    # Captured (not a terminal) stderr gets the epoch lines, not a bar's
    # redraws.
    out = tmp_path / 'run'
    assert main(['train', '--dataset', 'synthetic', '--model', 'bpr',
                 '--out', str(out), '--set', 'train.epochs=2',
                 'data.num_users=100', 'data.num_items=60',
                 'embedding_dim=8']) == 0
    err = capsys.readouterr().err
    assert 'epoch 2 |' in err
    assert '\r' not in err and 'epoch/s' not in err and '2/2' not in err
