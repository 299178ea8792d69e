"""Training epochs with 2 processes x 1 thread against 1 process x 1 thread,
alternated: per-epoch time and peak memory per rank (overall, and of the
training epochs alone) of LightGCN and LIRDRec on lastfm2k and on a
Baby-sized synthetic graph (19,445 users, 7,050 items, 4,096-d + 384-d
features).

    python benchmarks/distributed.py                      # everything
    python benchmarks/distributed.py --datasets baby_sized --models lirdrec \\
        --steps 12 --rounds 2

Every configuration runs in fresh processes started by ``torchrun`` (so the
peak memory is that configuration's), one thread each; the order of 1 and 2
processes alternates between rounds. With ``--steps N`` an epoch is timed
on its first N batches and scaled to the whole epoch. One JSON line per
configuration and round, then one summary line per (dataset, model).
"""
import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import List

ROOT = Path(__file__).resolve().parents[1]


def child(args: argparse.Namespace) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import torch
    import torch.distributed as dist

    from epoch_timing import build_trainer, load, peak_mib, time_epochs
    torch.set_num_threads(1)
    data = load(args.dataset)
    data_peak = peak_mib()
    trainer = build_trainer(args.model, args.dataset, data, 'cpu')
    build_peak = peak_mib()
    row = {'dataset': args.dataset, 'model': args.model,
           'processes': trainer.sharding.world_size,
           'rank': trainer.sharding.rank, 'threads': torch.get_num_threads()}
    reset_peak = reset_peak_rss()
    row.update(time_epochs(trainer, args.epochs, args.steps))
    # The peak of the training epochs alone (the data and the model are
    # resident; the load's and the build's temporaries are not).
    row['train_peak_mib'] = round(vm_hwm_mib(), 1) if reset_peak else None
    row['peak_mib'] = round(peak_mib(), 1)
    row['data_peak_mib'] = round(data_peak, 1)
    row['build_peak_mib'] = round(build_peak, 1)
    # One write per row: the ranks share the pipe, and print() writes the
    # line and its newline separately, which interleaves two ranks' rows.
    sys.stdout.write(json.dumps(row) + '\n')
    sys.stdout.flush()
    if dist.is_initialized():
        dist.destroy_process_group()
    return 0


def reset_peak_rss() -> bool:
    r"""Resets this process's peak resident memory (Linux's VmHWM, via
    ``/proc/self/clear_refs``); whether that worked."""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


def vm_hwm_mib() -> float:
    r"""The peak resident memory since the last :func:`reset_peak_rss`,
    MiB."""
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmHWM:'):
                return int(line.split()[1]) / 1024
    return float('nan')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def launch(script: str, processes: int, args: List[str]) -> List[dict]:
    r"""Runs :obj:`script --child ARGS` under torchrun with one thread per
    process and returns the JSON lines its ranks print."""
    cmd = [sys.executable, '-m', 'torch.distributed.run',
           '--nproc_per_node', str(processes), '--master_addr', '127.0.0.1',
           '--master_port', str(free_port()), script, '--child', *args]
    env = dict(os.environ, OMP_NUM_THREADS='1', LIRDREC_THREADS='1',
               PYTHONPATH=str(ROOT) + os.pathsep +
               os.environ.get('PYTHONPATH', ''))
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f'{" ".join(cmd)} failed:\n{out.stderr[-3000:]}')
    return [json.loads(line) for line in out.stdout.splitlines()
            if line.startswith('{')]


def run(processes: int, dataset: str, model: str, epochs: int,
        steps: int) -> dict:
    rows = launch(__file__, processes,
                  ['--dataset', dataset, '--model', model, '--epochs',
                   str(epochs), *(['--steps', str(steps)] if steps else [])])
    return {'dataset': dataset, 'model': model, 'processes': processes,
            'epoch_seconds': max(r['epoch_seconds'] for r in rows),
            'epoch_seconds_fixed_once': max(
                r.get('epoch_seconds_fixed_once', r['epoch_seconds'])
                for r in rows),
            'per_epoch_seconds': max(r.get('per_epoch_seconds', 0.0)
                                     for r in rows),
            'epoch_cpu_seconds_per_rank': [r['epoch_cpu_seconds'] for r in
                                           sorted(rows,
                                                  key=lambda r: r['rank'])],
            'estimated_from_steps': rows[0]['estimated_from_steps'],
            'peak_mib_per_rank': [r['peak_mib'] for r in
                                  sorted(rows, key=lambda r: r['rank'])],
            'data_peak_mib_per_rank': [r['data_peak_mib'] for r in
                                       sorted(rows, key=lambda r: r['rank'])],
            'build_peak_mib_per_rank': [r['build_peak_mib'] for r in
                                        sorted(rows,
                                               key=lambda r: r['rank'])],
            'train_peak_mib_per_rank': [r['train_peak_mib'] for r in
                                        sorted(rows,
                                               key=lambda r: r['rank'])],
            'threads': rows[0]['threads']}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--datasets', nargs='+',
                        default=['lastfm2k', 'baby_sized'])
    parser.add_argument('--models', nargs='+',
                        default=['lightgcn', 'lirdrec'])
    parser.add_argument('--rounds', type=int, default=2)
    parser.add_argument('--epochs', type=int, default=1,
                        help='timed epochs per run, after one warm-up')
    parser.add_argument('--steps', type=int, default=0,
                        help='time the first N batches of each epoch and '
                        'scale to the epoch (0: whole epochs)')
    parser.add_argument('--child', action='store_true', help=argparse.SUPPRESS)
    parser.add_argument('--dataset', help=argparse.SUPPRESS)
    parser.add_argument('--model', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)
    results = {}
    for round_ in range(args.rounds):
        for dataset in args.datasets:
            for model in args.models:
                order = (1, 2) if round_ % 2 == 0 else (2, 1)
                for processes in order:
                    start = time.perf_counter()
                    row = run(processes, dataset, model, args.epochs,
                              args.steps)
                    row['round'] = round_
                    row['wall_seconds'] = round(time.perf_counter() - start, 1)
                    print(json.dumps(row), flush=True)
                    results.setdefault((dataset, model), {}).setdefault(
                        processes, []).append(row)
    for (dataset, model), by in results.items():
        ratios = [a['epoch_seconds'] / b['epoch_seconds']
                  for a, b in zip(by[1], by[2])]
        fixed_ratios = [a['epoch_seconds_fixed_once'] /
                        b['epoch_seconds_fixed_once']
                        for a, b in zip(by[1], by[2])]
        cpu_ratios = [max(a['epoch_cpu_seconds_per_rank']) /
                      max(b['epoch_cpu_seconds_per_rank'])
                      for a, b in zip(by[1], by[2])]
        print(json.dumps({
            'summary': True, 'dataset': dataset, 'model': model,
            'epoch_seconds_1p': [r['epoch_seconds'] for r in by[1]],
            'epoch_seconds_2p': [r['epoch_seconds'] for r in by[2]],
            'speedup_per_round': [round(r, 2) for r in ratios],
            'speedup_median': round(statistics.median(ratios), 2),
            'epoch_seconds_fixed_once_1p': [r['epoch_seconds_fixed_once']
                                            for r in by[1]],
            'epoch_seconds_fixed_once_2p': [r['epoch_seconds_fixed_once']
                                            for r in by[2]],
            'speedup_fixed_once_per_round': [round(r, 2)
                                             for r in fixed_ratios],
            'cpu_seconds_ratio_per_round': [round(r, 2) for r in cpu_ratios],
            'peak_mib_1p': max(max(r['peak_mib_per_rank']) for r in by[1]),
            'peak_mib_2p_per_rank': max(max(r['peak_mib_per_rank'])
                                        for r in by[2]),
            'train_peak_mib_1p': max(max(r['train_peak_mib_per_rank'])
                                     for r in by[1]),
            'train_peak_mib_2p_per_rank': max(
                max(r['train_peak_mib_per_rank']) for r in by[2]),
            'load_average': os.getloadavg()[0]}), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
