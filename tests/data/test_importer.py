import json
from pathlib import Path
from typing import List, Sequence, Set, Tuple

import numpy as np
import pytest
import torch

from lirdrec_pyg.data import DataFormatError, read_mmrec, split_edge_index
from lirdrec_pyg.data.importer import (
    align_texts,
    dense_ids,
    drop_duplicates,
    import_interactions,
    k_core,
    raw_id_order,
    read_id_map,
    read_interactions,
    read_item_texts,
    split_labels,
)
from lirdrec_pyg.data.mmrec import read_inter_file
from lirdrec_pyg.data.splits import random_split_per_user
from tests.features.feature_helpers import FakeEmbedder


def write_table(path: Path, header: Sequence[str], rows: Sequence[Sequence],
                sep: str = ',') -> Path:
    lines = [sep.join(header)] + [sep.join(str(v) for v in r) for r in rows]
    path.write_text('\n'.join(lines) + '\n')
    return path


def planted_rows(num_users: int = 30, num_items: int = 20, per_user: int = 8,
                 seed: int = 0) -> List[Tuple[str, str, int, float]]:
    # String user ids, huge integer item ids, times interleaved over users.
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(num_users):
        for i in rng.choice(num_items, per_user, replace=False):
            rows.append((f'user_{u:03d}', str(10**12 + int(i) * 7),
                         int(rng.integers(10**9, 2 * 10**9)),
                         float(rng.integers(1, 6))))
    return rows


def imported_pairs(folder: Path, name: str) -> Set[Tuple[str, str]]:
    # Raw (user, item) pairs of an imported folder, through the id maps.
    cols = read_inter_file(folder / f'{name}.inter')
    users = read_id_map(folder / 'user_map.tsv')
    items = read_id_map(folder / 'item_map.tsv')
    return {(users[u], items[i]) for u, i in zip(cols['userID'],
                                                 cols['itemID'])}


# Reading ---------------------------------------------------------------------

def test_read_interactions_string_and_huge_ids(tmp_path):
    path = write_table(tmp_path / 'r.tsv', ['item', 'ts', 'user'], [
        ('1000000000000', 5, 'ann'), ('7', 3, ' bob '), (),
        ('1000000000000', 4, 'bob')], sep='\t')
    data = read_interactions(path, 'user', 'item', time_col='ts')
    assert data.user_ids == ['ann', 'bob']
    assert data.item_ids == ['1000000000000', '7']
    assert data.user.tolist() == [0, 1, 1]
    assert data.item.tolist() == [0, 1, 0]
    assert data.time.tolist() == [5.0, 3.0, 4.0]
    # The blank line 4 is skipped; line numbers stay those of the file.
    assert data.line.tolist() == [2, 3, 5]
    assert data.rating is None


def test_read_interactions_quoted_csv_and_iso_dates(tmp_path):
    path = tmp_path / 'r.csv'
    path.write_text('\ufeffuser,item,when\n'
                    '"a,1",x,2016-05-01T00:00:10Z\n'
                    'b,y,2016-05-01\n')
    data = read_interactions(path, 'user', 'item', time_col='when')
    assert data.user_ids == ['a,1', 'b']
    assert data.time.tolist() == [1462060810.0, 1462060800.0]


@pytest.mark.parametrize('content,kwargs,message', [
    ('', {}, "r.csv: the file is empty, expected a header row naming the "
     "columns"),
    ('user,item\n', {}, 'r.csv: no interactions below the header'),
    ('user,item\n1,2\n', {'user_col': 'uid'},
     "r.csv, line 1: no column 'uid' (columns: user, item); name it with "
     "--user-col"),
    ('user,item,t\n1,2,3\n1,3,soon\n', {'time_col': 't'},
     "r.csv, line 3: column 't' (timestamp) holds 'soon', expected a number "
     "(e.g. Unix seconds) or an ISO 8601 date"),
    # a bad value among dates: the line is the bad one, not the first date
    ('user,item,t\n1,2,2024-01-01\n1,3,later\n', {'time_col': 't'},
     "r.csv, line 3: column 't' (timestamp) holds 'later', expected a "
     "number (e.g. Unix seconds) or an ISO 8601 date"),
    ('user,item,r\n1,2,3\n\n1,3,nan\n', {'rating_col': 'r'},
     "r.csv, line 4: column 'r' (rating) holds 'nan', expected a finite "
     "number"),
    ('user,item\n1,2\n1,2,3\n', {},
     "r.csv, line 3: found 3 fields separated by ',', expected 2 as in the "
     "header"),
    ('user,item\n1,2\n,3\n', {},
     "r.csv, line 3: column 'user' is empty, expected an id"),
    ('user\titem\n1\t2\n', {},
     "r.csv, line 1: one column 'user\\titem' with separator ','; the file "
     "looks tab-separated (pass --sep tab)"),
])
def test_read_interactions_bad_input(tmp_path, content, kwargs, message):
    path = tmp_path / 'r.csv'
    path.write_text(content)
    args = dict(user_col='user', item_col='item')
    args.update(kwargs)
    with pytest.raises(DataFormatError) as e:
        read_interactions(path, **args)
    assert str(e.value) == message
    assert '\n' not in str(e.value)


# Pure steps ------------------------------------------------------------------

def test_drop_duplicates_keeps_the_earliest():
    user = np.array([0, 0, 1, 0, 1])
    item = np.array([1, 1, 1, 1, 1])
    time = np.array([5., 3., 9., 3., 8.])
    # (0, 1): rows 1 and 3 tie at time 3 -> the first, row 1.
    assert drop_duplicates(user, item, time).tolist() == [
        False, True, False, False, True]
    assert drop_duplicates(user, item).tolist() == [
        True, False, True, False, False]


def test_k_core_hand_computed():
    # users a b c d = 0 1 2 3, items x y z w = 0 1 2 3.
    edges = [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (2, 0), (2, 3), (3, 2)]
    user, item = (np.array(c) for c in zip(*edges))
    # Round 1 removes d (1 item) and w (1 user); round 2 then c and z, which
    # were left with one; {a, b} x {x, y} remains.
    core = k_core(user, item, 2, 2)
    assert core.keep.tolist() == [True, True, False, True, True, False,
                                  False, False]
    assert (core.rounds, core.dropped_users, core.dropped_items,
            core.dropped_interactions) == (2, 2, 2, 4)
    # Users only: c keeps 2 items, d goes; items need 1.
    core = k_core(user, item, 2, 1)
    assert core.keep.tolist() == [True] * 7 + [False]


def naive_k_core(edges: Set[Tuple[int, int]], user_k: int,
                 item_k: int) -> Set[Tuple[int, int]]:
    # Removes one offending node at a time until none is left.
    edges = set(edges)
    while True:
        du, di = {}, {}
        for u, i in edges:
            du[u] = du.get(u, 0) + 1
            di[i] = di.get(i, 0) + 1
        bad_u = [u for u, d in du.items() if d < user_k]
        bad_i = [i for i, d in di.items() if d < item_k]
        if bad_u:
            edges = {e for e in edges if e[0] != bad_u[0]}
        elif bad_i:
            edges = {e for e in edges if e[1] != bad_i[0]}
        else:
            return edges


@pytest.mark.parametrize('seed', range(4))
@pytest.mark.parametrize('user_k,item_k', [(3, 2), (2, 4), (5, 5)])
def test_k_core_matches_naive_removal(seed, user_k, item_k):
    rng = np.random.default_rng(seed)
    pairs = {(int(u), int(i)) for u, i in zip(rng.integers(0, 40, 300),
                                               rng.zipf(1.5, 300) % 50)}
    user, item = (np.array(c) for c in zip(*sorted(pairs)))
    core = k_core(user, item, user_k, item_k)
    kept = {(int(u), int(i)) for u, i in zip(user[core.keep],
                                              item[core.keep])}
    assert kept == naive_k_core(pairs, user_k, item_k)


def test_raw_id_order_and_dense_ids():
    assert raw_id_order(['10', '9', '-1', '09']).tolist() == [2, 3, 1, 0]
    assert raw_id_order(['b', '10', 'a']).tolist() == [1, 2, 0]
    raw = ['30', 'x', '4', '1000000000000', '7']
    codes = np.array([0, 2, 3, 2, 0, 4])  # 'x' does not occur
    new, kept = dense_ids(codes, raw)
    assert kept == ['4', '7', '30', '1000000000000']
    assert new.tolist() == [2, 0, 3, 0, 2, 1]
    assert [kept[n] for n in new] == [raw[c] for c in codes]


def test_split_labels_random_matches_library_split():
    rng = np.random.default_rng(1)
    user = np.sort(rng.integers(0, 20, 400))
    label = split_labels(user, None, 20, 'random', (0.6, 0.2, 0.2), seed=7)
    edge_index = torch.stack([torch.from_numpy(user),
                              torch.zeros(400, dtype=torch.long)])
    parts = random_split_per_user(edge_index, 20, (0.6, 0.2, 0.2), seed=7)
    for code, part in enumerate(parts):
        assert np.flatnonzero(label == code).tolist() == part.tolist()
    assert not np.array_equal(
        label, split_labels(user, None, 20, 'random', (0.6, 0.2, 0.2), 8))


def test_split_labels_needs_time():
    with pytest.raises(ValueError, match="'temporal' split needs time"):
        split_labels(np.zeros(3, dtype=np.int64), None, 1, 'temporal')


# Whole import ----------------------------------------------------------------

def test_import_round_trip_string_and_huge_ids(tmp_path):
    rows = planted_rows()
    rows.append(rows[3])  # a duplicate
    path = write_table(tmp_path / 'log.csv', ['u', 'i', 't', 'r'], rows)
    out = tmp_path / 'mine'
    report = import_interactions(path, out, user_col='u', item_col='i',
                                 time_col='t', rating_col='r', seed=3)
    assert report.duplicates == 1 and report.rows == len(rows)
    assert imported_pairs(out, 'mine') == {(r[0], r[1]) for r in rows}
    items = read_id_map(out / 'item_map.tsv')
    assert items == sorted(items, key=int) and items[0] == '1000000000000'
    assert (out / 'item_map.tsv').read_text().startswith('itemID\ti\n0\t')
    data = read_mmrec(out)
    assert data.name == 'mine'
    assert data['user'].num_nodes == 30 and data['item'].num_nodes == 20
    assert sum(report.splits.values()) == len(rows) - 1
    assert split_edge_index(data, 'train').size(1) == report.splits['train']
    # Ratings and timestamps are kept per row.
    cols = read_inter_file(out / 'mine.inter')
    header = (out / 'mine.inter').read_text().split('\n')[0]
    assert header == 'userID\titemID\trating\ttimestamp\tx_label'
    users, raw_items = read_id_map(out / 'user_map.tsv'), items
    by_pair = {(r[0], r[1]): r[2] for r in rows}
    assert all(by_pair[(users[u], raw_items[i])] == t for u, i, t in zip(
        cols['userID'], cols['itemID'], cols['timestamp']))
    saved = json.loads((out / 'import.json').read_text())
    assert saved['num_users'] == 30 and saved['settings']['seed'] == 3


def test_import_min_rating_and_k_core(tmp_path):
    rows = planted_rows(seed=2)
    path = write_table(tmp_path / 'log.csv', ['u', 'i', 't', 'r'], rows)
    out = tmp_path / 'pos'
    report = import_interactions(path, out, user_col='u', item_col='i',
                                 rating_col='r', min_rating=3, user_k=4,
                                 item_k=3)
    positive = {(u, i) for u, i, _, r in rows if r >= 3}
    assert report.below_min_rating == len(rows) - len(positive)
    # The same core as the naive reference on the positive rows.
    index = {}
    coded = {(index.setdefault(u, len(index)), index.setdefault(i, len(index)))
             for u, i in positive}
    raw = {v: k for k, v in index.items()}
    expected = {(raw[u], raw[i]) for u, i in naive_k_core(coded, 4, 3)}
    assert imported_pairs(out, 'pos') == expected
    assert report.k_core['dropped_interactions'] == len(positive) - len(
        expected)


def test_import_temporal_splits(tmp_path):
    rows = planted_rows(seed=4)
    path = write_table(tmp_path / 'log.csv', ['u', 'i', 't', 'r'], rows)
    for split in ('temporal', 'global_temporal'):
        out = tmp_path / split
        import_interactions(path, out, user_col='u', item_col='i',
                            time_col='t', split=split)
        cols = read_inter_file(out / f'{split}.inter')
        t, x, u = cols['timestamp'], cols['x_label'], cols['userID']
        if split == 'temporal':
            for user in np.unique(u):
                tu, xu = t[u == user], x[u == user]
                assert tu[xu == 0].max() <= tu[xu == 1].min()
                assert tu[xu == 1].max() <= tu[xu == 2].min()
        else:
            assert t[x == 0].max() <= t[x == 1].min()
            assert t[x == 1].max() <= t[x == 2].min()


def test_global_temporal_drops_cold_users(tmp_path):
    # 'late' only interacts after every training interaction.
    rows = [(f'u{u}', f'i{k}', 10 * k + u) for u in range(5) for k in range(4)]
    rows += [('late', 'i0', 1000), ('late', 'i1', 1001)]
    path = write_table(tmp_path / 'log.csv', ['u', 'i', 't'], rows)
    report = import_interactions(path, tmp_path / 'g', user_col='u',
                                 item_col='i', time_col='t',
                                 split='global_temporal',
                                 ratios=(0.7, 0.15, 0.15))
    assert (report.cold_users_dropped, report.cold_interactions_dropped) \
        == (1, 2)
    assert 'cold users (no train)         -2   (1 users)' in report.summary()
    assert read_id_map(tmp_path / 'g' / 'user_map.tsv') == [
        'u0', 'u1', 'u2', 'u3', 'u4']


@pytest.mark.parametrize('kwargs,message', [
    (dict(user_k=20), "log.csv: the (20, 1)-core is empty: k-core filtering "
     "removed all 240 interactions; lower --k-core"),
    (dict(split='temporal'), "The 'temporal' split needs timestamps: name "
     "the timestamp column with --time-col"),
    (dict(min_rating=3), "'min_rating' (--min-rating) needs the rating "
     "column (--rating-col)"),
    (dict(ratios=(0.5, 0.5, 0.1)), "'ratios' must sum to 1"),
    (dict(name='a/b'), "'name' (--name) must be a plain file name"),
    (dict(user_k=-1), "k-core bounds (--k-core) must be non-negative"),
])
def test_import_bad_settings(tmp_path, kwargs, message):
    path = write_table(tmp_path / 'log.csv', ['u', 'i', 't', 'r'],
                       planted_rows())
    with pytest.raises(ValueError) as e:
        import_interactions(path, tmp_path / 'out', user_col='u',
                            item_col='i', **kwargs)
    assert str(e.value).startswith(message)
    assert not (tmp_path / 'out').exists()


def test_import_empty_split_is_an_error(tmp_path):
    path = write_table(tmp_path / 'log.csv', ['u', 'i'],
                       [('a', 'x'), ('a', 'y'), ('b', 'x')])
    with pytest.raises(DataFormatError, match="the 'valid' split is empty "
                       "after splitting 3 interactions"):
        import_interactions(path, tmp_path / 'out', user_col='u',
                            item_col='i')


def test_import_refuses_a_non_empty_folder(tmp_path):
    path = write_table(tmp_path / 'log.csv', ['u', 'i', 't', 'r'],
                       planted_rows())
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'notes.txt').write_text('mine')
    with pytest.raises(ValueError, match="Output folder '.*out' is not "
                       "empty; choose another folder or pass --overwrite"):
        import_interactions(path, out, user_col='u', item_col='i')
    # With overwrite, a stale feature file of other item ids goes, the
    # user's own file stays.
    np.save(out / 'text_feat.npy', np.zeros((3, 2), dtype=np.float32))
    import_interactions(path, out, user_col='u', item_col='i',
                        overwrite=True)
    assert not (out / 'text_feat.npy').exists()
    assert (out / 'notes.txt').read_text() == 'mine'
    assert read_mmrec(out)['item'].num_nodes == 20


# Item texts ------------------------------------------------------------------

def test_read_item_texts(tmp_path):
    path = tmp_path / 'movies.csv'
    path.write_text('movieId,title,genres\n'
                    '1,Toy Story (1995),Animation|Comedy\n'
                    '2,"Heat, again (1995)",\n')
    texts = read_item_texts(path, 'movieId', ['title', 'genres'],
                            replace=[('|', ', ')])
    assert texts == {'1': 'Toy Story (1995). genres: Animation, Comedy',
                     '2': 'Heat, again (1995)'}
    path.write_text('movieId,title\n1,a\n1,b\n')
    with pytest.raises(DataFormatError, match=r"movies.csv, line 3: item id "
                       r"'1' appears twice"):
        read_item_texts(path, 'movieId', ['title'])
    with pytest.raises(DataFormatError, match="no column 'plot'"):
        read_item_texts(path, 'movieId', ['plot'])


def test_align_texts():
    assert align_texts({'b': 'B', 'c': ' ', 'z': 'Z'}, ['a', 'b', 'c']) == {
        1: 'B'}


def item_text_table(rows) -> dict:
    items = sorted({r[1] for r in rows})
    # Every third item has no text.
    return {raw: f'movie {raw}' for k, raw in enumerate(items) if k % 3}


def test_import_item_texts_align_to_new_ids(tmp_path):
    rows = planted_rows(seed=5)
    path = write_table(tmp_path / 'log.csv', ['u', 'i', 't', 'r'], rows)
    texts = item_text_table(rows)
    texts['not-an-item'] = 'ignored'
    out = tmp_path / 'txt'
    with pytest.warns(UserWarning, match=r'7 of 20 items have no text input'):
        report = import_interactions(path, out, user_col='u', item_col='i',
                                     item_texts=texts,
                                     embedder=FakeEmbedder(dim=6),
                                     missing_text='zero', progress=False)
    x = np.load(out / 'text_feat.npy')
    items = read_id_map(out / 'item_map.tsv')
    assert x.shape == (20, 6)
    for row, raw in zip(x, items):
        if raw in texts:
            assert np.allclose(row, FakeEmbedder.vector(texts[raw], 6))
        else:
            assert not row.any()
    assert report.features['text']['num_missing'] == 7
    assert read_mmrec(out)['item'].text.shape == (20, 6)


def test_import_missing_text_policies(tmp_path):
    rows = planted_rows(seed=5)
    path = write_table(tmp_path / 'log.csv', ['u', 'i', 't', 'r'], rows)
    texts = item_text_table(rows)
    report = import_interactions(path, tmp_path / 'drop', user_col='u',
                                 item_col='i', item_texts=texts,
                                 embedder=FakeEmbedder(), missing_text='drop',
                                 progress=False)
    assert set(read_id_map(tmp_path / 'drop' / 'item_map.tsv')) == set(texts)
    assert report.missing_text_dropped == sum(r[1] not in texts for r in rows)
    assert report.features['text']['num_missing'] == 0
    with pytest.raises(ValueError, match=r'7 item\(s\) have no input'), \
            pytest.warns(UserWarning):
        import_interactions(path, tmp_path / 'err', user_col='u',
                            item_col='i', item_texts=texts,
                            embedder=FakeEmbedder(), missing_text='error',
                            progress=False)
    with pytest.raises(DataFormatError, match="no item id of column 'i' "
                       r"\(e.g. \['10"):
        import_interactions(path, tmp_path / 'none', user_col='u',
                            item_col='i', item_texts={'x': 'y'},
                            embedder=FakeEmbedder(), progress=False)


def test_import_captions_become_image_features(tmp_path):
    rows = planted_rows(seed=6)
    path = write_table(tmp_path / 'log.csv', ['u', 'i', 't', 'r'], rows)
    captions = {raw: f'a photo of {raw}' for raw in {r[1] for r in rows}}
    out = tmp_path / 'img'
    import_interactions(path, out, user_col='u', item_col='i',
                        image_captions=captions, embedder=FakeEmbedder(),
                        progress=False)
    x = np.load(out / 'image_feat.npy')
    for row, raw in zip(x, read_id_map(out / 'item_map.tsv')):
        assert np.allclose(row, FakeEmbedder.vector(captions[raw]))


def test_import_item_texts_real_encoder(tmp_path):
    from tests.features.feature_helpers import minilm_embedder
    embedder = minilm_embedder()
    rows = [('a', 'm1'), ('a', 'm2'), ('b', 'm1'), ('b', 'm2'), ('c', 'm1'),
            ('c', 'm2'), ('a', 'm3'), ('b', 'm3'), ('c', 'm3')]
    path = write_table(tmp_path / 'log.csv', ['u', 'i'], rows)
    texts = {'m3': 'A space opera', 'm1': 'A romantic comedy',
             'm2': 'A war documentary'}
    out = tmp_path / 'real'
    import_interactions(path, out, user_col='u', item_col='i',
                        ratios=(0.34, 0.33, 0.33), item_texts=texts,
                        embedder=embedder, progress=False)
    x = np.load(out / 'text_feat.npy')
    items = read_id_map(out / 'item_map.tsv')
    expected = embedder.encode([texts[raw] for raw in items])
    assert x.shape == (3, 384)
    assert np.allclose(x, expected, atol=1e-5)


class SizeCaptioner:
    # Captions an image by its size (each test image has its own height).
    fingerprint = 'size'

    def __init__(self):
        self.seen = 0

    def caption(self, images):
        self.seen += len(images)
        return [f'{im.size[0]} by {im.size[1]}' for im in images]


def test_import_captions_images_of_kept_items(tmp_path):
    Image = pytest.importorskip('PIL.Image')
    rows = planted_rows(num_users=10, num_items=6, per_user=4, seed=7)
    rows += [('user_000', 'rare', 5)]  # removed by the 2-core of items
    path = write_table(tmp_path / 'log.csv', ['u', 'i', 't'],
                       [r[:3] for r in rows])
    images = {}
    for k, raw in enumerate(sorted({r[1] for r in rows})):
        images[raw] = tmp_path / f'{k}.png'
        Image.new('RGB', (8, 10 + k)).save(images[raw])
    images.pop(rows[0][1])  # an item without image
    captioner = SizeCaptioner()
    out = tmp_path / 'img'
    with pytest.warns(UserWarning, match='1 of 6 items have no image'):
        import_interactions(path, out, user_col='u', item_col='i',
                            item_k=2, ratios=(0.5, 0.25, 0.25),
                            item_images=images,
                            captioner=captioner, embedder=FakeEmbedder(),
                            missing_text='zero', progress=False)
    assert captioner.seen == 5  # not 'rare'
    x = np.load(out / 'image_feat.npy')
    for row, raw in zip(x, read_id_map(out / 'item_map.tsv')):
        if raw in images:
            k = sorted({r[1] for r in rows}).index(raw)
            assert np.allclose(row, FakeEmbedder.vector(f'8 by {10 + k}'))
        else:
            assert not row.any()
    # A second import reuses the caption file, kept by --overwrite.
    with pytest.warns(UserWarning, match='1 of 6 items have no image'):
        import_interactions(path, out, user_col='u', item_col='i', item_k=2,
                            ratios=(0.5, 0.25, 0.25), item_images=images,
                            captioner=captioner, embedder=FakeEmbedder(),
                            missing_text='zero', overwrite=True,
                            progress=False)
    assert captioner.seen == 5


@pytest.mark.real_data
def test_import_movielens_ratings(tmp_path):
    import csv

    from tests.features.feature_helpers import require_dataset
    folder = require_dataset('movielens_small')
    with open(folder / 'ratings.csv', newline='') as f:
        rows = [(r['userId'], r['movieId'], float(r['rating']))
                for r in csv.DictReader(f)]
    out = tmp_path / 'ml'
    import_interactions(folder / 'ratings.csv', out, user_col='userId',
                        item_col='movieId', time_col='timestamp',
                        rating_col='rating', min_rating=4, user_k=5,
                        item_k=5, split='temporal')
    pairs = imported_pairs(out, 'ml')
    positive = {(u, i) for u, i, r in rows if r >= 4}
    assert pairs <= positive
    # With one bound for both sides, the (5, 5)-core is the 5-core of the
    # bipartite graph, which networkx computes independently.
    import networkx as nx
    graph = nx.Graph([('u' + u, 'i' + i) for u, i in positive])
    core = nx.k_core(graph, 5)
    expected = {(a[1:], b[1:]) if a[0] == 'u' else (b[1:], a[1:])
                for a, b in core.edges()}
    assert pairs == expected
    data = read_mmrec(out)
    assert data['user'].num_nodes == len({u for u, _ in pairs})


@pytest.mark.slow
@pytest.mark.real_data
def test_import_movielens_with_movie_texts(tmp_path):
    from tests.features.feature_helpers import (minilm_embedder,
                                                require_dataset)
    folder = require_dataset('movielens_small')
    embedder = minilm_embedder()
    texts = read_item_texts(folder / 'movies.csv', 'movieId',
                            ['title', 'genres'], replace=[('|', ', ')])
    out = tmp_path / 'ml'
    report = import_interactions(
        folder / 'ratings.csv', out, user_col='userId', item_col='movieId',
        user_k=5, item_k=5, item_texts=texts, embedder=embedder,
        progress=False)
    x = np.load(out / 'text_feat.npy')
    items = read_id_map(out / 'item_map.tsv')
    assert report.features['text']['num_missing'] == 0
    assert texts['1'] == ('Toy Story (1995). genres: Adventure, Animation, '
                          'Children, Comedy, Fantasy')
    rng = np.random.default_rng(0)
    for i in rng.choice(len(items), 50, replace=False):
        expected = embedder.encode([texts[items[i]]])[0]
        assert np.dot(x[i], expected) > 0.9999
    assert read_mmrec(out)['item'].text.shape == (len(items), 384)
