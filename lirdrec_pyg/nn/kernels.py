"""Optional compiled CPU kernels, built on first use.

The one kernel today is a CSR :math:`\\times` dense product for float32
(``lirdrec_pyg/csrc/spmm.cpp``) that keeps every output row in registers;
on the propagation of LIRDRec and LightGCN it is about 2.4x faster than
torch's CSR kernels, with the same sums in the same order. :func:`spmm`
dispatches to it; :class:`~lirdrec_pyg.nn.LightGCNPropagation`,
:func:`~lirdrec_pyg.nn.sparse_propagate` and the edge-weighted
:class:`~lirdrec_pyg.nn.graph_conv.EdgeGraph` use it.

It is compiled with :func:`torch.utils.cpp_extension.load` the first time it
is needed (about 30 s, then cached by torch under
``~/.cache/torch_extensions`` or ``$TORCH_EXTENSIONS_DIR``), for the CPU it
runs on (``-march=native``; one build per CPU feature set, so a shared home
folder serves different machines). Without a C++ compiler, or with the
environment variable ``LIRDREC_KERNELS=0``, everything runs on torch's own
kernels, with the same results. Build it ahead of time with ``lirdrec
build-kernels`` (``make install`` does).
"""
import hashlib
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


#: Bump the version with any change to the C++ source: the name keys torch's
#: build cache.
_EXTENSION_NAME = f'lirdrec_pyg_spmm_v2_{_cpu_tag()}'
_SOURCE = Path(__file__).resolve().parents[1] / 'csrc' / 'spmm.cpp'
_ENV = 'LIRDREC_KERNELS'

_module: Any = None
_failed = False


def kernels_enabled() -> bool:
    r"""Whether the compiled kernels may be used (:obj:`LIRDREC_KERNELS` is
    not :obj:`"0"`)."""
    value = os.environ.get(_ENV, '1').strip()
    if value not in ('0', '1'):
        raise ValueError(f"environment variable {_ENV} must be '0' or '1' "
                         f"(got '{value}')")
    return value == '1'


def load_spmm_extension(verbose: bool = False) -> Any:
    r"""Builds (once) and returns the compiled extension, or :obj:`None` if
    kernels are disabled or the build fails (with one warning saying why).
    """
    global _module, _failed
    if not kernels_enabled():
        return None
    if _module is not None or _failed:
        return _module
    try:
        from torch.utils.cpp_extension import load
        if not _is_built():
            # The first build stalls the caller for ~30 s: say so.
            logger.warning('lirdrec_pyg: compiling the SpMM kernel once '
                           '(about 30 s; LIRDREC_KERNELS=0 skips it)')
        start = time.perf_counter()
        _module = load(name=_EXTENSION_NAME, sources=[str(_SOURCE)],
                       extra_cflags=['-O3', '-march=native'],
                       verbose=verbose)
        logger.info('loaded %s in %.1f s', _EXTENSION_NAME,
                    time.perf_counter() - start)
    except Exception as error:  # no compiler, no headers, no ninja, ...
        _failed = True
        warnings.warn(f"lirdrec_pyg: could not build the compiled SpMM "
                      f"kernel ({type(error).__name__}: "
                      f"{str(error).splitlines()[0] if str(error) else ''});"
                      f" falling back to torch's kernels (same results, "
                      f"slower). Set {_ENV}=0 to skip the attempt.")
    return _module


def _is_built() -> bool:
    # torch builds into $TORCH_EXTENSIONS_DIR/<name>/ or, by default, into
    # <build root>/<python and CUDA tag>/<name>/.
    from torch.utils.cpp_extension import get_default_build_root
    custom = os.environ.get('TORCH_EXTENSIONS_DIR')
    pattern = (f'{_EXTENSION_NAME}/*.so' if custom
               else f'*/{_EXTENSION_NAME}/*.so')
    return any(Path(custom or get_default_build_root()).glob(pattern))


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
