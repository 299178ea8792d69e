"""Checkpoint and result files: atomic writes and loads that never run code."""
import json
import pickle
import zipfile
from pathlib import Path
from typing import Any, Iterable, Optional, Union

import torch

from lirdrec_pyg.io import PathLike, atomic_write


class CheckpointError(ValueError):
    r"""A checkpoint that cannot be read: corrupt, truncated, foreign (not
    written by :obj:`lirdrec_pyg`) or holding objects other than tensors and
    plain containers. The message names the file."""


def atomic_write_json(path: PathLike, obj: Any) -> None:
    r"""Writes :obj:`obj` as indented JSON to :obj:`path` atomically."""
    atomic_write(path,
                 lambda f: json.dump(obj, f, indent=2, sort_keys=False), 'w')


def atomic_torch_save(path: PathLike, obj: Any) -> None:
    r"""Saves :obj:`obj` with :func:`torch.save` to :obj:`path` atomically."""
    atomic_write(path, lambda f: torch.save(obj, f), 'wb')


def _short(text: str, limit: int = 120) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[:limit - 3] + '...'


def safe_torch_load(path: PathLike,
                    map_location: Optional[Union[str, torch.device]] = None,
                    keys: Iterable[str] = ()) -> Any:
    r"""Loads a checkpoint with :obj:`weights_only=True`: only tensors and
    plain containers (dict, list, tuple, numbers, strings) are rebuilt, so a
    crafted file can never run code. Any failure (a pickled object, a
    truncated or foreign file) is a :class:`CheckpointError` naming
    :obj:`path`; with :obj:`keys`, the loaded mapping must hold them.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint '{path}' does not exist")
    try:
        obj = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        lines = str(e).strip().splitlines()
        reason = next((line.strip() for line in lines
                       if 'GLOBAL' in line or 'global' in line), None)
        if reason is None:  # not a pickle at all: an unreadable file
            raise CheckpointError(
                f"checkpoint '{path}' cannot be read (corrupt, truncated or "
                f"not written by lirdrec_pyg)") from None
        raise CheckpointError(
            f"checkpoint '{path}' was refused: it holds objects other than "
            f"tensors and plain containers, which are never loaded "
            f"(weights_only); {_short(reason)}") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError,
            ValueError, AttributeError, IndexError) as e:
        detail = str(e).strip().splitlines()
        raise CheckpointError(
            f"checkpoint '{path}' cannot be read (corrupt, truncated or "
            f"not written by lirdrec_pyg): "
            f"{_short(detail[0]) if detail else type(e).__name__}"
        ) from None
    missing = [k for k in keys if not isinstance(obj, dict) or k not in obj]
    if missing:
        raise CheckpointError(f"checkpoint '{path}' is not a lirdrec_pyg "
                              f"training checkpoint (missing {missing})")
    return obj
