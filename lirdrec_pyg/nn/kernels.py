"""Optional compiled CPU kernels, built once per install.

The one kernel today is a CSR :math:`\\times` dense product for float32
(``lirdrec_pyg/csrc/spmm.cpp``) that keeps every output row in registers;
on the propagation of LIRDRec and LightGCN it is about 2.4x faster than
torch's CSR kernels, with the same sums in the same order. :func:`spmm`
dispatches to it; :class:`~lirdrec_pyg.nn.LightGCNPropagation`,
:func:`~lirdrec_pyg.nn.sparse_propagate` and the edge-weighted
:class:`~lirdrec_pyg.nn.graph_conv.EdgeGraph` use it.

It is compiled by ``lirdrec build-kernels`` (``make install`` runs it; about
30 s) with :func:`torch.utils.cpp_extension.load` into the install's own
folder, ``lirdrec_pyg/_kernels/`` (or ``$LIRDREC_KERNEL_DIR``), for the CPU
it runs on (``-march=native``; one build per CPU feature set). A run never
compiles: it imports the built module if there is one, and otherwise uses
torch's kernels, with the same results, after one warning naming the
command. So two checkouts or two processes never rebuild a shared cache in
turn, and no build lands in a run's timing. ``LIRDREC_KERNELS=0`` turns the
compiled kernel off.
"""
import fcntl
import hashlib
import importlib.util
import logging
import os
import platform
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Optional

import torch
from torch import Tensor

logger = logging.getLogger(__name__)


def _cpu_tag() -> str:
    # -march=native binaries must not be shared between different CPUs (a
    # home folder on a cluster): the CPU's feature flags go into the name.
    flags = platform.machine() + platform.processor()
    try:
        with open('/proc/cpuinfo') as f:
            flags += next((line for line in f
                           if line.startswith(('flags', 'Features'))), '')
    except OSError:
        pass
    return hashlib.sha1(flags.encode()).hexdigest()[:8]


#: Bump the version with any change to the C++ source: a build of another
#: version is never loaded.
_EXTENSION_NAME = f'lirdrec_pyg_spmm_v2_{_cpu_tag()}'
_SOURCE = Path(__file__).resolve().parents[1] / 'csrc' / 'spmm.cpp'
_ENV = 'LIRDREC_KERNELS'
_DIR_ENV = 'LIRDREC_KERNEL_DIR'

_module: Any = None
_failed = False
_unbuilt_warned = False


def kernels_enabled() -> bool:
    r"""Whether the compiled kernels may be used (:obj:`LIRDREC_KERNELS` is
    not :obj:`"0"`)."""
    value = os.environ.get(_ENV, '1').strip()
    if value not in ('0', '1'):
        raise ValueError(f"environment variable {_ENV} must be '0' or '1' "
                         f"(got '{value}')")
    return value == '1'


def kernel_dir() -> Path:
    r"""Where this install keeps its compiled kernels:
    :obj:`$LIRDREC_KERNEL_DIR` or :obj:`lirdrec_pyg/_kernels`, one folder per
    extension name (version and CPU)."""
    root = os.environ.get(_DIR_ENV)
    base = Path(root).expanduser() if root else (
        Path(__file__).resolve().parents[1] / '_kernels')
    return base / _EXTENSION_NAME


def _built_library() -> Optional[Path]:
    path = kernel_dir() / f'{_EXTENSION_NAME}.so'
    return path if path.is_file() else None


def _import_library(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(_EXTENSION_NAME, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_spmm_extension(verbose: bool = False) -> Any:
    r"""Compiles the extension into :func:`kernel_dir` (once; a concurrent
    build waits for the first) and returns it. Raises what the build
    raises."""
    from torch.utils.cpp_extension import load
    folder = kernel_dir()
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / '.build.lock', 'w') as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        if _built_library() is None:
            start = time.perf_counter()
            load(name=_EXTENSION_NAME, sources=[str(_SOURCE)],
                 extra_cflags=['-O3', '-march=native'],
                 build_directory=str(folder), verbose=verbose)
            logger.info('built %s in %.1f s', _EXTENSION_NAME,
                        time.perf_counter() - start)
    return _import_library(_built_library())


def load_spmm_extension(verbose: bool = False, build: bool = False) -> Any:
    r"""Returns the compiled extension, or :obj:`None` if kernels are
    disabled, not built for this install (one warning naming
    :obj:`lirdrec build-kernels`) or fail to load or build (one warning
    saying why). Only :obj:`build=True` (:obj:`lirdrec build-kernels`)
    compiles."""
    global _module, _failed, _unbuilt_warned
    if not kernels_enabled():
        return None
    if _module is not None or _failed:
        return _module
    try:
        library = _built_library()
        if library is not None:
            _module = _import_library(library)
        elif build:
            _module = build_spmm_extension(verbose)
        elif not _unbuilt_warned:
            # Not a failure: a later build=True (build-kernels) still builds.
            _unbuilt_warned = True
            warnings.warn(f"lirdrec_pyg: the compiled SpMM kernel is not "
                          f"built for this install ('{kernel_dir()}'); "
                          f"torch's kernels are used (same results, "
                          f"slower). Run 'lirdrec build-kernels' once (make "
                          f"install does), or set {_ENV}=0.")
    except Exception as error:  # no compiler, no headers, no ninja, ...
        _failed = True
        warnings.warn(f"lirdrec_pyg: could not build the compiled SpMM "
                      f"kernel ({type(error).__name__}: "
                      f"{str(error).splitlines()[0] if str(error) else ''});"
                      f" falling back to torch's kernels (same results, "
                      f"slower). Set {_ENV}=0 to skip the attempt.")
    return _module


def csr_spmm_kernel() -> Optional[Callable[[Tensor, Tensor, Tensor, Tensor],
                                           Tensor]]:
    r"""The compiled :obj:`csr_spmm(crow, col, values, x)`, or :obj:`None`
    when it is unavailable."""
    module = load_spmm_extension()
    return None if module is None else module.csr_spmm


def csr_kernel_applies(adj: Tensor, x: Tensor) -> bool:
    r"""Whether :obj:`adj @ x` is a case for the compiled kernel: a CPU CSR
    matrix with int64 indices and float32 values, a float32 2-D :obj:`x`,
    and no gradient asked of the product itself (the kernel is called inside
    autograd functions that define their own backward pass). Does not build
    or load anything."""
    if (x.is_cuda or x.dim() != 2 or adj.layout != torch.sparse_csr
            or adj.dim() != 2
            or x.dtype != torch.float32 or adj.dtype != torch.float32
            or adj.crow_indices().dtype != torch.long):
        return False
    return not (torch.is_grad_enabled()
                and (x.requires_grad or adj.requires_grad))


def spmm(adj: Tensor, x: Tensor, validated: bool = False) -> Tensor:
    r"""The product :obj:`adj @ x` of a fixed sparse matrix and a dense one
    on the fastest kernel at hand: the compiled one for float32 CSR on the
    CPU (see :func:`csr_kernel_applies`), torch's CSR reduce kernel for other
    CPU inputs (~1.5x faster than :obj:`adj @ x`), :obj:`adj @ x` on CUDA and
    for other layouts. Meant for the inside of autograd functions, which
    define the backward pass themselves.

    The compiled kernel validates the CSR structure of :obj:`adj` against
    :obj:`x` the first time it meets that tensor (the result is remembered
    on it: a graph that changes is a new tensor) or never, if the caller
    passes :obj:`validated=True` for a structure it has checked itself."""
    if x.is_cuda or adj.layout != torch.sparse_csr:
        return adj @ x
    kernel = csr_spmm_kernel() if csr_kernel_applies(adj, x) else None
    if kernel is None:
        return torch.sparse.mm(adj, x, 'sum')
    # Valid column ids for an x of n rows stay valid for any x of >= n rows.
    checked_rows = getattr(adj, '_lirdrec_checked_rows', None)
    check = not validated and (checked_rows is None
                               or x.size(0) < checked_rows)
    out = kernel(adj.crow_indices(), adj.col_indices(), adj.values(), x,
                 check)
    if check:
        adj._lirdrec_checked_rows = x.size(0)
    return out
