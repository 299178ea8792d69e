"""Seconds per training epoch, seconds per full evaluation and peak memory,
per model, each model in a fresh process (so the peak is its own), with
LightGCN timed in the same process as the reference for a ratio.

    python benchmarks/speed.py --dataset lastfm2k --models lirdrec lightgcn freedom
    python benchmarks/speed.py --dataset baby_sized --models lirdrec
    python benchmarks/speed.py --models lirdrec --set precision=bfloat16
    python benchmarks/speed.py --knn-items 100000

``baby_sized`` is a synthetic graph the size of Amazon Baby (19,445 users,
7,050 items, about 118k training edges) with 4096-d and 384-d features.
``--knn-items N`` builds the item kNN graph (k=10) of N synthetic items
with 384-d features and reports its time and peak memory.
"""
import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load(dataset: str):
    from lirdrec_pyg.data import load_dataset, make_synthetic
    if dataset == 'baby_sized':
        return make_synthetic(num_users=19445, num_items=7050,
                              interactions_per_user=8,
                              modality_dims={'image': 4096, 'text': 384},
                              seed=0, name='baby_sized')
    return load_dataset(dataset)


def time_model(dataset: str, model_name: str, epochs: int, threads: int,
               reference: bool, overrides: list = ()) -> dict:
    import torch

    from lirdrec_pyg.models import create_model
    from lirdrec_pyg.nn.kernels import csr_spmm_kernel
    from lirdrec_pyg.train import FullRankingEvaluator, TrainConfig
    from lirdrec_pyg.train.config import load_config
    from lirdrec_pyg.train.trainer import Trainer, make_adam

    torch.set_num_threads(threads)
    data = load(dataset)
    base_peak = peak_mib()

    def measure(name, overrides=()):
        cfg = load_config(name, dataset=None if dataset == 'baby_sized'
                          else dataset, overrides=overrides)
        torch.manual_seed(0)
        model = create_model(name, data, **cfg['model'])
        train_cfg = TrainConfig(batch_size=cfg['train'].get('batch_size',
                                                            2048),
                                lr=cfg['train'].get('lr', 1e-3),
                                progress=False, threads=threads)
        trainer = Trainer(model, data, train_cfg)
        from lirdrec_pyg.data import UI, BPRSampler
        sampler = BPRSampler(data[UI].edge_index, model.num_users,
                             model.num_items)
        seconds = []
        if model.trainable:
            optimizer = make_adam(model.parameters(), train_cfg.lr)
            for epoch in range(1, epochs + 2):
                start = time.perf_counter()
                trainer._train_epoch(epoch, sampler, optimizer)
                seconds.append(time.perf_counter() - start)
            seconds = seconds[1:]  # the first epoch warms caches up
        evaluator = FullRankingEvaluator.from_data(data, 'valid')
        start = time.perf_counter()
        trainer.evaluate(evaluator)
        eval_seconds = time.perf_counter() - start
        return (min(seconds) if seconds else 0.0), eval_seconds

    epoch_s, eval_s = measure(model_name, overrides)
    out = {'dataset': dataset, 'model': model_name, 'set': list(overrides),
           'epoch_seconds': round(epoch_s, 3),
           'eval_seconds': round(eval_s, 3),
           'peak_mib': round(peak_mib(), 1),
           'data_peak_mib': round(base_peak, 1),
           'threads': torch.get_num_threads(),
           # Timings depend on it (results do not): record which SpMM ran.
           'compiled_spmm': csr_spmm_kernel() is not None}
    if reference and model_name != 'lightgcn':
        ref_s, _ = measure('lightgcn')
        out['lightgcn_epoch_seconds'] = round(ref_s, 3)
        out['ratio_to_lightgcn'] = round(epoch_s / ref_s, 2) if ref_s else None
    return out


def time_knn(num_items: int, threads: int) -> dict:
    import torch

    from lirdrec_pyg.transforms import knn_graph
    torch.set_num_threads(threads)
    x = torch.randn(num_items, 384, generator=torch.Generator().manual_seed(0))
    base = peak_mib()
    start = time.perf_counter()
    graph = knn_graph(x, k=10)
    return {'knn_items': num_items, 'nnz': int(graph.values().numel()),
            'seconds': round(time.perf_counter() - start, 2),
            'peak_mib': round(peak_mib(), 1),
            'features_peak_mib': round(base, 1),
            'threads': torch.get_num_threads()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--dataset', default='lastfm2k')
    parser.add_argument('--models', nargs='*', default=['lirdrec'])
    parser.add_argument('--epochs', type=int, default=3)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--no-reference', action='store_true')
    parser.add_argument('--knn-items', type=int)
    parser.add_argument('--child', help=argparse.SUPPRESS)
    parser.add_argument('--out', help='write the rows as JSON here')
    parser.add_argument('--set', nargs='*', default=[], metavar='KEY=VALUE',
                        help='config overrides of the timed model, e.g. '
                        'precision=bfloat16')
    args = parser.parse_args(argv)

    if args.child == 'knn':
        print(json.dumps(time_knn(args.knn_items, args.threads)))
        return 0
    if args.child:
        print(json.dumps(time_model(args.dataset, args.child, args.epochs,
                                    args.threads, not args.no_reference,
                                    args.set)))
        return 0

    jobs = []
    if args.knn_items:
        jobs.append(['--child', 'knn', '--knn-items', str(args.knn_items)])
    else:
        jobs += [['--child', m, '--dataset', args.dataset] for m in args.models]
    rows = []
    for job in jobs:
        cmd = [sys.executable, __file__, *job, '--epochs', str(args.epochs),
               '--threads', str(args.threads)]
        if args.no_reference:
            cmd.append('--no-reference')
        if args.set and job[1] != 'knn':
            cmd += ['--set', *args.set]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            print(f'{job}: failed\n{proc.stderr[-2000:]}', file=sys.stderr)
            continue
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(json.dumps(row), flush=True)
    if args.out:
        from lirdrec_pyg.train.io import atomic_write_json
        atomic_write_json(args.out, rows)
    return 0


if __name__ == '__main__':
    sys.exit(main())
