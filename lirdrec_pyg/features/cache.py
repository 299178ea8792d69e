"""Chunked computation with a per-chunk cache, so that an interrupted run
resumes where it stopped and a repeated run does no work."""
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np

from lirdrec_pyg.features.io import PathLike, save_npy_atomic, sha256_of


@dataclass
class ChunkStats:
    r"""How many chunks a :func:`run_chunked` call computed and how many it
    read from the cache."""
    computed: int = 0
    cached: int = 0


def chunk_path(cache_dir: PathLike, key: str, chunk: Sequence[str]) -> Path:
    r"""The cache file of one chunk: content-addressed by the computation's
    :obj:`key` (model and settings) and the chunk's inputs, so a changed
    input or model never reuses a stale result."""
    return Path(cache_dir) / f'{sha256_of([key, list(chunk)])[:32]}.npy'


def run_chunked(
    inputs: Sequence[str],
    fn: Callable[[List[str]], np.ndarray],
    key: str,
    cache_dir: Optional[PathLike] = None,
    chunk_size: int = 256,
    progress: bool = True,
    desc: str = 'embedding',
) -> Tuple[np.ndarray, ChunkStats]:
    r"""Applies :obj:`fn` to consecutive chunks of :obj:`inputs` and stacks the
    resulting rows.

    Each computed chunk is saved atomically to :obj:`cache_dir` before the
    next one starts; chunks found there are loaded instead of computed. A run
    killed half-way therefore restarts with only the missing chunks.

    Args:
        inputs (list of str): The inputs, one output row each.
        fn (callable): Maps a list of inputs to a :obj:`[len, d]` array.
        key (str): Identifies everything besides the inputs that determines
            the output (model fingerprint, settings).
        cache_dir (str, optional): Folder of the chunk files; :obj:`None`
            disables caching. (default: :obj:`None`)
        chunk_size (int, optional): Inputs per chunk. (default: :obj:`256`)
        progress (bool, optional): Show a progress bar. (default: :obj:`True`)
        desc (str, optional): Progress bar label. (default: :obj:`"embedding"`)
    """
    if chunk_size < 1:
        raise ValueError(f"'chunk_size' must be positive (got {chunk_size})")
    if len(inputs) == 0:
        raise ValueError("'inputs' is empty: there is nothing to compute")
    from tqdm.auto import tqdm

    stats = ChunkStats()
    parts: List[np.ndarray] = []
    bar = tqdm(total=len(inputs), desc=desc, unit='item', disable=not progress)
    try:
        for start in range(0, len(inputs), chunk_size):
            chunk = list(inputs[start:start + chunk_size])
            path = None if cache_dir is None else chunk_path(
                cache_dir, key, chunk)
            if path is not None and path.is_file():
                out = np.load(path)
                stats.cached += 1
            else:
                out = np.asarray(fn(chunk))
                if out.ndim != 2 or out.shape[0] != len(chunk):
                    raise ValueError(
                        f"The chunk function returned shape {out.shape} for "
                        f"{len(chunk)} inputs (expected [{len(chunk)}, d])")
                if path is not None:
                    save_npy_atomic(path, out)
                stats.computed += 1
            parts.append(out)
            bar.update(len(chunk))
    finally:
        bar.close()
    return np.concatenate(parts, axis=0), stats
