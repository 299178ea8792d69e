r"""User mistakes on the command line: one line on stderr, exit code 2, no
traceback, and nothing written (docs/reliability.md lists them)."""
import json
import os

import pytest
import torch

from lirdrec_pyg.cli import main

SMALL = ['data.num_users=60', 'data.num_items=60', 'embedding_dim=8',
         'train.epochs=1']


def train(out, *extra, model='bpr', dataset='synthetic', small=True):
    args = ['train', '--dataset', str(dataset), '--model', model, '--out',
            str(out), '--no-progress', *extra]
    if small:
        args += ['--set', *SMALL]
    return main(args)


def one_line_error(capsys):
    err = capsys.readouterr().err.strip()
    assert 'Traceback' not in err
    # Log lines of the run may come first; the error is one last line.
    last = err.splitlines()[-1]
    assert last.startswith('lirdrec: error: '), err
    assert err.count('lirdrec: error') == 1
    return last


@pytest.mark.parametrize('setting,message', [
    ('lr=abc', "train.lr must be a number (got 'abc')"),
    ('num_layers=abc', "model.num_layers must be an integer (got 'abc')"),
    ('seed=abc', "train.seed must be an integer (got 'abc')"),
    ('reg_weight=abc', "model.reg_weight must be a number (got 'abc')"),
    ('data.foo=1', "unknown data key(s) ['foo'] for dataset 'synthetic'"),
    ('valid_metric=Foo@20', "(got 'Foo@20')"),
    ('valid_metric=Recall@30', "(got 'Recall@30')"),
    ('reg_weight=-1', 'model.reg_weight must be >= 0 (got -1.0)'),
    ('embedding_dim=0', 'model.embedding_dim must be positive (got 0)'),
    ('train.ks=[]', 'train.ks must be a non-empty list'),
    ('train.ks=[5, x]', "train.ks[1] must be an integer (got 'x')"),
    ('batch_size=0', 'train.batch_size must be a positive integer'),
    ('batch_size=2.5', 'train.batch_size must be an integer (got 2.5)'),
    ('epochs=true', 'train.epochs must be an integer (got True)'),
    ('lr=-1', 'train.lr must be positive'),
    ('lr=.nan', 'train.lr must be a finite number'),
    ('weight_decay=-1e-3', 'train.weight_decay must be >= 0'),
    ('negatives=test_items', 'train.negatives must be one of'),
    ('data.num_users=x', "data.num_users must be an integer (got 'x')"),
    ('data.ratios=0.8', 'data.ratios must be a list of a number'),
    ('eval.cold_item_fraction=2', 'eval.cold_item_fraction must be a number '
     'in [0, 1)'),
    ('eval.foo=1', "unknown eval key(s) ['foo']"),
    ('embeding_dim=8', "--set 'embeding_dim': unknown key"),
    ('modle.num_layers=2', "unknown section 'modle'"),
    ('num_layers', 'expects key=value'),
    ('train.lrr=1', "unknown train key(s) ['lrr']"),
    ('model.dropout=1.5', "unknown model key(s) ['dropout'] for model "
     "'lightgcn'"),
])
def test_typed_mistakes_are_one_line_errors(tmp_path, capsys, setting,
                                            message):
    out = tmp_path / 'run'
    code = main(['train', '--dataset', 'synthetic', '--model', 'lightgcn',
                 '--out', str(out), '--set', setting])
    assert code == 2
    assert message in one_line_error(capsys)
    assert not out.exists()  # checked before anything is loaded or written


@pytest.mark.parametrize('args,message', [
    (['--cold-items', '-0.1'], 'eval.cold_item_fraction must be a number in '
     '[0, 1) (got -0.1)'),
    (['--threads', '0'], 'train.threads must be a positive integer'),
    (['--resume', '--overwrite'], '--resume and --overwrite exclude each '
     'other'),
])
def test_flag_mistakes(tmp_path, capsys, args, message):
    assert train(tmp_path / 'run', *args) == 2
    assert message in one_line_error(capsys)


def test_bad_config_file_and_dataset(tmp_path, capsys):
    bad = tmp_path / 'bad.yaml'
    bad.write_text('train:\n  lr: [1\n')
    assert train(tmp_path / 'r', '--config', str(bad)) == 2
    assert "config file '" in one_line_error(capsys)
    bad.write_text('train: 3\n')
    assert train(tmp_path / 'r', '--config', str(bad)) == 2
    assert "section 'train' must be a mapping" in one_line_error(capsys)
    assert train(tmp_path / 'r', '--config', str(tmp_path / 'no.yaml')) == 2
    assert "no.yaml' does not exist" in one_line_error(capsys)
    assert train(tmp_path / 'r', dataset=tmp_path / 'nothing') == 2
    assert 'does not exist' in one_line_error(capsys)
    assert train(tmp_path / 'r', dataset='lastfm') == 2
    assert "unknown dataset 'lastfm'" in one_line_error(capsys)


def test_reused_out_and_changed_resume_are_refused(tmp_path, capsys):
    out = tmp_path / 'run'
    assert train(out) == 0
    capsys.readouterr()
    first = json.loads((out / 'results.json').read_text())
    assert first['seed'] == 2024 and first['config']['run']['seed'] == 2024
    assert train(out, model='lightgcn') == 2
    assert 'already holds a run (bpr on synthetic, finished)' in \
        one_line_error(capsys)
    assert train(out, '--resume', '--set', *SMALL, 'lr=0.01',
                 small=False) == 2
    assert 'train.lr: 0.001 -> 0.01' in one_line_error(capsys)
    # Unchanged results: the refused runs wrote nothing.
    assert json.loads((out / 'results.json').read_text()) == first
    assert train(out, '--overwrite', model='lightgcn') == 0
    again = json.loads((out / 'results.json').read_text())
    assert again['model'] == 'lightgcn'


def test_config_yaml_records_the_run(tmp_path):
    import yaml
    out = tmp_path / 'run'
    assert train(out, '--set', *SMALL, 'seed=7', small=False) == 0
    saved = yaml.safe_load((out / 'config.yaml').read_text())
    assert saved['run'] == {
        'model': 'bpr', 'dataset': 'synthetic', 'dataset_path': None,
        'dataset_config': 'configs/datasets/synthetic.yaml',
        'config_file': None, 'seed': 7, 'processes': 1}
    assert saved['model']['embedding_dim'] == 8
    assert saved['train']['negatives'] == 'train_items'
    assert saved['data']['num_users'] == 60  # --set over the dataset yaml
    assert saved['data']['feature_noise'] == 0.5  # the reader's default


@pytest.mark.parametrize('target', ['checkpoint.pt', 'best_model.pt'])
def test_pickle_payload_in_run_folder_never_runs(tmp_path, capsys, target):
    out = tmp_path / 'run'
    assert train(out) == 0
    capsys.readouterr()
    marker = tmp_path / 'pwned'

    class Payload:
        def __reduce__(self):
            return (os.system, (f'touch {marker}', ))

    torch.save({'model': Payload(), 'model_extra': {}, 'optimizer': {},
                'trainer': {}}, out / target)
    # best_model.pt is read when a finished run is resumed (the best
    # epoch's weights are restored from it).
    code = train(out, '--resume')
    assert code == 2
    err = one_line_error(capsys)
    assert f"checkpoint '{out / target}' was refused" in err
    assert not marker.exists()


def test_truncated_checkpoint_is_a_clear_error(tmp_path, capsys):
    out = tmp_path / 'run'
    assert train(out) == 0
    capsys.readouterr()
    data = (out / 'checkpoint.pt').read_bytes()
    (out / 'checkpoint.pt').write_bytes(data[:100])
    assert train(out, '--resume') == 2
    assert 'cannot be read (corrupt, truncated' in one_line_error(capsys)


def test_dataset_folder_by_path_trains(tmp_path, capsys):
    import numpy as np
    folder = tmp_path / 'shop'
    folder.mkdir()
    gen = np.random.default_rng(0)
    rows = ['userID\titemID\tx_label']
    for u in range(30):
        items = gen.choice(60, 6, replace=False)
        rows += [f'{u}\t{i}\t{0 if k < 4 else k - 3}'
                 for k, i in enumerate(items)]
    (folder / 'shop.inter').write_text('\n'.join(rows) + '\n')
    np.save(folder / 'text_feat.npy', gen.normal(size=(60, 6)).astype(
        np.float32))
    out = tmp_path / 'run'
    assert main(['train', '--dataset', str(folder), '--model', 'lirdrec',
                 '--out', str(out), '--no-progress', '--set',
                 'train.epochs=2', 'embedding_dim=8']) == 0
    results = json.loads((out / 'results.json').read_text())
    assert results['dataset'] == 'shop'
    assert results['config']['run']['dataset_path'] == str(folder.resolve())
    assert results['config']['run']['dataset_config'] is None
    assert results['item_graph_weights'] == {'text': 1.0}
    assert 'item-graph modality weights: text 1' in capsys.readouterr().err


def test_ctrl_c_is_a_clean_exit(tmp_path, capsys, monkeypatch):
    import lirdrec_pyg.train.experiment as experiment

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(experiment, 'run_experiment', interrupted)
    assert train(tmp_path / 'run') == 130
    err = capsys.readouterr().err
    assert 'interrupted (continue a training run with --resume)' in err
    assert 'Traceback' not in err


def test_repeated_set_flags_add_up(tmp_path, capsys):
    import yaml
    out = tmp_path / 'run'
    assert main(['train', '--dataset', 'synthetic', '--model', 'bpr',
                 '--out', str(out), '--no-progress', '--set', *SMALL,
                 '--set', 'seed=3']) == 0
    saved = yaml.safe_load((out / 'config.yaml').read_text())
    assert saved['train']['epochs'] == 1 and saved['train']['seed'] == 3


def test_setup_failure_leaves_the_folder_reusable(tmp_path, capsys):
    out = tmp_path / 'run'
    # 60 items cannot be ranked at K = 100: found only once the data is in.
    assert train(out, '--set', *SMALL, 'train.ks=[10, 20, 100]',
                 small=False) == 2
    assert "set cut-offs that fit, e.g. --set 'train.ks=[10, 20]'" in \
        one_line_error(capsys)
    assert not (out / 'checkpoint.pt').exists()
    assert train(out) == 0  # no --overwrite needed: nothing had trained


def test_resume_without_checkpoint_is_refused(tmp_path, capsys):
    out = tmp_path / 'run'
    assert train(out) == 0
    capsys.readouterr()
    (out / 'checkpoint.pt').unlink()
    assert train(out, '--resume') == 2
    assert 'holds no checkpoint.pt to resume from' in one_line_error(capsys)


def test_resume_with_fewer_epochs_than_trained_is_refused(tmp_path, capsys):
    out = tmp_path / 'run'
    assert train(out, '--set', *SMALL, 'train.epochs=3', small=False) == 0
    capsys.readouterr()
    saved = {name: (out / name).read_bytes()
             for name in ('results.json', 'config.yaml', 'checkpoint.pt')}
    assert train(out, '--resume', '--set', *SMALL, 'train.epochs=2',
                 small=False) == 2
    assert ('has trained 3 epochs, more than train.epochs=2; resume with '
            'train.epochs >= 3') in one_line_error(capsys)
    for name, content in saved.items():  # the folder still describes it
        assert (out / name).read_bytes() == content, name
    assert train(out, '--resume', '--set', *SMALL, 'train.epochs=4',
                 small=False) == 0


def test_argparse_mistakes_are_one_line(tmp_path, capsys):
    import pytest as _pytest
    for args in (['train', '--dataset', 'synthetic', '--model', 'lightgnc',
                  '--out', str(tmp_path)],
                 ['train', '--model', 'bpr', '--out', str(tmp_path)],
                 ['train', '--dataset', 'synthetic', '--model', 'bpr',
                  '--out', str(tmp_path), '--threads', 'abc']):
        with _pytest.raises(SystemExit) as info:
            main(args)
        assert info.value.code == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith('lirdrec: error: ') and '\n' not in err, err
        assert '(see `lirdrec train --help`)' in err


def test_inter_file_instead_of_folder(tmp_path, capsys):
    (tmp_path / 'shop').mkdir()
    (tmp_path / 'shop' / 'shop.inter').write_text('userID\titemID\tx_label\n')
    assert train(tmp_path / 'run',
                 dataset=tmp_path / 'shop' / 'shop.inter') == 2
    assert "is a file; pass the folder that holds it" in \
        one_line_error(capsys)


def test_resume_of_a_folder_without_a_run_is_refused(tmp_path, capsys):
    # A mistyped --out must not start a whole new run under --resume.
    out = tmp_path / 'typo'
    assert train(out, '--resume') == 2
    assert f"--resume: '{out}' holds no run to resume" in \
        one_line_error(capsys)
    assert not (out / 'config.yaml').exists()


@pytest.mark.parametrize('model,extra,env,message', [
    ('bpr', ['--set', 'train.mode=sampled'], {},
     "train.mode='sampled' is not supported by BPR"),
    ('lightgcn', ['--set', 'train.mode=sampled'], {'WORLD_SIZE': '2'},
     "train.mode='sampled' runs in one process only"),
    ('vbpr', [], {'WORLD_SIZE': '2'}, 'model VBPR runs in one process only'),
])
def test_model_setup_refused_before_loading_data(tmp_path, capsys,
                                                  monkeypatch, model, extra,
                                                  env, message):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    # Any data loading would fail loudly: the check must come first.
    monkeypatch.setattr('lirdrec_pyg.train.experiment.load_dataset',
                        lambda *a, **k: pytest.fail('data was loaded'))
    out = tmp_path / 'run'
    assert train(out, *extra, model=model) == 2
    assert message in one_line_error(capsys)
    assert not out.exists()
