import os

import numpy as np
import pytest

from lirdrec_pyg.features.io import (align_to_items, folder_fingerprint,
                                     num_items_from_inter, read_key_map,
                                     read_keyed_texts, save_npy_atomic,
                                     write_text_atomic)


def test_save_npy_atomic_leaves_no_temporary(tmp_path):
    path = tmp_path / 'sub' / 'x_feat.npy'
    save_npy_atomic(path, np.arange(6.0).reshape(2, 3))
    assert np.array_equal(np.load(path), np.arange(6.0).reshape(2, 3))
    assert os.listdir(path.parent) == ['x_feat.npy']
    assert oct(path.stat().st_mode & 0o777) != oct(0o600)


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    path = tmp_path / 'a.txt'
    write_text_atomic(path, 'old')

    class Boom:
        def __str__(self):
            raise RuntimeError

    with pytest.raises(AttributeError):
        write_text_atomic(path, Boom())  # fails while writing
    assert path.read_text() == 'old'
    assert os.listdir(tmp_path) == ['a.txt']


def test_read_keyed_texts_tsv_with_replacement(tmp_path):
    path = tmp_path / 'tags.tsv'
    path.write_text('artistID\ttext\n7\trock,"indie",pop\n9\tjazz\n')
    texts = read_keyed_texts(path, replace=[(',', ', ')])
    assert texts == {'7': 'rock, "indie", pop', '9': 'jazz'}


def test_read_keyed_texts_csv_named_columns(tmp_path):
    path = tmp_path / 'items.csv'
    path.write_text('title,id\n"Heat, The",3\nUp,1\n')
    assert read_keyed_texts(path, key_col='id', text_col='title') == {
        '3': 'Heat, The', '1': 'Up'}
    with pytest.raises(ValueError, match="no column 'name'"):
        read_keyed_texts(path, key_col='name')


def test_read_keyed_texts_errors_name_the_line(tmp_path):
    path = tmp_path / 't.tsv'
    path.write_text('k\tt\n1\ta\n1\tb\n')
    with pytest.raises(ValueError, match=r't.tsv, line 3: duplicate key'):
        read_keyed_texts(path)
    path.write_text('k\tt\n1\n')
    with pytest.raises(ValueError, match='line 2: expected at least 2'):
        read_keyed_texts(path)


def test_key_map_and_alignment(tmp_path):
    path = tmp_path / 'item_map.tsv'
    path.write_text('itemID\tartistID\n0\t80\n1\t66\n2\t5\n')
    key_map = read_key_map(path)
    assert key_map == {0: '80', 1: '66', 2: '5'}
    assert align_to_items({'66': 'b', '80': 'a'}, key_map) == {0: 'a', 1: 'b'}
    assert align_to_items({'3': 'x'}) == {3: 'x'}
    with pytest.raises(ValueError, match="'ab' is not an integer item id"):
        align_to_items({'ab': 'x'})
    path.write_text('itemID\tartistID\nx\t80\n')
    with pytest.raises(ValueError, match="line 2: item id 'x'"):
        read_key_map(path)


def test_num_items_from_inter(tmp_path):
    path = tmp_path / 'd.inter'
    path.write_text('userID\titemID\tx_label\n0\t4\t0\n1\t2\t1\n')
    assert num_items_from_inter(path) == 5


def test_folder_fingerprint_tracks_content(tmp_path):
    (tmp_path / 'config.json').write_text('{"a": 1}')
    first = folder_fingerprint(tmp_path)
    assert folder_fingerprint(tmp_path) == first
    (tmp_path / 'config.json').write_text('{"a": 2}')
    assert folder_fingerprint(tmp_path) != first
