from lirdrec_pyg.benchmark.cells import config_hash
from lirdrec_pyg.train.config import load_config


def test_hash_covers_settings_but_not_seed_threads_or_spelled_defaults():
    base = load_config('lightgcn', 'synthetic')
    key = config_hash(base, 'lightgcn')
    same = load_config('lightgcn', 'synthetic',
                       overrides=['train.seed=7', 'train.threads=2',
                                  'train.progress=false',
                                  'train.eval_every=1'])      # the default
    assert config_hash(same, 'lightgcn') == key
    for change in (['num_layers=3'], ['train.lr=0.01'],
                   ['data.num_users=100'], ['eval.cold_item_fraction=0.1']):
        other = load_config('lightgcn', 'synthetic', overrides=change)
        assert config_hash(other, 'lightgcn') != key, change
