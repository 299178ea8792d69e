"""The training device and the process group of a ``torchrun`` launch."""
import os
from typing import Optional

import torch
import torch.distributed as dist

DEVICES = ('auto', 'cpu', 'cuda')


def check_device(name: str) -> None:
    r"""Raises a :class:`ValueError` naming ``train.device`` unless
    :obj:`name` is :obj:`"auto"`, :obj:`"cpu"`, :obj:`"cuda"` or
    :obj:`"cuda:N"`."""
    base, _, index = str(name).partition(':')
    if base not in DEVICES or (index and (base != 'cuda'
                                          or not index.isdigit())):
        raise ValueError(f"train.device must be one of {list(DEVICES)} or "
                         f"'cuda:N' (got {name!r})")


def resolve_device(name: str, local_rank: Optional[int] = None
                   ) -> torch.device:
    r"""The :class:`torch.device` of ``train.device``: :obj:`"auto"` is
    CUDA when available, else the CPU; :obj:`"cuda"` is the process's GPU
    (:obj:`LOCAL_RANK` under ``torchrun``, else GPU 0).

    Args:
        name (str): :obj:`"auto"`, :obj:`"cpu"`, :obj:`"cuda"` or
            :obj:`"cuda:N"`.
        local_rank (int, optional): The process's index on its machine
            (default: :obj:`None`, read from :obj:`LOCAL_RANK`, else 0).
    """
    check_device(name)
    if name == 'auto':
        name = 'cuda' if torch.cuda.is_available() else 'cpu'
    if name == 'cpu':
        return torch.device('cpu')
    if not torch.cuda.is_available():
        raise ValueError(f"train.device is '{name}' but no CUDA device is "
                         f"available (torch.cuda.is_available() is False); "
                         f"use --device cpu or auto")
    if name == 'cuda':
        if local_rank is None:
            local_rank = int(os.environ.get('LOCAL_RANK', '0'))
        name = f'cuda:{local_rank % torch.cuda.device_count()}'
    return torch.device(name)


def env_world_size() -> int:
    r"""The number of processes ``torchrun`` started (:obj:`WORLD_SIZE`,
    1 without ``torchrun``)."""
    value = os.environ.get('WORLD_SIZE', '1')
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"environment variable WORLD_SIZE must be a "
                         f"positive integer (got {value!r})")
    return int(value)


def backend_for(device: torch.device) -> str:
    r"""NCCL for CUDA devices, Gloo for the CPU."""
    return 'nccl' if device.type == 'cuda' else 'gloo'


def init_process_group(device: torch.device) -> bool:
    r"""Joins the process group described by ``torchrun``'s environment
    (:obj:`MASTER_ADDR`, :obj:`MASTER_PORT`, :obj:`RANK`,
    :obj:`WORLD_SIZE`) with the backend of :obj:`device`, unless this is a
    single process or the group exists already. Returns whether a group of
    more than one process is active."""
    if dist.is_initialized():
        return dist.get_world_size() > 1
    if env_world_size() == 1:
        return False
    if device.type == 'cuda':
        torch.cuda.set_device(device)
    dist.init_process_group(backend_for(device))
    return dist.get_world_size() > 1


def is_main_process() -> bool:
    r"""Whether this process writes files and logs: rank 0, or the only
    process."""
    return not dist.is_initialized() or dist.get_rank() == 0


__all__ = ['DEVICES', 'check_device', 'resolve_device', 'env_world_size',
           'backend_for', 'init_process_group', 'is_main_process']
