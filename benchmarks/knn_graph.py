"""The item kNN graph at scale: the exact blocked top-k against its floor,
and the approximate faiss path's time, peak memory and neighbour recall.

    python benchmarks/knn_graph.py --method exact --items 100000
    python benchmarks/knn_graph.py --method faiss --items 100000 --recall-rows all
    python benchmarks/knn_graph.py --method faiss --items 1000000 --recall-rows 2000

Every measurement runs in a fresh process, so that its peak memory (the
resident high-water mark, features included) is its own. The exact graph is
timed between two runs of its floor: the same blocked matrix products into
the same buffer without the top-k, in the same process, so the ratio holds
even when the machine is shared. With one thread, the process' CPU seconds
are what the wall-clock seconds would be on an idle core. The faiss graph's recall is the share of
the exact neighbours it finds, on every row (``all``) or on a random sample
of rows whose exact neighbours are computed by brute force; the exact time
per row of that brute force is reported beside it.

Features are ``--dim``-dimensional (384, a sentence encoder's width):
``clustered`` items lie near a 32-d latent space with one topic per 1,000
items (as embeddings of real catalogues do); ``gaussian`` items are i.i.d.
Gaussian, the worst case for any approximate index (no structure at all).
"""
import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def features(num_items: int, dim: int, kind: str, seed: int = 0,
             chunk: int = 2**16):
    r"""Synthetic item features, generated in chunks so that the result is
    the only full-size tensor."""
    import torch
    gen = torch.Generator().manual_seed(seed)
    out = torch.empty(num_items, dim)
    if kind == 'gaussian':
        for start in range(0, num_items, chunk):
            end = min(start + chunk, num_items)
            out[start:end] = torch.randn(end - start, dim, generator=gen)
        return out
    latent = 32
    centres = torch.randn(max(1, num_items // 1000), latent, generator=gen)
    proj = torch.randn(latent, dim, generator=gen) / math.sqrt(latent)
    for start in range(0, num_items, chunk):
        end = min(start + chunk, num_items)
        topic = torch.randint(0, centres.size(0), (end - start, ),
                              generator=gen)
        z = centres[topic] + 0.5 * torch.randn(end - start, latent,
                                               generator=gen)
        out[start:end] = z @ proj + 0.1 * torch.randn(end - start, dim,
                                                      generator=gen)
    return out


def time_products(x, block_size: int):
    r"""Wall and CPU seconds of the exact path's matrix products alone: the
    same blocks into one reused buffer, without normalisation or top-k."""
    import torch
    buf = x.new_empty(min(block_size, x.size(0)), x.size(0))
    x_t = x.t()
    start_time, cpu_start = time.perf_counter(), time.process_time()
    for start in range(0, x.size(0), block_size):
        end = min(start + block_size, x.size(0))
        torch.mm(x[start:end], x_t, out=buf[:end - start])
    return time.perf_counter() - start_time, time.process_time() - cpu_start


def measure_exact(args) -> dict:
    from lirdrec_pyg.transforms.knn_graph import auto_block_size, knn_graph
    x = features(args.items, args.dim, args.data)
    features_mib = peak_mib()
    block = auto_block_size(args.items, None)
    floors = [time_products(x, block)]
    start, cpu_start = time.perf_counter(), time.process_time()
    graph = knn_graph(x, args.k)
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start
    floors.append(time_products(x, block))
    floor = sum(f[0] for f in floors) / len(floors)
    cpu_floor = sum(f[1] for f in floors) / len(floors)
    return {'method': 'exact', 'items': args.items, 'dim': args.dim,
            'k': args.k, 'data': args.data, 'block_rows': block,
            'nnz': int(graph.values().numel()),
            'seconds': round(seconds, 2),
            'cpu_seconds': round(cpu_seconds, 2),
            'floor_seconds': [round(f[0], 2) for f in floors],
            'floor_cpu_seconds': [round(f[1], 2) for f in floors],
            'ratio_to_floor': round(seconds / floor, 2),
            'cpu_ratio_to_floor': round(cpu_seconds / cpu_floor, 2),
            'peak_mib': round(peak_mib(), 1),
            'features_mib': round(features_mib, 1)}


def measure_faiss(args) -> dict:
    import torch

    from lirdrec_pyg.transforms.knn_graph import (auto_block_size,
                                                  exact_topk, knn_graph)
    x = features(args.items, args.dim, args.data)
    features_mib = peak_mib()
    start, cpu_start = time.perf_counter(), time.process_time()
    graph = knn_graph(x, args.k, method='faiss', ef_search=args.ef_search)
    seconds = time.perf_counter() - start
    cpu_seconds = time.process_time() - cpu_start
    peak = peak_mib()
    approx = graph.col_indices().view(args.items, args.k)
    del graph

    if args.recall_rows == 'all':
        rows = torch.arange(args.items)
    else:
        rows = torch.randperm(args.items, generator=torch.Generator(
        ).manual_seed(1))[:int(args.recall_rows)].sort().values
    # In place: the peak above is measured, and a normalised copy of a
    # million rows would double the features' memory.
    x.div_(x.norm(dim=1, keepdim=True).clamp_min(1e-12))
    start, cpu_start = time.perf_counter(), time.process_time()
    exact = exact_topk(x[rows], x, args.k, auto_block_size(args.items, None),
                       self_cols=rows, self_fill=math.inf)
    exact_seconds = time.perf_counter() - start
    exact_cpu_seconds = time.process_time() - cpu_start
    hits = (approx[rows].unsqueeze(2) == exact.unsqueeze(1)).any(2)
    hits = hits.sum(1).double()
    return {'method': 'faiss', 'items': args.items, 'dim': args.dim,
            'k': args.k, 'data': args.data, 'ef_search': args.ef_search,
            'seconds': round(seconds, 2),
            'cpu_seconds': round(cpu_seconds, 2),
            'peak_mib': round(peak, 1),
            'features_mib': round(features_mib, 1),
            'recall_rows': rows.numel(),
            'recall': round(float((hits / args.k).mean()), 4),
            # Every row holds itself in both graphs: the other k-1.
            'recall_without_self': round(
                float(((hits - 1) / (args.k - 1)).mean()), 4),
            'exact_seconds_for_recall_rows': round(exact_seconds, 2),
            'exact_seconds_estimate': round(
                exact_seconds * args.items / rows.numel(), 1),
            'exact_cpu_seconds_estimate': round(
                exact_cpu_seconds * args.items / rows.numel(), 1)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--method', choices=['exact', 'faiss'],
                        default='exact')
    parser.add_argument('--items', type=int, default=100_000)
    parser.add_argument('--dim', type=int, default=384)
    parser.add_argument('--k', type=int, default=10)
    parser.add_argument('--data', choices=['clustered', 'gaussian'],
                        default='clustered')
    parser.add_argument('--ef-search', type=int, default=None,
                        help='HNSW search breadth (default: the library\'s)')
    parser.add_argument('--recall-rows', default='2000',
                        help="rows whose recall is measured, or 'all'")
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--child', action='store_true',
                        help=argparse.SUPPRESS)
    parser.add_argument('--out', help='write the row as JSON here')
    args = parser.parse_args(argv)
    if args.recall_rows != 'all' and not args.recall_rows.isdigit():
        parser.error(f"--recall-rows must be a number or 'all' (got "
                     f"'{args.recall_rows}')")

    if args.child:
        import torch
        torch.set_num_threads(args.threads)
        row = (measure_exact if args.method == 'exact' else
               measure_faiss)(args)
        row['threads'] = torch.get_num_threads()
        # The machine may be shared: the load says how much.
        row['load_average'] = [round(v, 2) for v in os.getloadavg()]
        print(json.dumps(row))
        return 0

    cmd = [sys.executable, __file__, '--child', *(argv if argv is not None
                                                  else sys.argv[1:])]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        print(f'failed:\n{proc.stderr[-2000:]}', file=sys.stderr)
        return 1
    row = json.loads(proc.stdout.strip().splitlines()[-1])
    print(json.dumps(row), flush=True)
    if args.out:
        from lirdrec_pyg.train.io import atomic_write_json
        atomic_write_json(args.out, [row])
    return 0


if __name__ == '__main__':
    sys.exit(main())
