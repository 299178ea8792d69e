from pathlib import Path
from typing import Optional

import numpy as np
import pytest
import torch

from lirdrec_pyg.data import (
    ITEM,
    UI,
    DataFormatError,
    get_modalities,
    read_mmrec,
    split_edge_index,
)

# user, item, x_label: every user has a training item.
ROWS = [(0, 0, 0), (0, 1, 0), (1, 2, 0), (1, 0, 1), (0, 2, 2), (2, 1, 0),
        (2, 3, 2), (1, 3, 1)]


def write_folder(tmp_path: Path, rows=ROWS, header='userID\titemID\tx_label',
                 features: Optional[dict] = None, lines=None) -> Path:
    folder = tmp_path / 'toy'
    folder.mkdir()
    if lines is None:
        lines = ['\t'.join(str(v) for v in row) for row in rows]
    (folder / 'toy.inter').write_text('\n'.join([header] + lines) + '\n')
    for name, x in (features or {}).items():
        np.save(folder / f'{name}_feat.npy', x)
    return folder


def test_read_mmrec_toy(tmp_path):
    rng = np.random.default_rng(0)
    feats = {'text': rng.normal(size=(4, 3)), 'audio': rng.normal(size=(4, 2))}
    data = read_mmrec(write_folder(tmp_path, features=feats))
    assert data.name == 'toy'
    assert data['user'].num_nodes == 3 and data[ITEM].num_nodes == 4
    assert split_edge_index(data, 'train').tolist() == [[0, 0, 1, 2],
                                                        [0, 1, 2, 1]]
    assert split_edge_index(data, 'valid').tolist() == [[1, 1], [0, 3]]
    assert split_edge_index(data, 'test').tolist() == [[0, 2], [2, 3]]
    assert get_modalities(data) == ['audio', 'text']  # sorted by name
    assert torch.allclose(data[ITEM]['text'],
                          torch.from_numpy(feats['text']).float())
    assert 'time' not in data[UI]


def test_read_mmrec_timestamps_and_feature_rows(tmp_path):
    lines = [f'{u}\t{i}\t5\t{x}\t{100 + k}'
             for k, (u, i, x) in enumerate(ROWS)]
    folder = write_folder(tmp_path, lines=lines,
                          header='userID\titemID\trating\tx_label\ttimestamp',
                          features={'image': np.zeros((6, 2))})
    data = read_mmrec(folder)
    # Items without interactions still count when the features have rows.
    assert data[ITEM].num_nodes == 6
    assert data[UI].time.tolist() == [100, 101, 102, 105]


def check_error(folder: Path, *fragments: str):
    with pytest.raises(DataFormatError) as info:
        read_mmrec(folder)
    for fragment in fragments:
        assert fragment in str(info.value), str(info.value)


def test_missing_column(tmp_path):
    check_error(write_folder(tmp_path, header='userID\titem\tx_label'),
                'toy.inter', "missing column 'itemID'",
                "['userID', 'item', 'x_label']")


def test_non_integer_id(tmp_path):
    lines = ['0\t0\t0', '1\t1\t0', '1\tabc\t1', '0\t1\t2']
    check_error(write_folder(tmp_path, lines=lines), 'toy.inter', 'line 4',
                "'abc'", "'itemID'", 'integer')


def test_negative_id_and_bad_label(tmp_path):
    check_error(write_folder(tmp_path, lines=['0\t0\t0', '-2\t1\t1']),
                'toy.inter', 'line 3', 'negative id -2')


@pytest.mark.parametrize('label', [3, -1])
def test_bad_x_label(tmp_path, label):
    lines = ['0\t0\t0', f'0\t1\t{label}']
    check_error(write_folder(tmp_path, lines=lines), 'toy.inter', 'line 3',
                "'x_label'", f'holds {label}')


def test_wrong_field_count(tmp_path):
    lines = ['0\t0\t0', '0\t1', '0\t2\t2']
    check_error(write_folder(tmp_path, lines=lines), 'toy.inter', 'line 3',
                'found 2', 'expected 3')


def test_id_beyond_feature_rows(tmp_path):
    folder = write_folder(tmp_path, features={'image': np.zeros((3, 2))})
    check_error(folder, 'toy.inter', 'line 8', 'itemID 3',
                'image_feat.npy', '3 rows')


def test_feature_with_nan(tmp_path):
    x = np.zeros((4, 2), dtype=np.float32)
    x[2, 0] = np.nan
    folder = write_folder(tmp_path, features={'text': x})
    check_error(folder, 'text_feat.npy', 'row 2', 'NaN')


def test_feature_with_wrong_row_count(tmp_path):
    folder = write_folder(tmp_path, features={'text': np.zeros((4, 2)),
                                              'image': np.zeros((5, 2))})
    check_error(folder, 'text_feat.npy', 'found 4 rows', '5 items expected')


def test_feature_not_a_matrix(tmp_path):
    folder = write_folder(tmp_path, features={'text': np.zeros(4)})
    check_error(folder, 'text_feat.npy', '2-D')


@pytest.mark.parametrize('label, split', [(1, 'valid'), (2, 'test'),
                                          (0, 'train')])
def test_empty_split(tmp_path, label, split):
    rows = [r for r in ROWS if r[2] != label]
    check_error(write_folder(tmp_path, rows=rows), 'toy.inter',
                f"'{split}' split is empty")


def test_split_empty_after_dropping_cold_users(tmp_path):
    # User 2's only test interaction is dropped: it has no training item.
    rows = [(0, 0, 0), (1, 1, 0), (0, 1, 1), (2, 0, 2)]
    check_error(write_folder(tmp_path, rows=rows), 'toy.inter',
                "'test' split is empty", 'dropping 1 users')


def test_cold_users_dropped(tmp_path):
    rows = ROWS + [(3, 0, 1), (3, 1, 2)]
    data = read_mmrec(write_folder(tmp_path, rows=rows))
    assert data.num_dropped_cold_users == 1
    assert 3 not in split_edge_index(data, 'valid')[0].tolist()
    assert 3 not in split_edge_index(data, 'test')[0].tolist()


def test_missing_inter_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='other.inter'):
        read_mmrec(write_folder(tmp_path), name='other')


def test_lastfm2k(load_or_skip):
    data = load_or_skip('lastfm2k')
    assert data.name == 'lastfm2k'
    assert data['user'].num_nodes == 1858 and data[ITEM].num_nodes == 1425
    sizes = [split_edge_index(data, s).size(1)
             for s in ('train', 'valid', 'test')]
    assert data.num_dropped_cold_users == 0
    assert sizes == [44327, 4799, 7219]
    assert get_modalities(data) == ['audio', 'text']
    assert data[ITEM]['audio'].shape == (1425, 128)
    assert data[ITEM]['text'].shape == (1425, 384)
    # The text features are L2-normalised sentence embeddings.
    norms = data[ITEM]['text'].norm(dim=1)
    assert torch.allclose(norms, torch.ones_like(norms), atol=1e-4)


def test_amazon_baby(load_or_skip):
    data = load_or_skip('amazon_baby')
    assert data['user'].num_nodes == 19445 and data[ITEM].num_nodes == 7050
    sizes = [split_edge_index(data, s).size(1)
             for s in ('train', 'valid', 'test')]
    assert sizes == [118551, 21682, 20559]
    assert get_modalities(data) == []
    train = split_edge_index(data, 'train')
    key = train[0] * 7050 + train[1]
    assert bool((key[1:] > key[:-1]).all())  # sorted, no duplicates


@pytest.mark.parametrize('row,message', [
    ((10**12, 1, 2), "toy.inter, line 10: userID 1000000000000 is far beyond "
     "the 9 rows (expected dense ids 0..n-1, below 1,090); for raw ids, "
     "convert the table with `lirdrec data import`"),
    ((1, 1090, 2), "toy.inter, line 10: itemID 1090 is far beyond the 9 "
     "rows"),
    ((1, 10**20, 2), "toy.inter, line 10: column 'itemID' holds "
     "'100000000000000000000', expected an integer of at most 64 bits; for "
     "raw ids, convert the table with `lirdrec data import`"),
    ((1, 'B00XYZ', 2), "toy.inter, line 10: column 'itemID' holds 'B00XYZ', "
     "expected an integer of at most 64 bits; for raw ids"),
])
def test_read_mmrec_rejects_raw_ids(tmp_path, row, message):
    with pytest.raises(DataFormatError) as e:
        read_mmrec(write_folder(tmp_path, rows=ROWS + [row]))
    assert str(e.value).startswith(message)


def test_read_mmrec_accepts_gaps_and_feature_rows(tmp_path):
    # Below the bound (10 x 9 rows + 1000) a gap is fine; feature rows raise
    # the items' bound.
    data = read_mmrec(write_folder(tmp_path, rows=ROWS + [(1089, 1089, 2)]))
    assert data['user'].num_nodes == 1090
    (tmp_path / 'f').mkdir()
    folder = write_folder(tmp_path / 'f', rows=ROWS + [(1, 4999, 2)],
                          features={'text': np.zeros((5000, 2))})
    assert read_mmrec(folder)[ITEM].num_nodes == 5000
