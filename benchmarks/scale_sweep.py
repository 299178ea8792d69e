"""The large-graph sweep: LightGCN at 10^5, 10^6 and 10^7 training
interactions, seconds per epoch of full-graph and sampled-subgraph training,
seconds per full evaluation and the peak memory of each, with log-log slopes.

    python benchmarks/scale_sweep.py --sizes 1e5 1e6 1e7 --threads 1
    python benchmarks/scale_sweep.py --plot-only    # redraw from the JSON

Every size runs in a fresh process; the graph is generated there with
``make_synthetic(method='candidates')`` (about 16 training interactions per
user, one item per 8 users). Each phase's peak memory is the process's
resident high-water mark (``VmHWM``), reset before the phase through
``/proc/self/clear_refs``; it includes the graph and the model.

A phase stops timing after ``--budget`` seconds and extrapolates the epoch
from the steps it timed (marked ``estimated`` in the JSON and the plot): at
10^7 interactions full-graph training needs hours per epoch. Results go to
``docs/data/scale_sweep.json`` and ``docs/img/scale_sweep.png``.
"""
import argparse
import json
import math
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

JSON = ROOT / 'docs' / 'data' / 'scale_sweep.json'
PLOT = ROOT / 'docs' / 'img' / 'scale_sweep.png'
TRAIN_PER_USER = 16  # 20 interactions per user, 80% of them for training
USERS_PER_ITEM = 8


def reset_peak() -> None:
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')


def peak_mib() -> float:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmHWM:'):
                return int(line.split()[1]) / 1024
    return float('nan')


def rss_mib() -> float:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024
    return float('nan')


def timed_epoch(step, num_steps: int, budget: float) -> Dict[str, Any]:
    r"""Runs up to :obj:`num_steps` calls of :obj:`step(b)`; past
    :obj:`budget` seconds, extrapolates the epoch from the steps done (the
    first step, which builds caches, is excluded from the rate)."""
    reset_peak()
    start = time.perf_counter()
    first = None
    done = 0
    for b in range(num_steps):
        step(b)
        done += 1
        now = time.perf_counter()
        if first is None:
            first = now - start
        if now - start > budget and done < num_steps:
            break
    elapsed = time.perf_counter() - start
    estimated = done < num_steps
    rate = (elapsed - first) / max(done - 1, 1)
    if estimated:
        seconds = first + rate * (num_steps - 1)
    else:
        seconds = elapsed
    return dict(seconds=round(seconds, 3), estimated=estimated,
                step_seconds=round(rate, 4),
                steps_timed=done, steps=num_steps,
                peak_mib=round(peak_mib(), 1))


def run_size(size: int, modes: List[str], num_neighbors: List[int],
             batch_size: int, eval_batch_size: int, threads: int,
             budget: float, eval_budget: float, seed: int,
             evaluate: bool = True) -> Dict[str, Any]:
    import torch

    from lirdrec_pyg.data import UI, BPRSampler, make_synthetic
    from lirdrec_pyg.models import LightGCN
    from lirdrec_pyg.nn.kernels import csr_spmm_kernel
    from lirdrec_pyg.train import FullRankingEvaluator
    from lirdrec_pyg.train.sampled import (make_sampled_optimizer,
                                           make_subgraph_sampler,
                                           subgraph_batch_loss)
    from lirdrec_pyg.train.trainer import make_adam

    torch.set_num_threads(threads)
    # Loads (or waits for another process's build of) the compiled SpMM
    # before anything is timed.
    compiled = csr_spmm_kernel() is not None
    num_users = max(size // TRAIN_PER_USER, 100)
    num_items = max(num_users // USERS_PER_ITEM, 50)
    out: Dict[str, Any] = dict(size=size, num_users=num_users,
                               num_items=num_items, threads=threads,
                               batch_size=batch_size,
                               eval_batch_size=eval_batch_size,
                               num_neighbors=num_neighbors,
                               compiled_spmm=compiled)
    reset_peak()
    start = time.perf_counter()
    data = make_synthetic(num_users=num_users, num_items=num_items,
                          interactions_per_user=20, modality_dims={},
                          method='candidates', seed=seed)
    out['generate'] = dict(seconds=round(time.perf_counter() - start, 2),
                           peak_mib=round(peak_mib(), 1))
    edge_index = data[UI].edge_index
    out['train_interactions'] = int(edge_index.size(1))
    out['data_rss_mib'] = round(rss_mib(), 1)
    print(f'# size {size}: {out["train_interactions"]} training '
          f'interactions, {num_users} users, {num_items} items, generated in '
          f'{out["generate"]["seconds"]} s', file=sys.stderr, flush=True)
    sampler = BPRSampler(edge_index, num_users, num_items)
    users, pos, neg = sampler.sample(torch.Generator().manual_seed(seed))
    num_steps = math.ceil(users.numel() / batch_size)

    def batch(b):
        sl = slice(b * batch_size, (b + 1) * batch_size)
        return users[sl], pos[sl], neg[sl]

    for mode in modes:
        torch.manual_seed(seed)
        reset_peak()
        model = LightGCN(data)
        sizes: List[List[int]] = []
        if mode == 'sampled':
            subgraph = make_subgraph_sampler(model, data, num_neighbors)
            optimizer = make_sampled_optimizer(model, 1e-3)
            sample = subgraph.sample

            def recorded_sample(*args, **kwargs):
                # Each batch's seeds, subgraph nodes and sampled edges.
                batch = sample(*args, **kwargs)
                sizes.append([batch.num_seeds, batch.node.numel(),
                              int(batch.adj.values().numel())])
                return batch
            subgraph.sample = recorded_sample

            def loss_of(b):
                return subgraph_batch_loss(model, subgraph, *batch(b))
        else:
            optimizer = make_adam(model.parameters(), 1e-3)

            def loss_of(b):
                return model.loss(*batch(b))
        setup_peak = peak_mib()

        def step(b):
            loss = loss_of(b)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

        model.train()
        result = timed_epoch(step, num_steps, budget)
        result['setup_peak_mib'] = round(setup_peak, 1)
        if sizes:
            seeds, nodes, edges = (sum(c) / len(sizes) for c in zip(*sizes))
            # A step samples at most k_1 neighbours of each seed and k_2 of
            # each of those, ...: the bound a step saturates at on a graph
            # much larger than a batch's neighbourhood.
            bound, width = 0.0, seeds
            for k in num_neighbors:
                width *= k
                bound += width
            result.update(
                subgraph_seeds=round(seeds), subgraph_nodes=round(nodes),
                subgraph_nodes_bound=round(seeds + bound),
                subgraph_edges=round(edges),
                subgraph_edges_bound=round(bound),
                graph_nodes=num_users + num_items,
                us_per_sampled_edge=round(
                    1e6 * result['step_seconds'] / edges, 3))
        out[mode] = result
        print(f'# size {size} {mode}: {result}', file=sys.stderr, flush=True)
        del model, optimizer

    if not evaluate:
        return out
    torch.manual_seed(seed)
    model = LightGCN(data)
    model.eval()
    evaluator = FullRankingEvaluator.from_data(data, 'test',
                                               batch_size=eval_batch_size)
    state = model.inference()
    num_batches = math.ceil(evaluator.users.numel() / eval_batch_size)
    done = [0]

    def score(u):
        done[0] += 1
        if time.perf_counter() - t0 > eval_budget:
            raise TimeoutError
        return model.score(state, u)

    reset_peak()
    t0 = time.perf_counter()
    try:
        metrics = evaluator.evaluate(score)
        seconds, estimated = time.perf_counter() - t0, False
    except TimeoutError:
        metrics = None
        seconds = (time.perf_counter() - t0) / max(done[0] - 1, 1) * \
            num_batches
        estimated = True
    out['evaluate'] = dict(seconds=round(seconds, 3), estimated=estimated,
                           batches=num_batches,
                           users=int(evaluator.users.numel()),
                           peak_mib=round(peak_mib(), 1),
                           score_block_mib=round(
                               eval_batch_size * num_items * 4 / 2**20, 1))
    if metrics is not None:
        out['evaluate']['Recall@20_untrained'] = round(metrics['Recall@20'], 5)
    print(f'# size {size} evaluate: {out["evaluate"]}', file=sys.stderr,
          flush=True)
    return out


def slope(xs: List[float], ys: List[float]) -> float:
    import numpy as np
    return float(np.polyfit(np.log10(xs), np.log10(ys), 1)[0])


def fit_slopes(rows: List[Dict[str, Any]]) -> Dict[str, float]:
    out = {}
    for key, field in [('sampled', 'seconds'), ('full', 'seconds'),
                       ('evaluate', 'seconds'), ('sampled', 'peak_mib'),
                       ('full', 'peak_mib'), ('evaluate', 'peak_mib'),
                       ('sampled', 'step_seconds'),
                       ('sampled', 'subgraph_edges'),
                       ('sampled', 'subgraph_nodes'),
                       ('sampled', 'us_per_sampled_edge')]:
        pts = [(r['train_interactions'], r[key][field]) for r in rows
               if field in r.get(key, {})]
        if len(pts) >= 2:
            out[f'{key}_{field}'] = round(slope(*zip(*pts)), 3)
    return out


def plot(result: Dict[str, Any], path: Path) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    from lirdrec_pyg.io import atomic_write

    rows = result['rows']
    slopes = result['slopes']
    panels = [('seconds per epoch', [('full', 'seconds'),
                                     ('sampled', 'seconds')]),
              ('sampled step: seconds, and subgraph size / 10^6',
               [('sampled', 'step_seconds'), ('sampled', 'subgraph_edges'),
                ('sampled', 'subgraph_nodes')]),
              ('seconds per full evaluation', [('evaluate', 'seconds')]),
              ('peak memory (MiB)', [('full', 'peak_mib'),
                                     ('sampled', 'peak_mib'),
                                     ('evaluate', 'peak_mib')])]
    labels = {'full': 'full-graph epoch', 'sampled': 'sampled-subgraph epoch',
              'evaluate': 'full evaluation'}
    field_labels = {'step_seconds': 'seconds per sampled step',
                    'subgraph_edges': 'sampled edges per step / 10^6',
                    'subgraph_nodes': 'subgraph nodes per step / 10^6'}
    scales = {'subgraph_edges': 1e-6, 'subgraph_nodes': 1e-6}
    # A sweep without evaluation (--skip-eval) or without a mode draws only
    # the panels it has data for.
    panels = [(title, series) for title, series in panels
              if any(field in r.get(key, {}) for key, field in series
                     for r in rows)]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.3 * len(panels), 4),
                             squeeze=False)
    for ax, (title, series) in zip(axes[0], panels):
        for key, field in series:
            pts = [(r['train_interactions'],
                    r[key][field] * scales.get(field, 1.0),
                    r[key].get('estimated', False) and field == 'seconds')
                   for r in rows if field in r.get(key, {})]
            if not pts:
                continue
            xs, ys, est = zip(*pts)
            s = slopes.get(f'{key}_{field}')
            label = field_labels.get(field, labels[key])
            line, = ax.plot(xs, ys, marker='o', label=f'{label} (slope {s})')
            for x, y, e in zip(xs, ys, est):
                if e:
                    ax.plot([x], [y], marker='o', mfc='white',
                            color=line.get_color())
        if title == 'seconds per epoch' and pts:
            # A slope-1 guide through the largest sampled point: where a
            # linear-time epoch would lie.
            x1, y1 = xs[-1], ys[-1]
            x0 = min(r['train_interactions'] for r in rows)
            ax.plot([x0, x1], [y1 * x0 / x1, y1], ls='--', color='grey',
                    label='slope 1 (linear)')
        ax.set_xscale('log')
        ax.set_yscale('log')
        ax.set_xlabel('training interactions')
        ax.set_title(title)
        ax.grid(True, which='both', alpha=0.3)
        ax.legend(fontsize=8)
    first = rows[0] if rows else {}
    fig.suptitle(f"LightGCN, {result['threads']} thread(s), batch "
                 f"{first.get('batch_size', '?')}, fan-out "
                 f"{first.get('num_neighbors', '?')}; open markers: "
                 f"estimated from the first steps", fontsize=10)
    fig.tight_layout()
    atomic_write(path, lambda f: fig.savefig(f, format='png', dpi=110),
                 mode='wb')
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--sizes', nargs='+', type=float,
                        default=[1e5, 1e6, 1e7])
    parser.add_argument('--modes', nargs='+', default=['sampled', 'full'],
                        choices=['sampled', 'full'])
    parser.add_argument('--num-neighbors', nargs='+', type=int,
                        default=[10, 10])
    parser.add_argument('--batch-size', type=int, default=2048)
    parser.add_argument('--eval-batch-size', type=int, default=1024)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--budget', type=float, default=900.0,
                        help='seconds of timing per epoch before estimating')
    parser.add_argument('--eval-budget', type=float, default=1200.0)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--skip-eval', action='store_true',
                        help='time training only (keeps earlier evaluations)')
    parser.add_argument('--json', default=str(JSON))
    parser.add_argument('--plot', default=str(PLOT))
    parser.add_argument('--plot-only', action='store_true')
    parser.add_argument('--child', type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        print(json.dumps(run_size(
            int(args.child), args.modes, args.num_neighbors, args.batch_size,
            args.eval_batch_size, args.threads, args.budget,
            args.eval_budget, args.seed, not args.skip_eval)), flush=True)
        return

    from lirdrec_pyg.train.io import atomic_write_json
    if args.plot_only:
        result = json.loads(Path(args.json).read_text())
        result['slopes'] = fit_slopes(result['rows'])
        atomic_write_json(args.json, result)
        plot(result, Path(args.plot))
        return
    previous: Dict[int, Dict[str, Any]] = {}
    previous_json = Path(args.json).exists()
    old: Dict[str, Any] = {}
    if previous_json:
        # Sizes and modes measured before (e.g. a long 10^7 run) are kept;
        # a new measurement of a size replaces the phases it re-ran.
        old = json.loads(Path(args.json).read_text())
        previous = {int(r['size']): r for r in old.get('rows', [])}
    rows: List[Dict[str, Any]] = sorted(previous.values(),
                                        key=lambda r: r['size'])
    for size in args.sizes:
        cmd = [sys.executable, __file__, '--child', str(size),
               '--modes', *args.modes, '--num-neighbors',
               *map(str, args.num_neighbors), '--batch-size',
               str(args.batch_size), '--eval-batch-size',
               str(args.eval_batch_size), '--threads', str(args.threads),
               '--budget', str(args.budget), '--eval-budget',
               str(args.eval_budget), '--seed', str(args.seed)]
        if args.skip_eval:
            cmd.append('--skip-eval')
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
        if proc.returncode != 0:
            print(f'size {int(size)} failed (exit {proc.returncode})',
                  file=sys.stderr)
            continue
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        print(json.dumps(row), flush=True)
        previous[int(size)] = {**previous.get(int(size), {}), **row}
        rows = sorted(previous.values(), key=lambda r: r['size'])
        commands = list(old.get('commands', [])) if previous_json else []
        command = ' '.join(['python benchmarks/scale_sweep.py',
                            *sys.argv[1:]])
        if command not in commands:
            commands.append(command)
        result = dict(threads=args.threads, rows=rows,
                      slopes=fit_slopes(rows), commands=commands)
        atomic_write_json(args.json, result)
        plot(result, Path(args.plot))
    print(json.dumps(fit_slopes(rows)))


if __name__ == '__main__':
    main()
