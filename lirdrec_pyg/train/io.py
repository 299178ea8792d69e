"""Atomic writes: a result or checkpoint file is either the old or the new one."""
import json
from typing import Any

import torch

from lirdrec_pyg.io import PathLike, atomic_write


def atomic_write_json(path: PathLike, obj: Any) -> None:
    r"""Writes :obj:`obj` as indented JSON to :obj:`path` atomically."""
    atomic_write(path,
                 lambda f: json.dump(obj, f, indent=2, sort_keys=False), 'w')


def atomic_torch_save(path: PathLike, obj: Any) -> None:
    r"""Saves :obj:`obj` with :func:`torch.save` to :obj:`path` atomically."""
    atomic_write(path, lambda f: torch.save(obj, f), 'wb')
