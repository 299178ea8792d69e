from pathlib import Path

import numpy as np
import pytest
import torch

from lirdrec_pyg.data import (
    ITEM,
    UI,
    DataFormatError,
    get_modalities,
    movielens_item_texts,
    read_movielens,
    split_edge_index,
)

RATINGS = """userId,movieId,rating,timestamp
7,10,4.0,100
7,30,2.0,300
7,20,5.0,200
7,40,3.5,400
7,50,4.5,500
3,20,1.0,150
3,10,5.0,50
3,40,4.0,250
3,50,3.0,350
3,30,4.0,450
"""

MOVIES = """movieId,title,genres
10,Alpha (1990),Drama|Comedy
20,"Beta, The (1991)",(no genres listed)
30,Gamma (1992),Action
40,Delta (1993),Drama
50,Epsilon (1994),Horror
60,Unrated (1995),Drama
"""

TAGS = """userId,movieId,tag,timestamp
7,10,funny,1
3,10,classic,2
7,10,funny,3
7,30,loud,4
"""


def write_folder(tmp_path: Path) -> Path:
    folder = tmp_path / 'ml'
    folder.mkdir()
    (folder / 'ratings.csv').write_text(RATINGS)
    (folder / 'movies.csv').write_text(MOVIES)
    (folder / 'tags.csv').write_text(TAGS)
    return folder


def all_raw_edges(data):
    out = set()
    for s in ('train', 'valid', 'test'):
        e = split_edge_index(data, s)
        users = data['user'].raw_id[e[0]].tolist()
        items = data[ITEM].raw_id[e[1]].tolist()
        out |= set(zip(users, items))
    return out


def test_read_movielens_toy(tmp_path):
    folder = write_folder(tmp_path)
    data = read_movielens(folder, min_rating=3.0, ratios=(0.5, 0.25, 0.25),
                          name='toy')
    assert data.name == 'toy'
    assert data['user'].raw_id.tolist() == [3, 7]
    # Items cover the whole catalogue, including the unrated movie 60.
    assert data[ITEM].raw_id.tolist() == [10, 20, 30, 40, 50, 60]
    assert data[ITEM].num_nodes == 6
    assert all_raw_edges(data) == {(7, 10), (7, 20), (7, 40), (7, 50),
                                   (3, 10), (3, 40), (3, 50), (3, 30)}
    # Training timestamps follow the (user, item) order of the edges.
    train = split_edge_index(data, 'train')
    raw_time = {(7, 10): 100, (7, 20): 200, (7, 40): 400, (7, 50): 500,
                (3, 10): 50, (3, 40): 250, (3, 50): 350, (3, 30): 450}
    expected = [raw_time[(int(data['user'].raw_id[u]),
                          int(data[ITEM].raw_id[i]))]
                for u, i in train.t().tolist()]
    assert data[UI].time.tolist() == expected


def test_read_movielens_temporal(tmp_path):
    folder = write_folder(tmp_path)
    data = read_movielens(folder, split='temporal', ratios=(0.6, 0.2, 0.2))
    raw_u, raw_i = data['user'].raw_id, data[ITEM].raw_id
    test = split_edge_index(data, 'test')
    # Each user's latest rating is its test item.
    assert {(int(raw_u[u]), int(raw_i[i])) for u, i in test.t().tolist()} \
        == {(7, 50), (3, 30)}
    with pytest.raises(ValueError, match="Unknown split 'future'"):
        read_movielens(folder, split='future')


def test_read_movielens_features(tmp_path):
    folder = write_folder(tmp_path)
    feat_dir = tmp_path / 'feats'
    feat_dir.mkdir()
    x = np.arange(12, dtype=np.float64).reshape(6, 2)
    np.save(feat_dir / 'text_feat.npy', x)
    data = read_movielens(folder, ratios=(0.6, 0.2, 0.2),
                          features_dir=feat_dir)
    assert get_modalities(data) == ['text']
    assert torch.equal(data[ITEM]['text'], torch.from_numpy(x).float())
    np.save(feat_dir / 'text_feat.npy', x[:5])
    with pytest.raises(DataFormatError, match='text_feat.npy: found 5 rows'):
        read_movielens(folder, ratios=(0.6, 0.2, 0.2), features_dir=feat_dir)


def test_read_movielens_bad_input(tmp_path):
    folder = write_folder(tmp_path)
    (folder / 'ratings.csv').write_text('userId,movieId,stars,timestamp\n')
    with pytest.raises(DataFormatError, match="ratings.csv: missing column "
                                              "'rating'"):
        read_movielens(folder)
    (folder / 'ratings.csv').write_text(RATINGS)
    with pytest.raises(DataFormatError, match="'valid' split is empty"):
        read_movielens(folder, ratios=(0.95, 0.05, 0.0))


def test_movielens_item_texts(tmp_path):
    texts = movielens_item_texts(write_folder(tmp_path))
    assert texts[10] == 'Alpha (1990). genres: Drama, Comedy. tags: funny, ' \
                        'classic'
    assert texts[20] == 'Beta, The (1991)'
    assert texts[30] == 'Gamma (1992). genres: Action. tags: loud'
    assert len(texts) == 6


def test_movielens_small(load_or_skip):
    data = load_or_skip('movielens_small')
    assert data['user'].num_nodes == 671
    assert data[ITEM].num_nodes == 9125
    sizes = [split_edge_index(data, s).size(1)
             for s in ('train', 'valid', 'test')]
    assert min(sizes) > 0 and sum(sizes) == 100004
    assert data['user'].raw_id.tolist() == list(range(1, 672))
    raw = data[ITEM].raw_id
    assert bool((raw[1:] > raw[:-1]).all())
    # Spot-check the mapping against the first rows of ratings.csv.
    edges = all_raw_edges(data)
    assert (1, 31) in edges and (1, 1029) in edges


def test_movielens_small_texts(load_or_skip):
    load_or_skip('movielens_small')  # skips without the data
    from lirdrec_pyg.data import data_root
    texts = movielens_item_texts(data_root() / 'movielens_small')
    assert len(texts) == 9125
    assert texts[1].startswith('Toy Story (1995). genres: Adventure, '
                               'Animation, Children, Comedy, Fantasy')
