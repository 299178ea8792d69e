from pathlib import Path

import pytest

import lirdrec_pyg
from lirdrec_pyg.data import (
    DATASETS,
    DatasetNotFoundError,
    data_root,
    list_datasets,
    load_dataset,
)


def test_data_root(monkeypatch, tmp_path):
    monkeypatch.setenv('LIRDREC_DATA', str(tmp_path))
    assert data_root() == tmp_path
    monkeypatch.delenv('LIRDREC_DATA')
    repo_root = Path(lirdrec_pyg.__file__).resolve().parents[1]
    expected = repo_root.parent / 'shared' / 'data'
    if expected.is_dir():
        assert data_root() == expected
    else:
        assert data_root() == Path('..', 'shared', 'data')


def test_registry():
    assert set(DATASETS) == {'lastfm2k', 'amazon_baby', 'movielens_small',
                             'synthetic'}
    for info in DATASETS.values():
        description, source, loader = info
        assert description and source and callable(loader)


def test_unknown_dataset():
    with pytest.raises(ValueError, match=r"Unknown dataset 'baby'.*"
                                         r"'amazon_baby'.*'synthetic'"):
        load_dataset('baby')


def test_missing_dataset(tmp_path):
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset('lastfm2k', root=tmp_path)
    message = str(info.value)
    assert str(tmp_path / 'lastfm2k') in message
    assert 'Last.fm' in message and 'HetRec' in message
    assert 'LIRDREC_DATA' in message
    assert isinstance(info.value, FileNotFoundError)


def test_list_datasets(tmp_path):
    (tmp_path / 'amazon_baby').mkdir()
    listing = {d['name']: d for d in list_datasets(root=tmp_path)}
    assert listing['amazon_baby']['available']
    assert listing['amazon_baby']['path'] == tmp_path / 'amazon_baby'
    assert not listing['lastfm2k']['available']
    assert listing['synthetic']['available']
    assert listing['synthetic']['path'] is None
    assert all(d['description'] for d in listing.values())


def test_load_dataset_dispatch(tmp_path):
    data = load_dataset('synthetic', num_users=20, num_items=15,
                        interactions_per_user=4, seed=2)
    assert data['user'].num_nodes == 20 and data.name == 'synthetic'

    folder = tmp_path / 'amazon_baby'
    folder.mkdir()
    rows = ['0\t0\t0', '0\t1\t1', '0\t2\t2', '1\t1\t0']
    (folder / 'amazon_baby.inter').write_text(
        'userID\titemID\tx_label\n' + '\n'.join(rows) + '\n')
    data = load_dataset('amazon_baby', root=tmp_path)
    assert data.name == 'amazon_baby' and data['item'].num_nodes == 3
