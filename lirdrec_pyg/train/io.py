"""Atomic writes: a result or checkpoint file is either the old or the new one."""
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Union

import torch

PathLike = Union[str, os.PathLike]


def _atomic(path: PathLike, write: Callable[[Any], None], mode: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f'.{path.name}.')
    try:
        with os.fdopen(fd, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_json(path: PathLike, obj: Any) -> None:
    r"""Writes :obj:`obj` as indented JSON to :obj:`path` atomically."""
    _atomic(path, lambda f: json.dump(obj, f, indent=2, sort_keys=False),
            'w')


def atomic_torch_save(path: PathLike, obj: Any) -> None:
    r"""Saves :obj:`obj` with :func:`torch.save` to :obj:`path` atomically."""
    _atomic(path, lambda f: torch.save(obj, f), 'wb')
