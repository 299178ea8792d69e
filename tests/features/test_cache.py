import numpy as np
import pytest

from tests.features.feature_helpers import FakeEmbedder, Interrupted
from lirdrec_pyg.features.cache import cache_folder, run_chunked


def test_run_chunked_without_cache_matches_direct():
    texts = [f't{i}' for i in range(10)] + ['t0']
    fake = FakeEmbedder()
    out, stats = run_chunked(texts, fake.encode, 'k', None, chunk_size=4,
                             progress=False)
    assert np.allclose(out, np.stack([fake.vector(t) for t in texts]))
    assert fake.calls == 3 and stats.computed_chunks == 3
    assert stats.computed_items == 10  # the repeated 't0' once


def test_run_chunked_resumes_after_interruption(tmp_path):
    texts = [f'text {i}' for i in range(23)]  # 5 chunks of 5 (last: 3)
    killed = FakeEmbedder(fail_after=2)
    with pytest.raises(Interrupted):
        run_chunked(texts, killed.encode, 'k', tmp_path, chunk_size=5,
                    progress=False)
    assert len(list(cache_folder(tmp_path, 'k').glob('chunk-*.npz'))) == 2
    assert not list(cache_folder(tmp_path, 'k').glob('*.tmp'))

    resumed = FakeEmbedder()
    out, stats = run_chunked(texts, resumed.encode, 'k', tmp_path,
                             chunk_size=5, progress=False)
    assert resumed.calls == 3 and resumed.texts == texts[10:]
    assert (stats.cached_items, stats.computed_items) == (10, 13)
    assert np.allclose(out, np.stack([FakeEmbedder.vector(t) for t in texts]))

    again = FakeEmbedder()
    out2, stats = run_chunked(texts, again.encode, 'k', tmp_path,
                              chunk_size=5, progress=False)
    assert again.calls == 0 and stats.cached_items == 23
    assert np.array_equal(out, out2)


def test_run_chunked_computes_only_new_inputs(tmp_path):
    texts = [f'text {i}' for i in range(10)]
    run_chunked(texts, FakeEmbedder().encode, 'k', tmp_path, 4,
                progress=False)
    new = FakeEmbedder()
    run_chunked(['new one'] + texts[::-1], new.encode, 'k', tmp_path, 4,
                progress=False)
    assert new.texts == ['new one']


def test_run_chunked_cache_key_separates_models(tmp_path):
    texts = ['a', 'b']
    run_chunked(texts, FakeEmbedder().encode, 'model-1', tmp_path, 2,
                progress=False)
    other = FakeEmbedder()
    run_chunked(texts, other.encode, 'model-2', tmp_path, 2, progress=False)
    assert other.calls == 1


def test_run_chunked_checks_arguments_and_shapes():
    with pytest.raises(ValueError, match="'chunk_size' must be positive"):
        run_chunked(['a'], FakeEmbedder().encode, 'k', chunk_size=0)
    with pytest.raises(ValueError, match="'inputs' is empty"):
        run_chunked([], FakeEmbedder().encode, 'k')
    with pytest.raises(ValueError, match=r'expected \[2, d\]'):
        run_chunked(['a', 'b'], lambda c: np.zeros(2), 'k', progress=False)
