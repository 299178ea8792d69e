import json

import numpy as np
import pytest

from tests.features.feature_helpers import FakeEmbedder, Interrupted
from lirdrec_pyg.features.assemble import (build_feature_matrix, fill_missing,
                                           report_path, write_feature_file,
                                           write_matrix_file)


def test_fill_missing_hand_computed():
    x = np.array([[1.0, 2.0], [0.0, 0.0], [3.0, 6.0]], dtype=np.float32)
    present = np.array([True, False, True])
    assert np.allclose(fill_missing(x.copy(), present, 'mean')[1], [2.0, 4.0])
    assert np.allclose(fill_missing(x.copy(), present, 'zero')[1], [0, 0])
    with pytest.raises(ValueError, match=r'1 item\(s\) have no input'):
        fill_missing(x.copy(), present, 'error')
    with pytest.raises(ValueError, match="'fallback' must be one of"):
        fill_missing(x.copy(), present, 'median')


def test_build_feature_matrix_aligns_rows_to_item_ids():
    fake = FakeEmbedder()
    texts = {3: 'c', 0: 'a', 1: '  ', 4: 'a'}  # 1 blank, 2 absent, 4 repeats
    x, report = build_feature_matrix(texts, 5, fake, progress=False)
    assert x.shape == (5, 8) and x.dtype == np.float32
    for item, text in [(0, 'a'), (3, 'c'), (4, 'a')]:
        assert np.allclose(x[item], FakeEmbedder.vector(text))
    mean = np.stack([x[0], x[3], x[4]]).mean(axis=0)
    assert np.allclose(x[1], mean) and np.allclose(x[2], mean)
    assert report.missing_items == [1, 2] and report.num_missing == 2
    assert sorted(fake.texts) == ['a', 'c']  # the repeated text once


def test_build_feature_matrix_checks_ids():
    with pytest.raises(ValueError, match=r'Item id 5 is outside \[0, 5\)'):
        build_feature_matrix({5: 'x'}, 5, FakeEmbedder(), progress=False)
    with pytest.raises(ValueError, match='No item has a non-empty text'):
        build_feature_matrix({0: ''}, 5, FakeEmbedder(), progress=False)


def test_write_feature_file_rerun_does_no_work(tmp_path):
    path = tmp_path / 'text_feat.npy'
    texts = {i: f'item {i}' for i in range(10)}
    report = write_feature_file(path, texts, 12, FakeEmbedder(),
                                chunk_size=4, progress=False)
    assert report.num_missing == 2 and report.computed_chunks == 3
    assert report.computed_items == 10
    stored = json.loads(report_path(path).read_text())
    assert stored['missing_items'] == [10, 11]

    again = FakeEmbedder()
    report = write_feature_file(path, texts, 12, again, chunk_size=4,
                                progress=False)
    assert report.skipped and again.calls == 0

    texts[3] = 'changed'  # only the new text is embedded
    changed = FakeEmbedder()
    report = write_feature_file(path, texts, 12, changed, chunk_size=4,
                                progress=False)
    assert not report.skipped and changed.texts == ['changed']
    assert np.allclose(np.load(path)[3], FakeEmbedder.vector('changed'))

    other_model = FakeEmbedder(fingerprint='fake-v2')
    write_feature_file(path, texts, 12, other_model, chunk_size=4,
                       progress=False)
    assert other_model.calls == 3


def test_write_feature_file_resumes_killed_run(tmp_path):
    path = tmp_path / 'text_feat.npy'
    texts = {i: f'description of item {i}' for i in range(1000)}
    killed = FakeEmbedder(fail_after=3)
    with pytest.raises(Interrupted):
        write_feature_file(path, texts, 1000, killed, chunk_size=100,
                           progress=False)
    assert not path.exists()  # nothing half-written

    resumed = FakeEmbedder()
    report = write_feature_file(path, texts, 1000, resumed, chunk_size=100,
                                progress=False)
    assert resumed.calls == 7 and len(resumed.texts) == 700
    assert (report.computed_chunks, report.cached_items) == (7, 300)
    assert not set(resumed.texts) & set(killed.texts)
    expected = np.stack([FakeEmbedder.vector(texts[i]) for i in range(1000)])
    assert np.allclose(np.load(path), expected)


def test_write_feature_file_suffix_and_force(tmp_path):
    with pytest.raises(ValueError, match="must end in '.npy'"):
        write_feature_file(tmp_path / 'x.txt', {0: 'a'}, 1, FakeEmbedder())
    path = tmp_path / 'text_feat.npy'
    write_feature_file(path, {0: 'a'}, 1, FakeEmbedder(), progress=False)
    forced = FakeEmbedder()
    report = write_feature_file(path, {0: 'a'}, 1, forced, progress=False,
                                force=True)
    assert not report.skipped and report.cached_items == 1
    assert forced.calls == 0


def test_write_matrix_file(tmp_path):
    report = write_matrix_file(tmp_path / 'genre_feat.npy', np.eye(3),
                               genres=['a', 'b', 'c'])
    assert np.array_equal(np.load(tmp_path / 'genre_feat.npy'), np.eye(3))
    assert report.extra == {'genres': ['a', 'b', 'c']} and report.dim == 3
    with pytest.raises(ValueError, match='must be 2-D'):
        write_matrix_file(tmp_path / 'bad_feat.npy', np.zeros(3))
