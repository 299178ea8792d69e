r"""Assembly of per-item texts (item descriptions or image captions) into a
modality feature matrix :obj:`<modality>_feat.npy` in the MMRec layout: row
:obj:`i` belongs to item id :obj:`i`."""
import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Tuple

import numpy as np

from lirdrec_pyg.features.io import (PathLike, save_npy_atomic, sha256_of,
                                     write_json_atomic)
from lirdrec_pyg.features.text import Embedder, embed_texts

FALLBACKS = ('mean', 'zero', 'error')


@dataclass
class FeatureReport:
    r"""What a feature build produced; written next to the matrix as
    :obj:`<modality>_feat.report.json`."""
    path: str
    num_items: int
    dim: int
    num_missing: int
    missing_items: List[int]
    fallback: str
    embedder: str
    fingerprint: str
    computed_chunks: int = 0
    computed_items: int = 0
    cached_items: int = 0
    skipped: bool = False
    seconds: float = 0.0
    extra: Dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        if self.embedder == 'none':
            return f'{self.path}: {self.num_items} x {self.dim}'
        state = 'unchanged, skipped' if self.skipped else (
            f'{self.computed_items} text(s) embedded, '
            f'{self.cached_items} from cache')
        return (f'{self.path}: {self.num_items} x {self.dim}, '
                f'{self.num_missing} item(s) without input -> '
                f'{self.fallback} fallback ({state}, {self.seconds:.1f}s)')


def report_path(path: PathLike) -> Path:
    r"""The report file of the feature matrix :obj:`path`."""
    path = Path(path)
    return path.with_name(path.stem + '.report.json')


def fill_missing(matrix: np.ndarray, present: np.ndarray,
                 fallback: str = 'mean') -> np.ndarray:
    r"""Fills the rows of items without input.

    The public Amazon feature sets give such items the mean of the other
    items' vectors (:obj:`"mean"`, not re-normalised); :obj:`"zero"` leaves
    them at zero, :obj:`"error"` refuses to build.

    Args:
        matrix (np.ndarray): :obj:`[num_items, d]`, rows of present items set.
        present (np.ndarray): Boolean mask :obj:`[num_items]`.
        fallback (str, optional): :obj:`"mean"`, :obj:`"zero"` or
            :obj:`"error"`. (default: :obj:`"mean"`)
    """
    if fallback not in FALLBACKS:
        raise ValueError(f"'fallback' must be one of {FALLBACKS} "
                         f"(got '{fallback}')")
    missing = ~present
    if missing.any():
        if fallback == 'error':
            ids = np.flatnonzero(missing)[:10].tolist()
            raise ValueError(f"{int(missing.sum())} item(s) have no input "
                             f"(first ids: {ids}) and fallback='error'")
        if fallback == 'mean':
            matrix[missing] = matrix[present].mean(axis=0)
        else:
            matrix[missing] = 0.0
    return matrix


def _clean(item_texts: Mapping[int, Optional[str]],
           num_items: int) -> Dict[int, str]:
    if num_items < 1:
        raise ValueError(f"'num_items' must be positive (got {num_items})")
    out: Dict[int, str] = {}
    for item, text in item_texts.items():
        if not 0 <= int(item) < num_items:
            raise ValueError(f"Item id {item} is outside [0, {num_items}); "
                             f"check 'num_items' or the key map")
        # Whitespace-only texts are as good as missing.
        if text is not None and text.strip():
            out[int(item)] = text
    if not out:
        raise ValueError("No item has a non-empty text: nothing to embed")
    return out


def build_feature_matrix(
    item_texts: Mapping[int, Optional[str]],
    num_items: int,
    embedder: Embedder,
    fallback: str = 'mean',
    cache_dir: Optional[PathLike] = None,
    chunk_size: int = 256,
    progress: bool = True,
) -> Tuple[np.ndarray, FeatureReport]:
    r"""Embeds the text of every item into a :obj:`float32` matrix
    :obj:`[num_items, d]` aligned to item ids; items without text get the
    :obj:`fallback` (see :func:`fill_missing`).

    Args:
        item_texts (dict): Item id -> text (a description or a caption).
        num_items (int): The dataset's number of items.
        embedder (Embedder): The text encoder.
        fallback (str, optional): Rows of items without text.
            (default: :obj:`"mean"`)
        cache_dir (str, optional): Chunk cache for resumption.
            (default: :obj:`None`)
        chunk_size (int, optional): Texts per cached chunk.
            (default: :obj:`256`)
        progress (bool, optional): Show a progress bar. (default: :obj:`True`)
    """
    start = time.perf_counter()
    texts = _clean(item_texts, num_items)
    items = sorted(texts)
    rows, stats = embed_texts([texts[i] for i in items], embedder,
                              cache_dir=cache_dir, chunk_size=chunk_size,
                              progress=progress)
    matrix = np.zeros((num_items, rows.shape[1]), dtype=np.float32)
    matrix[items] = rows
    present = np.zeros(num_items, dtype=bool)
    present[items] = True
    fill_missing(matrix, present, fallback)
    missing = np.flatnonzero(~present).tolist()
    report = FeatureReport(
        path='', num_items=num_items, dim=int(matrix.shape[1]),
        num_missing=len(missing), missing_items=missing, fallback=fallback,
        embedder=repr(embedder),
        fingerprint=run_fingerprint(texts, num_items, embedder, fallback),
        computed_chunks=stats.computed_chunks,
        computed_items=stats.computed_items, cached_items=stats.cached_items,
        seconds=time.perf_counter() - start)
    return matrix, report


def run_fingerprint(texts: Mapping[int, str], num_items: int,
                    embedder: Embedder, fallback: str) -> str:
    r"""Identifies a feature build by everything its output depends on."""
    return sha256_of([embedder.fingerprint, num_items, fallback,
                      sorted((int(i), t) for i, t in texts.items())])


def load_report(path: PathLike) -> Optional[FeatureReport]:
    r"""The report of an existing feature file, or :obj:`None`."""
    rpath = report_path(path)
    if not (Path(path).is_file() and rpath.is_file()):
        return None
    try:
        return FeatureReport(**json.loads(rpath.read_text()))
    except (ValueError, TypeError):
        return None


def write_feature_file(
    path: PathLike,
    item_texts: Mapping[int, Optional[str]],
    num_items: int,
    embedder: Embedder,
    fallback: str = 'mean',
    cache_dir: Optional[PathLike] = None,
    chunk_size: int = 256,
    progress: bool = True,
    force: bool = False,
) -> FeatureReport:
    r"""Builds the feature matrix of :func:`build_feature_matrix` and writes
    it atomically to :obj:`path` (*e.g.*, :obj:`out/text_feat.npy`) with its
    report (:func:`report_path`).

    If :obj:`path` exists and its report records the same inputs, model and
    settings, nothing is computed (and the model is not even loaded).

    Args:
        path (str): The output :obj:`.npy` file.
        force (bool, optional): Rebuild even if up to date; chunks in the
            cache are still reused. (default: :obj:`False`)

    The other arguments are those of :func:`build_feature_matrix`; the
    default :obj:`cache_dir` is :obj:`<folder of path>/.feature_cache`.
    """
    path = Path(path)
    if path.suffix != '.npy':
        raise ValueError(f"Output '{path}' must end in '.npy' "
                         f"(e.g. 'text_feat.npy')")
    start = time.perf_counter()
    texts = _clean(item_texts, num_items)
    fingerprint = run_fingerprint(texts, num_items, embedder, fallback)
    old = load_report(path)
    if not force and old is not None and old.fingerprint == fingerprint:
        old.skipped = True
        old.computed_chunks = old.computed_items = old.cached_items = 0
        old.seconds = time.perf_counter() - start
        return old
    if cache_dir is None:
        cache_dir = path.parent / '.feature_cache'
    matrix, report = build_feature_matrix(texts, num_items, embedder,
                                          fallback, cache_dir, chunk_size,
                                          progress)
    report.path = str(path)
    save_npy_atomic(path, matrix)
    write_json_atomic(report_path(path), asdict(report))
    return report


def write_matrix_file(path: PathLike, matrix: np.ndarray,
                      **extra: Any) -> FeatureReport:
    r"""Writes a feature matrix computed without an encoder (*e.g.*,
    multi-hot genres) atomically, with a report like
    :func:`write_feature_file`."""
    path = Path(path)
    matrix = np.asarray(matrix, dtype=np.float32)
    if matrix.ndim != 2:
        raise ValueError(f"Feature matrix for '{path}' must be 2-D "
                         f"(got shape {matrix.shape})")
    report = FeatureReport(
        path=str(path), num_items=int(matrix.shape[0]),
        dim=int(matrix.shape[1]), num_missing=0, missing_items=[],
        fallback='none', embedder='none',
        fingerprint=hashlib.sha256(matrix.tobytes()).hexdigest(),
        extra=dict(extra))
    save_npy_atomic(path, matrix)
    write_json_atomic(report_path(path), asdict(report))
    return report
