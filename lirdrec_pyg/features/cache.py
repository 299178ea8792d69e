"""Chunked computation with a per-chunk cache, so that an interrupted run
resumes where it stopped, a repeated run does no work, and a run on slightly
changed inputs computes only the new ones."""
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from lirdrec_pyg.features.io import PathLike, atomic_write


@dataclass
class ChunkStats:
    r"""What a :func:`run_chunked` call did: chunks (calls of the function)
    and inputs computed, and inputs read from the cache."""
    computed_chunks: int = 0
    computed_items: int = 0
    cached_items: int = 0


def input_hash(text: str) -> str:
    r"""The cache key of one input."""
    return hashlib.sha256(text.encode('utf-8')).hexdigest()[:32]


def cache_folder(cache_dir: PathLike, key: str) -> Path:
    r"""The cache folder of one computation :obj:`key` (model and
    settings): results of different models never mix."""
    return Path(cache_dir) / hashlib.sha256(key.encode()).hexdigest()[:16]


def load_cache(folder: PathLike) -> Dict[str, np.ndarray]:
    r"""Reads every chunk file of a cache folder into
    :obj:`{input hash: output row}`."""
    known: Dict[str, np.ndarray] = {}
    for file in sorted(Path(folder).glob('chunk-*.npz')):
        with np.load(file) as z:
            known.update(zip(z['hashes'].tolist(), z['rows']))
    return known


def _save_chunk(folder: Path, hashes: List[str], rows: np.ndarray) -> None:
    name = hashlib.sha256(''.join(hashes).encode()).hexdigest()[:24]

    def write(f: io.BufferedWriter) -> None:
        np.savez(f, hashes=np.array(hashes), rows=rows)
    atomic_write(folder / f'chunk-{name}.npz', write, 'wb')


def run_chunked(
    inputs: Sequence[str],
    fn: Callable[[List[str]], np.ndarray],
    key: str,
    cache_dir: Optional[PathLike] = None,
    chunk_size: int = 256,
    progress: bool = True,
    desc: str = 'embedding',
) -> Tuple[np.ndarray, ChunkStats]:
    r"""Applies :obj:`fn` to chunks of the inputs that are not cached yet and
    returns one output row per input.

    Each computed chunk is saved atomically to a file of
    :obj:`cache_folder(cache_dir, key)` before the next one starts; on a new
    run all chunk files there are read and only inputs found in none of them
    are computed. A run killed half-way therefore restarts with the missing
    inputs only, and a repeated run calls :obj:`fn` not at all.

    Args:
        inputs (list of str): The inputs, one output row each.
        fn (callable): Maps a list of inputs to a :obj:`[len, d]` array.
        key (str): Identifies everything besides the inputs that determines
            the output (model fingerprint, settings).
        cache_dir (str, optional): Cache root; :obj:`None` disables caching.
            (default: :obj:`None`)
        chunk_size (int, optional): Inputs per call of :obj:`fn` and per cache
            file. (default: :obj:`256`)
        progress (bool, optional): Show a progress bar. (default: :obj:`True`)
        desc (str, optional): Progress bar label. (default: :obj:`"embedding"`)
    """
    if chunk_size < 1:
        raise ValueError(f"'chunk_size' must be positive (got {chunk_size})")
    if len(inputs) == 0:
        raise ValueError("'inputs' is empty: there is nothing to compute")
    from tqdm.auto import tqdm

    folder = None if cache_dir is None else cache_folder(cache_dir, key)
    known = {} if folder is None else load_cache(folder)
    hashes = [input_hash(t) for t in inputs]
    todo, seen = [], set()
    for text, h in zip(inputs, hashes):
        if h not in known and h not in seen:
            seen.add(h)
            todo.append((text, h))
    stats = ChunkStats(cached_items=len(inputs) - len(todo))
    # On a terminal only (disable=None): piped, its redraws fill a file.
    bar = tqdm(total=len(inputs), initial=stats.cached_items, desc=desc,
               unit='item', disable=None if progress else True)
    try:
        for start in range(0, len(todo), chunk_size):
            chunk = todo[start:start + chunk_size]
            rows = np.asarray(fn([text for text, _ in chunk]))
            if rows.ndim != 2 or rows.shape[0] != len(chunk):
                raise ValueError(
                    f"The chunk function returned shape {rows.shape} for "
                    f"{len(chunk)} inputs (expected [{len(chunk)}, d])")
            if folder is not None:
                _save_chunk(folder, [h for _, h in chunk], rows)
            known.update(zip((h for _, h in chunk), rows))
            stats.computed_chunks += 1
            stats.computed_items += len(chunk)
            bar.update(len(chunk))
    finally:
        bar.close()
    return np.stack([known[h] for h in hashes]), stats
