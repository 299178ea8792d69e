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
        assert data_root() == Path.home() / 'lirdrec_data'


def test_registry():
    assert set(DATASETS) == {'lastfm2k', 'amazon_baby', 'movielens_small',
                             'synthetic'}
    for info in DATASETS.values():
        description, source, reader = info
        assert description and source and callable(reader)


def test_unknown_dataset():
    with pytest.raises(ValueError, match=r"unknown dataset 'baby'.*"
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


def write_mmrec(folder, name, features=True):
    import numpy as np
    folder.mkdir(parents=True)
    rows = ['0\t0\t0', '0\t1\t1', '0\t2\t2', '1\t1\t0', '1\t0\t1',
            '1\t2\t2']
    (folder / f'{name}.inter').write_text(
        'userID\titemID\tx_label\n' + '\n'.join(rows) + '\n')
    if features:
        np.save(folder / 'image_feat.npy', np.eye(3, 4, dtype=np.float32))


def test_dataset_by_path(tmp_path):
    from lirdrec_pyg.data.datasets import resolve_dataset
    write_mmrec(tmp_path / 'elsewhere' / 'shop', 'shop')
    data = load_dataset(tmp_path / 'elsewhere' / 'shop')
    assert data.name == 'shop' and data['item'].num_nodes == 3
    assert data.modalities == ['image']
    spec = resolve_dataset(str(tmp_path / 'elsewhere' / 'shop'))
    assert not spec.registered and spec.name == 'shop'
    # A folder whose .inter file has another name: that name.
    write_mmrec(tmp_path / 'x', 'clicks', features=False)
    assert load_dataset(str(tmp_path / 'x')).name == 'clicks'


def test_folder_named_like_a_registered_dataset_is_not_it(tmp_path):
    from lirdrec_pyg.data.datasets import resolve_dataset
    write_mmrec(tmp_path / 'mine' / 'lastfm2k', 'lastfm2k')
    spec = resolve_dataset(tmp_path / 'mine' / 'lastfm2k',
                           root=tmp_path / 'root')
    assert spec.name == 'lastfm2k' and not spec.registered
    # ... unless it is the registered dataset's own folder.
    write_mmrec(tmp_path / 'root' / 'lastfm2k', 'lastfm2k')
    spec = resolve_dataset(str(tmp_path / 'root' / 'lastfm2k') + '/',
                           root=tmp_path / 'root')
    assert spec.registered


def test_folders_under_the_root_are_datasets_by_name(tmp_path):
    write_mmrec(tmp_path / 'shop', 'shop')
    (tmp_path / 'notes').mkdir()
    listing = {d['name']: d for d in list_datasets(root=tmp_path)}
    assert listing['shop']['available'] and not listing['shop']['registered']
    assert 'notes' not in listing
    assert load_dataset('shop', root=tmp_path).name == 'shop'


def test_bad_dataset_paths(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="dataset folder '.*nope' "
                       "does not exist"):
        load_dataset(str(tmp_path / 'nope'))
    (tmp_path / 'empty').mkdir()
    with pytest.raises(DatasetNotFoundError, match="holds no .inter file.*"
                       "lirdrec data import"):
        load_dataset(str(tmp_path / 'empty'))
