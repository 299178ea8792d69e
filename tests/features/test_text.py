import numpy as np
import pytest

from tests.features.feature_helpers import FakeEmbedder, minilm_embedder, require_dataset
from lirdrec_pyg.features.assemble import build_feature_matrix
from lirdrec_pyg.features.io import (align_to_items, read_key_map,
                                     read_keyed_texts)
from lirdrec_pyg.features.text import (embed_texts, resolve_model_path,
                                       SentenceEmbedder)


def lastfm_texts(num_items=None):
    folder = require_dataset('lastfm2k')
    tags = read_keyed_texts(folder / 'artist_tags.tsv', replace=[(',', ', ')])
    key_map = read_key_map(folder / 'item_map.tsv')
    if num_items is not None:
        key_map = {i: k for i, k in key_map.items() if i < num_items}
    reference = np.load(folder / 'text_feat.npy')
    return align_to_items(tags, key_map), reference


def row_cosine(a, b):
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b,
                                                                       axis=1)


def check_lastfm(num_items=None):
    texts, reference = lastfm_texts(num_items)
    n = len(texts)
    x, report = build_feature_matrix(texts, n, minilm_embedder(),
                                     progress=False)
    assert x.shape == (n, 384) and report.num_missing == 0
    assert np.allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)
    cos = row_cosine(x, reference[:n])
    assert cos.min() >= 0.9999, (cos.argmin(), cos.min())


def test_lastfm_text_features_first_50_items():
    check_lastfm(50)


@pytest.mark.slow
@pytest.mark.real_data
def test_lastfm_text_features_all_items():
    check_lastfm()


def test_sentence_embedder_matches_sentence_transformers():
    embedder = minilm_embedder(batch_size=2)
    from sentence_transformers import SentenceTransformer
    direct = SentenceTransformer(str(embedder.path), device='cpu')
    texts = ['a red bicycle', 'rock, indie', 'a red bicycle', 'baby stroller']
    out, _ = embed_texts(texts, embedder, progress=False)
    ref = direct.encode(texts, normalize_embeddings=True)
    assert out.dtype == np.float32 and out.shape == (4, 384)
    assert np.allclose(out, ref, atol=1e-5)
    assert 'SentenceEmbedder(' in repr(embedder)


def test_embedder_is_loaded_lazily(tmp_path):
    embedder = minilm_embedder()
    assert embedder._model is None
    assert len(embedder.fingerprint) == 64 and embedder._model is None


def test_embed_texts_restores_input_order():
    texts = ['ccc', 'a', 'bb', 'a']
    out, stats = embed_texts(texts, FakeEmbedder(), chunk_size=2,
                             progress=False)
    assert np.allclose(out, np.stack([FakeEmbedder.vector(t) for t in texts]))
    assert stats.computed_items == 3


def test_resolve_model_path(tmp_path):
    assert resolve_model_path(tmp_path) == tmp_path.resolve()
    with pytest.raises(ValueError, match='neither a local folder'):
        resolve_model_path(tmp_path / 'missing')
    with pytest.raises(ValueError, match="'batch_size' must be positive"):
        SentenceEmbedder(tmp_path, batch_size=0)
