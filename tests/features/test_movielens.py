import numpy as np
import pytest

from tests.features.feature_helpers import FakeEmbedder, require_dataset
from lirdrec_pyg.features.movielens import (build_movielens_features,
                                            genre_matrix, movielens_genres,
                                            movielens_item_order)


@pytest.fixture
def tiny_movielens(tmp_path):
    folder = tmp_path / 'ml'
    folder.mkdir()
    (folder / 'movies.csv').write_text(
        'movieId,title,genres\n'
        '5,"Heat, The (1995)",Action|Crime\n'
        '2,Up (2009),Animation\n'
        '9,Nothing (2000),(no genres listed)\n'
        '7,Unrated (2001),Drama\n')
    (folder / 'ratings.csv').write_text(
        'userId,movieId,rating,timestamp\n1,5,4.0,10\n1,2,3.0,11\n'
        '2,9,5.0,12\n')
    (folder / 'tags.csv').write_text(
        'userId,movieId,tag,timestamp\n1,5,heist,1\n2,5,Heist,2\n'
        '2,2,balloons,3\n')
    return folder


def test_item_order_covers_the_catalogue(tiny_movielens):
    assert movielens_item_order(tiny_movielens) == [2, 5, 7, 9]
    assert movielens_genres(tiny_movielens)[9] == []


def test_genre_matrix_hand_computed():
    x, names = genre_matrix({1: ['b', 'a'], 2: ['c'], 3: []}, [3, 1, 2])
    assert names == ['a', 'b', 'c']
    assert np.array_equal(x, [[0, 0, 0], [1, 1, 0], [0, 0, 1]])


def test_build_movielens_features(tiny_movielens, tmp_path):
    from lirdrec_pyg.data.movielens import movielens_item_texts
    fake = FakeEmbedder()
    reports = build_movielens_features(tmp_path / 'out', tiny_movielens,
                                       fake, progress=False)
    texts = movielens_item_texts(tiny_movielens)
    x = np.load(tmp_path / 'out' / 'text_feat.npy')
    for item, movie in enumerate([2, 5, 7, 9]):
        assert np.allclose(x[item], FakeEmbedder.vector(texts[movie]))
    genres = np.load(tmp_path / 'out' / 'genre_feat.npy')
    assert reports['genre'].extra['genres'] == ['Action', 'Animation',
                                                'Crime', 'Drama']
    assert np.array_equal(genres, [[0, 1, 0, 0], [1, 0, 1, 0],
                                   [0, 0, 0, 1], [0, 0, 0, 0]])
    assert reports['text'].num_missing == 0


def test_build_movielens_features_explicit_order(tiny_movielens, tmp_path):
    reports = build_movielens_features(
        tmp_path, tiny_movielens, FakeEmbedder(), movie_ids=[9, 42],
        progress=False)
    assert reports['text'].missing_items == [1]  # movie 42 is unknown
    with pytest.raises(ValueError, match='repeated movie ids'):
        build_movielens_features(tmp_path, tiny_movielens, FakeEmbedder(),
                                 movie_ids=[9, 9])


@pytest.mark.real_data
def test_real_movielens_features_align_with_reader(tmp_path):
    folder = require_dataset('movielens_small')
    from lirdrec_pyg.data.movielens import read_movielens
    reports = build_movielens_features(tmp_path, folder, FakeEmbedder(),
                                       progress=False)
    data = read_movielens(folder, features_dir=tmp_path)
    raw = data['item'].raw_id.tolist()
    assert raw == movielens_item_order(folder)
    assert data['item'].text.shape == (len(raw), 8)
    assert data['item'].genre.shape == (len(raw), 19)
    assert reports['text'].num_missing == 0
    toy_story = raw.index(1)
    assert data['item'].genre[toy_story].sum() == 5  # Adventure|...|Fantasy
