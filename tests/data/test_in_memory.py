import os

import numpy as np
import pytest
import torch

from lirdrec_pyg.data import DatasetNotFoundError, load_dataset
from lirdrec_pyg.data import datasets as registry
from lirdrec_pyg.data.in_memory import RecommendationDataset
from tests.data.test_mmrec import ROWS


def write_lastfm(root):
    folder = root / 'lastfm2k'
    folder.mkdir(parents=True)
    lines = ['userID\titemID\tx_label'] + [
        '\t'.join(str(v) for v in row) for row in ROWS]
    (folder / 'lastfm2k.inter').write_text('\n'.join(lines) + '\n')
    np.save(folder / 'text_feat.npy',
            np.random.default_rng(0).normal(size=(4, 3)))
    return folder


def assert_same_graph(a, b):
    assert a.node_types == b.node_types and a.edge_types == b.edge_types
    for store_a, store_b in zip(a.stores, b.stores):
        assert list(store_a.keys()) == list(store_b.keys())
        for key, value in store_a.items():
            if isinstance(value, torch.Tensor):
                assert torch.equal(value, store_b[key]), key
            else:
                assert value == store_b[key], key


def counting_loader(monkeypatch):
    calls = []
    real = registry.load_dataset

    def load(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)
    monkeypatch.setattr(registry, 'load_dataset', load)
    return calls


def test_generated_dataset_is_processed_once(tmp_path, monkeypatch):
    calls = counting_loader(monkeypatch)
    kwargs = dict(num_users=40, num_items=30, interactions_per_user=6)
    first = RecommendationDataset(tmp_path, 'synthetic', **kwargs)
    assert len(first) == 1 and len(calls) == 1
    assert_same_graph(first[0], load_dataset('synthetic', **kwargs))
    again = RecommendationDataset(tmp_path, 'synthetic', **kwargs)
    assert len(calls) == 1  # read from the cache
    assert_same_graph(again[0], first[0])
    RecommendationDataset(tmp_path, 'synthetic', **kwargs, seed=1)
    assert len(calls) == 2  # other arguments, another cache file
    assert repr(first) == 'RecommendationDataset(synthetic)'


def test_raw_files_changes_are_processed_again(tmp_path, monkeypatch):
    folder = write_lastfm(tmp_path / 'raw')
    calls = counting_loader(monkeypatch)
    dataset = RecommendationDataset(tmp_path / 'cache', 'lastfm2k',
                                    data_root=tmp_path / 'raw')
    assert dataset[0].modalities == ['text']
    assert dataset[0]['item'].num_nodes == 4
    RecommendationDataset(tmp_path / 'cache', 'lastfm2k',
                          data_root=tmp_path / 'raw')
    assert len(calls) == 1
    np.save(folder / 'text_feat.npy', np.ones((4, 5)))
    stat = os.stat(folder / 'text_feat.npy')
    os.utime(folder / 'text_feat.npy', ns=(stat.st_atime_ns,
                                           stat.st_mtime_ns + 10**9))
    changed = RecommendationDataset(tmp_path / 'cache', 'lastfm2k',
                                    data_root=tmp_path / 'raw')
    assert len(calls) == 2
    assert changed[0]['item'].text.shape == (4, 5)


def test_transforms(tmp_path):
    def pre(data):
        data.marker = 7
        return data

    def add_flag(data):
        data.flag = True
        return data
    dataset = RecommendationDataset(tmp_path, 'synthetic', num_users=30,
                                    num_items=20, pre_transform=pre,
                                    transform=add_flag)
    assert dataset[0].marker == 7 and dataset[0].flag is True


def test_errors(tmp_path):
    with pytest.raises(ValueError, match='Unknown dataset'):
        RecommendationDataset(tmp_path, 'nope')
    with pytest.raises(DatasetNotFoundError, match="'lastfm2k' not found"):
        RecommendationDataset(tmp_path, 'lastfm2k',
                              data_root=tmp_path / 'empty')
    with pytest.raises(ValueError, match='JSON'):
        RecommendationDataset(tmp_path, 'synthetic', ratios=object())
