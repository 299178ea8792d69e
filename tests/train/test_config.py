import pytest

from lirdrec_pyg.train.config import load_config, parse_set, read_yaml


def test_model_file_then_set_overrides():
    cfg = load_config('lightgcn', dataset='synthetic',
                      overrides=['num_layers=3', 'train.lr=1e-4',
                                 'reg_weight=1e-2'])
    assert cfg['model']['num_layers'] == 3
    assert cfg['model']['reg_weight'] == pytest.approx(1e-2)
    assert cfg['model']['embedding_dim'] == 64  # from configs/models
    assert cfg['train']['lr'] == pytest.approx(1e-4)
    assert cfg['data']['num_users'] == 2000  # from configs/datasets
    assert 'search' not in cfg


def test_user_file_overrides_defaults(tmp_path):
    path = tmp_path / 'mine.yaml'
    path.write_text('model:\n  num_layers: 4\ntrain:\n  patience: 5\n')
    cfg = load_config('lightgcn', config_file=path)
    assert cfg['model']['num_layers'] == 4
    assert cfg['train']['patience'] == 5


def test_unknown_keys_are_errors(tmp_path):
    with pytest.raises(ValueError, match="--set 'layers': unknown key"):
        parse_set(['layers=2'], ['num_layers'])
    with pytest.raises(ValueError, match="unknown section 'modle'"):
        parse_set(['modle.num_layers=2'], ['num_layers'])
    with pytest.raises(ValueError, match='expects key=value'):
        parse_set(['num_layers'], ['num_layers'])
    bad = tmp_path / 'bad.yaml'
    bad.write_text('trainer:\n  lr: 1\n')
    with pytest.raises(ValueError, match=r"bad.yaml' has unknown section\(s\)"
                       r" \['trainer'\]"):
        read_yaml(bad)
    with pytest.raises(ValueError, match=r"unknown eval key\(s\)"):
        load_config('bpr', overrides=['eval.cold=0.1'])


def test_values_are_parsed_as_yaml():
    out = parse_set(['train.ks=[5, 20]', 'use_pwc=false'],
                    ['use_pwc'])
    assert out == {'train': {'ks': [5, 20]}, 'model': {'use_pwc': False}}


def test_max_epochs_environment_caps_train_epochs(monkeypatch):
    monkeypatch.setenv('LIRDREC_MAX_EPOCHS', '2')
    assert load_config('lirdrec')['train']['epochs'] == 2       # yaml: 1000
    assert load_config('itemknn_cbf')['train']['epochs'] == 1   # below cap
    assert load_config('popularity')['train']['epochs'] == 2    # default
    monkeypatch.setenv('LIRDREC_MAX_EPOCHS', '5000')
    assert load_config('lirdrec')['train']['epochs'] == 1000
    monkeypatch.setenv('LIRDREC_MAX_EPOCHS', 'two')
    with pytest.raises(ValueError, match='LIRDREC_MAX_EPOCHS'):
        load_config('lirdrec')
    monkeypatch.delenv('LIRDREC_MAX_EPOCHS')
    assert load_config('lirdrec')['train']['epochs'] == 1000
