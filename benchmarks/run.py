"""LIRDRec against the baselines: datasets x models x seeds -> table, JSON, plot.

    python benchmarks/run.py --datasets synthetic --models lirdrec lightgcn popularity
    python benchmarks/run.py --datasets lastfm2k --models lirdrec lightgcn bpr \
        --seeds 0 1 2 --out results/lastfm2k

Every (dataset, model, seed) run goes to ``OUT/<dataset>/<model>/seed<k>/``
(results.json, config.yaml, train.log, checkpoint); a finished run is not
repeated and an interrupted one resumes. The table gives the mean and the
standard deviation over seeds of the test metrics at the best validation
epoch, and is written to ``OUT/summary.json`` and ``OUT/summary.md``.
"""
import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Dict, List

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lirdrec_pyg.data import load_dataset  # noqa: E402
from lirdrec_pyg.train.config import load_config  # noqa: E402
from lirdrec_pyg.train.experiment import RESULTS, run_experiment  # noqa: E402
from lirdrec_pyg.train.io import atomic_write_json  # noqa: E402

METRICS = ('Recall@10', 'Recall@20', 'NDCG@10', 'NDCG@20')


def run_one(dataset: str, model: str, seed: int, out: Path,
            overrides: List[str], threads: int, data) -> Dict:
    run_dir = out / dataset / model / f'seed{seed}'
    done = run_dir / RESULTS
    if done.exists():
        return json.loads(done.read_text())
    config = load_config(model, dataset=dataset,
                         overrides=[*overrides, f'train.seed={seed}'])
    config['train']['threads'] = threads
    config['train']['progress'] = False
    return run_experiment(dataset, model, config, out_dir=run_dir,
                          resume=True, data=data)


def summarise(results: Dict[str, Dict[str, List[Dict]]]) -> List[Dict]:
    rows = []
    for dataset, by_model in results.items():
        for model, runs in by_model.items():
            row = {'dataset': dataset, 'model': model, 'seeds': len(runs)}
            for metric in METRICS:
                values = [r['test'][metric] for r in runs]
                row[metric] = statistics.mean(values)
                row[metric + '_std'] = (statistics.stdev(values)
                                        if len(values) > 1 else 0.0)
            row['epochs'] = statistics.mean(r['epochs'] for r in runs)
            row['train_seconds'] = statistics.mean(r['train_seconds']
                                                   for r in runs)
            rows.append(row)
    return rows


def format_table(rows: List[Dict]) -> str:
    head = ('| dataset | model | seeds | ' + ' | '.join(METRICS) +
            ' | epochs | train s |')
    lines = [head, '|' + '---|' * (len(METRICS) + 5)]
    for r in rows:
        cells = [f"{r[m]:.4f} ± {r[m + '_std']:.4f}" for m in METRICS]
        lines.append(f"| {r['dataset']} | {r['model']} | {r['seeds']} | " +
                     ' | '.join(cells) +
                     f" | {r['epochs']:.0f} | {r['train_seconds']:.1f} |")
    return '\n'.join(lines)


def plot(rows: List[Dict], path: Path) -> None:
    try:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
    except ImportError:
        return
    datasets = sorted({r['dataset'] for r in rows})
    fig, axes = plt.subplots(1, len(datasets),
                             figsize=(4 + 2 * len(rows) / len(datasets), 3.5),
                             squeeze=False)
    for ax, dataset in zip(axes[0], datasets):
        sub = [r for r in rows if r['dataset'] == dataset]
        ax.bar([r['model'] for r in sub], [r['Recall@20'] for r in sub],
               yerr=[r['Recall@20_std'] for r in sub], capsize=3)
        ax.set_title(dataset)
        ax.set_ylabel('test Recall@20')
        ax.tick_params(axis='x', rotation=45)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--datasets', nargs='+', default=['synthetic'])
    parser.add_argument('--models', nargs='+',
                        default=['lirdrec', 'lightgcn', 'popularity'])
    parser.add_argument('--seeds', nargs='+', type=int, default=[0])
    parser.add_argument('--set', nargs='*', default=[], metavar='KEY=VALUE',
                        help='config overrides applied to every model')
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--out', default='results/benchmark')
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    results: Dict[str, Dict[str, List[Dict]]] = {}
    for dataset in args.datasets:
        data = load_dataset(dataset)
        for model in args.models:
            for seed in args.seeds:
                start = time.perf_counter()
                res = run_one(dataset, model, seed, out, args.set,
                              args.threads, data)
                results.setdefault(dataset, {}).setdefault(model,
                                                           []).append(res)
                print(f"{dataset:>12} {model:>12} seed {seed}: test "
                      f"Recall@20 {res['test']['Recall@20']:.4f} NDCG@20 "
                      f"{res['test']['NDCG@20']:.4f} (best epoch "
                      f"{res['best_epoch']}, {time.perf_counter() - start:.0f}"
                      f" s)", flush=True)
    rows = summarise(results)
    table = format_table(rows)
    print()
    print(table)
    print(f'\nthreads: {torch.get_num_threads()}')
    atomic_write_json(out / 'summary.json', {'rows': rows,
                                             'threads': args.threads})
    (out / 'summary.md').write_text(table + '\n')
    plot(rows, out / 'recall20.png')
    return 0


if __name__ == '__main__':
    sys.exit(main())
