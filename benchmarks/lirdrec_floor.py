"""How close a LIRDRec training step is to its arithmetic floor.

    python benchmarks/lirdrec_floor.py --dataset lastfm2k --threads 1

Times, in one process, a full training step (batch 2048, the dataset's
reference settings) and the work that no implementation of the model can
skip: the encoders' dense products (the first layers forward and their
weight gradients, the second layers forward, weight and input gradients)
and the six sparse products (the user-item adjacency twice forward and twice
backward, the item graph once each way). Both in float32 and with
``precision=bfloat16``. Prints milliseconds (the best of several repeats)
and the floor as a share of the step: an upper bound of what any fusion of
the remaining element-wise work could gain. Also the step time that a 4x
speed-up over the reference implementation's 1.35 s epoch allows
(``step_budget_for_4x_ms``), to compare with the floors, and the GEMM
throughput reached (GFLOP/s). The sparse products run on the library's
kernel: the compiled one unless ``LIRDREC_KERNELS=0``.
"""
import argparse
import json
import math
import sys
from pathlib import Path
from typing import Callable, Dict, Tuple

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.timing import best_ms  # noqa: E402
from lirdrec_pyg.data import UI, load_dataset  # noqa: E402
from lirdrec_pyg.models import create_model  # noqa: E402
from lirdrec_pyg.nn.kernels import csr_spmm_kernel, spmm  # noqa: E402
from lirdrec_pyg.nn.propagation import transpose_csr  # noqa: E402
from lirdrec_pyg.train.config import load_config  # noqa: E402
from lirdrec_pyg.train.trainer import make_adam  # noqa: E402

#: The reference implementation's epoch on lastfm2k, one thread (issue 4).
REFERENCE_EPOCH_S = 1.35
PRECISIONS = {'float32': torch.float32, 'bfloat16': torch.bfloat16}


def encoder_shapes(model) -> Tuple[int, int, int, int, int]:
    r"""Items, summed input width of all first layers, hidden width,
    branches and output width of the model's encoders."""
    d_in = sum(e.in_channels for e in model.encoders)
    if model.shared is not None:
        d_in += sum(model.shared.in_channels)
    return (model.num_items, d_in, model.encoders[0].hidden_channels,
            model.num_branches, model.embedding_dim)


def encoder_gemms(model, dtype: torch.dtype) -> Callable[[], None]:
    n, d_in, hidden, b, d = encoder_shapes(model)
    x = torch.randn(n, d_in, dtype=dtype)
    w1 = torch.randn(d_in, hidden, dtype=dtype)
    g1 = torch.randn(n, hidden, dtype=dtype)
    h = torch.randn(b, n, hidden, dtype=dtype)
    w2 = torch.randn(b, hidden, d, dtype=dtype)
    g2 = torch.randn(b, n, d, dtype=dtype)

    def run() -> None:
        x @ w1  # first layers, forward (all branches side by side)
        x.t() @ g1  # their weight gradients
        torch.bmm(h, w2)  # second layers, forward
        torch.bmm(h.transpose(1, 2), g2)  # weight gradients
        torch.bmm(g2, w2.transpose(1, 2))  # input gradients
    return run


def encoder_flop(model) -> int:
    r"""Floating point operations of :func:`encoder_gemms` (2 per
    multiply-add)."""
    n, d_in, hidden, b, d = encoder_shapes(model)
    return 2 * (2 * n * d_in * hidden + 3 * b * n * hidden * d)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--dataset', default='lastfm2k')
    parser.add_argument('--threads', type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    data = load_dataset(args.dataset)
    out: Dict[str, float] = {}
    for name, dtype in PRECISIONS.items():
        cfg = load_config('lirdrec', dataset=args.dataset,
                          overrides=[f'precision={name}'])
        torch.manual_seed(0)
        model = create_model('lirdrec', data, **cfg['model'])
        optimizer = make_adam(model.parameters(), cfg['train']['lr'])
        g = torch.Generator().manual_seed(0)
        size = (cfg['train'].get('batch_size', 2048), )
        users = torch.randint(0, model.num_users, size, generator=g)
        pos = torch.randint(0, model.num_items, size, generator=g)
        neg = torch.randint(0, model.num_items, size, generator=g)
        model.train()
        model.on_epoch_start(1)

        def step() -> None:
            optimizer.zero_grad()
            model.loss(users, pos, neg).backward()
            optimizer.step()
        out[f'{name}_step_ms'] = best_ms(step, calls=10)
        out[f'{name}_encoder_gemms_ms'] = best_ms(encoder_gemms(model, dtype))

    width = model.num_branches * model.embedding_dim
    x = torch.randn(model.adj.size(0), width)
    xi = torch.randn(model.num_items, width)
    sparse = [(model.adj, x)] * 4
    if model.use_item_graph:
        item = model.item_adj_plus_identity
        sparse += [(item, xi), (transpose_csr(item), xi)]
    out['sparse_products_ms'] = best_ms(
        lambda: [spmm(a, v) for a, v in sparse])
    # What 4x faster than the reference epoch (1.35 s) allows per step.
    batches = math.ceil(data[UI].edge_index.size(1) / size[0])
    out['batches_per_epoch'] = batches
    if args.dataset == 'lastfm2k':
        out['step_budget_for_4x_ms'] = (REFERENCE_EPOCH_S / 4 / batches *
                                        1000)
    out['encoder_gflop_per_step'] = encoder_flop(model) / 1e9
    for name in PRECISIONS:
        floor = out[f'{name}_encoder_gemms_ms'] + out['sparse_products_ms']
        out[f'{name}_floor_ms'] = floor
        out[f'{name}_floor_share'] = floor / out[f'{name}_step_ms']
        out[f'{name}_gemm_gflops'] = (out['encoder_gflop_per_step'] /
                                      out[f'{name}_encoder_gemms_ms'] * 1e3)
    out = {k: round(v, 3) for k, v in out.items()}
    out.update(dataset=args.dataset, threads=torch.get_num_threads(),
               compiled_spmm=csr_spmm_kernel() is not None)
    print(json.dumps(out, indent=1))
    return 0


if __name__ == '__main__':
    sys.exit(main())
