"""The compiled CSR SpMM kernel against torch's CSR kernel, in one process.

    python benchmarks/spmm.py --threads 1

For the normalised user-item adjacency of ``lastfm2k`` and of Amazon Baby's
training graph (both real), at the widths the models propagate (64: one
branch, LightGCN; 192: LIRDRec's three branches), prints the milliseconds of
one product with torch's reduce kernel (``torch.sparse.mm(A, X, 'sum')``,
what the library used before) and with the compiled kernel
(``lirdrec_pyg/csrc/spmm.cpp`` through ``lirdrec_pyg.nn.kernels.spmm``), their ratio, and whether the two outputs
are identical. Best of several repeats; the thread count is recorded.
"""
import argparse
import json
import platform
import sys
from pathlib import Path
from typing import Dict, List

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.timing import best_ms  # noqa: E402
from lirdrec_pyg.data import load_dataset  # noqa: E402
from lirdrec_pyg.nn.kernels import csr_spmm_kernel, spmm  # noqa: E402
from lirdrec_pyg.transforms.adjacency import get_ui_adjacency  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--datasets', nargs='+',
                        default=['lastfm2k', 'amazon_baby'])
    parser.add_argument('--widths', nargs='+', type=int, default=[64, 192])
    parser.add_argument('--threads', type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    kernel = csr_spmm_kernel()
    if kernel is None:
        print('the compiled kernel is unavailable (see the warning)')
        return 1
    rows: List[Dict[str, object]] = []
    for name in args.datasets:
        adj = get_ui_adjacency(load_dataset(name))
        val = adj.values()
        for width in args.widths:
            x = torch.randn(adj.size(1), width,
                            generator=torch.Generator().manual_seed(0))
            torch_ms = best_ms(lambda: torch.sparse.mm(adj, x, 'sum'),
                               repeats=7, warmup=1)
            # As the library calls it: the structure checked on first use.
            kernel_ms = best_ms(lambda: spmm(adj, x), repeats=7, warmup=1)
            same = torch.equal(torch.sparse.mm(adj, x, 'sum'), spmm(adj, x))
            rows.append(dict(dataset=name, nodes=adj.size(0),
                             nnz=int(val.numel()), width=width,
                             torch_ms=round(torch_ms, 3),
                             kernel_ms=round(kernel_ms, 3),
                             speedup=round(torch_ms / kernel_ms, 2),
                             identical=same))
    print(json.dumps(dict(rows=rows, threads=torch.get_num_threads(),
                          torch=torch.__version__,
                          machine=platform.machine()), indent=1))
    return 0


if __name__ == '__main__':
    sys.exit(main())
