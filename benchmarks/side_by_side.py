"""Each baseline beside the reference toolbox's own code (MMRec), same settings.

    python benchmarks/side_by_side.py --mmrec /work/scratch/mmrec \\
        --mmrec-python /work/scratch/mmrec-venv/bin/python \\
        --models vbpr mgcn bm3 lattice --seeds 0 1 2 --out /work/scratch/side_by_side

For every model, the toolbox (a checkout of https://github.com/enoche/MMRec
at PATH, run by ``benchmarks/mmrec_driver.py`` as a subprocess in
``PATH/src`` with ``--mmrec-python``, ``--toolbox-seeds``, by default its own
seed 999, its own early stopping) and ours (``--seeds``, ``lirdrec_pyg``'s
trainer) train on the same dataset with
the same settings: the toolbox's ``overall.yaml`` and model YAML with every
hyper-parameter list reduced to its first value (exceptions in
``TOOLBOX_OVERRIDES``), mapped to our keys by ``MAPPING``. The table gives the
test Recall@20 / NDCG@20 at the best validation epoch of both (mean and
standard deviation over the seeds of each side), their ratio (of the means), the best epochs and seconds per training
epoch. Finished cells are kept: ``OUT/<dataset>/<model>/toolbox_seed<s>.json``
and ``OUT/<dataset>/<model>/seed<k>/results.json`` are not recomputed and an
interrupted run of ours resumes from its checkpoint. The summary goes to
``OUT/side_by_side.json`` and ``OUT/side_by_side.md``.

The toolbox needs ``<mmrec>/data/<dataset>/`` in its layout (``<dataset>.inter``
and the feature files its dataset YAML names) and a dataset YAML in
``<mmrec>/src/configs/dataset/``; this repository does not contain its code.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lirdrec_pyg.io import atomic_write  # noqa: E402
from lirdrec_pyg.train.config import load_config  # noqa: E402
from lirdrec_pyg.train.experiment import RESULTS, run_experiment  # noqa: E402
from lirdrec_pyg.train.io import atomic_write_json  # noqa: E402

DRIVER = Path(__file__).resolve().parent / 'mmrec_driver.py'
TOOLBOX_SEED = 999  # the toolbox's default seed (overall.yaml)
METRICS = ('Recall@20', 'NDCG@20')

#: Our model name -> the toolbox's.
TOOLBOX_NAMES = {
    'bpr': 'BPR', 'lightgcn': 'LightGCN', 'vbpr': 'VBPR', 'mmgcn': 'MMGCN',
    'grcn': 'GRCN', 'dualgnn': 'DualGNN', 'slmrec': 'SLMRec',
    'lattice': 'LATTICE', 'freedom': 'FREEDOM', 'bm3': 'BM3',
    'mgcn': 'MGCN', 'lgmrec': 'LGMRec', 'dragon': 'DRAGON',
}

#: Where the first value of a list is not the setting compared: BPR at the
#: regulariser of the existing faithfulness row (configs/datasets/lastfm2k),
#: and the toolbox's default learning rate 1e-3 where the first grid value
#: (0.1 or 1 for Adam) makes both codes diverge and compares nothing.
TOOLBOX_OVERRIDES: Dict[str, Dict[str, Any]] = {
    'bpr': {'reg_weight': 1e-5},
    'grcn': {'learning_rate': 1e-3},
    'dualgnn': {'learning_rate': 1e-3},
    'dragon': {'learning_rate': 1e-3},
}

#: Toolbox keys read by every model -> our ``--set`` keys.
COMMON = {
    'learning_rate': 'train.lr',
    'train_batch_size': 'train.batch_size',
    'weight_decay': 'train.weight_decay',
    'embedding_size': 'model.embedding_dim',
}

#: Per model: toolbox key -> our model key (None: read by the toolbox's code
#: path we compare but with no counterpart to set, e.g. a fixed constant).
MAPPING: Dict[str, Dict[str, Optional[str]]] = {
    'bpr': {'reg_weight': 'reg_weight'},
    'lightgcn': {'n_layers': 'num_layers', 'reg_weight': 'reg_weight'},
    'vbpr': {'reg_weight': 'reg_weight'},
    'mmgcn': {'reg_weight': 'reg_weight'},
    'grcn': {'reg_weight': 'reg_weight'},
    'dualgnn': {'reg_weight': 'reg_weight', 'n_layers': 'num_layers'},
    'slmrec': {'ssl_alpha': 'ssl_weight', 'ssl_temp': 'ssl_temperature',
               'temp': 'temperature', 'dropout_rate': 'dropout',
               'layer_num': 'num_layers', 'recdim': 'embedding_dim'},
    'lattice': {'reg_weight': 'reg_weight', 'knn_k': 'knn_k',
                'lambda_coeff': 'lambda_coeff', 'n_layers': 'num_mm_layers',
                'feat_embed_dim': 'feat_embed_dim'},
    'freedom': {'reg_weight': 'reg_weight', 'dropout': 'dropout',
                'knn_k': 'knn_k', 'n_mm_layers': 'num_mm_layers',
                'n_ui_layers': 'num_ui_layers'},
    'bm3': {'n_layers': 'num_layers', 'reg_weight': 'reg_weight',
            'dropout': 'dropout', 'cl_weight': 'cl_weight'},
    'mgcn': {'cl_loss': 'cl_weight', 'reg_weight': 'reg_weight',
             'knn_k': 'knn_k', 'n_ui_layers': 'num_ui_layers',
             'n_layers': 'num_mm_layers'},
    'lgmrec': {'n_ui_layers': 'num_ui_layers', 'n_mm_layers': 'num_mm_layers',
               'n_hyper_layer': 'num_hyper_layers',
               'hyper_num': 'num_hyperedges', 'keep_rate': 'keep_rate',
               'alpha': 'alpha', 'cl_weight': 'cl_weight',
               'reg_weight': 'reg_weight'},
    'dragon': {'reg_weight': 'reg_weight', 'knn_k': 'knn_k',
               'n_mm_layers': 'num_mm_layers', 'n_layers': 'num_layers'},
}

#: Our settings that reproduce a toolbox behaviour with no toolbox key
#: (lastfm2k's config L2-normalises VBPR's features; the toolbox does not).
OURS_FIXED: Dict[str, List[str]] = {
    'vbpr': ['normalize_features=false'],
}


def toolbox_settings(mmrec: Path, model: str, dataset: str) -> Dict[str, Any]:
    r"""The toolbox's configuration of :obj:`model` (overall, dataset and
    model YAML, later wins) with each hyper-parameter list reduced to its
    first value and :data:`TOOLBOX_OVERRIDES` applied."""
    configs = mmrec / 'src' / 'configs'
    cfg: Dict[str, Any] = {}
    names: List[str] = []
    for path in (configs / 'overall.yaml',
                 configs / 'dataset' / f'{dataset}.yaml',
                 configs / 'model' / f'{TOOLBOX_NAMES[model]}.yaml'):
        if not path.exists():
            raise FileNotFoundError(f"toolbox config '{path}' is missing")
        part = yaml.safe_load(path.read_text()) or {}
        names += part.get('hyper_parameters') or []
        cfg.update(part)
    for name in names:
        if isinstance(cfg.get(name), list):
            cfg[name] = cfg[name][0]
    # The toolbox's YAML loader reads 1e-02 as a number; safe_load does not.
    for key, value in cfg.items():
        if isinstance(value, str):
            try:
                cfg[key] = float(value)
            except ValueError:
                pass
    cfg.update(TOOLBOX_OVERRIDES.get(model, {}))
    return cfg


def our_overrides(model: str, settings: Dict[str, Any]) -> List[str]:
    r"""The ``--set`` pairs giving our :obj:`model` the toolbox's
    :obj:`settings`."""
    out = []
    for key, ours in {**COMMON, **MAPPING[model]}.items():
        if ours is not None and settings.get(key) is not None:
            out.append(f'{ours}={json.dumps(settings[key])}')
    decay, step = settings.get('learning_rate_scheduler') or [1.0, 50]
    # The toolbox stops after stopping_step + 1 evaluations without
    # improvement (cur_step > stopping_step); ours at patience.
    out += [f'train.lr_decay={float(decay)}',
            f'train.lr_decay_step={int(step)}',
            f"train.patience={int(settings.get('stopping_step', 20)) + 1}"]
    return out + OURS_FIXED.get(model, [])


def toolbox_path(out: Path, dataset: str, model: str, seed: int) -> Path:
    return out / dataset / model / f'toolbox_seed{seed}.json'


def run_toolbox(mmrec: Path, python: str, model: str, dataset: str,
                out: Path, overrides: Dict[str, Any],
                seed: int = TOOLBOX_SEED) -> Dict[str, Any]:
    path = toolbox_path(out, dataset, model, seed)
    if path.exists():
        return json.loads(path.read_text())
    path.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, LIRDREC_THREADS='1', OMP_NUM_THREADS='1')
    log = path.with_suffix('.log')
    with open(log, 'w') as f:
        done = subprocess.run(
            [python, str(DRIVER), TOOLBOX_NAMES[model], dataset,
             str(seed), str(path), json.dumps(overrides)],
            cwd=mmrec / 'src', env=env, stdout=f, stderr=subprocess.STDOUT)
    if done.returncode != 0:
        raise RuntimeError(f"the toolbox's {TOOLBOX_NAMES[model]} failed "
                           f"(exit {done.returncode}); see {log}")
    return json.loads(path.read_text())


def run_ours(model: str, dataset: str, seed: int, overrides: List[str],
             out: Path) -> Dict[str, Any]:
    run_dir = out / dataset / model / f'seed{seed}'
    if (run_dir / RESULTS).exists():
        return json.loads((run_dir / RESULTS).read_text())
    config = load_config(model, dataset=dataset,
                         overrides=[*overrides, f'train.seed={seed}'])
    config['train'].update(threads=1, progress=False)
    return run_experiment(dataset, model, config, out_dir=run_dir,
                          resume=True)


def _median_epoch_seconds(results: Dict[str, Any]) -> float:
    seconds = [h['seconds'] for h in results.get('history', [])
               if 'seconds' in h]
    return (statistics.median(seconds) if seconds else
            results['train_seconds'] / max(results['epochs'], 1))


def _toolbox_epoch_seconds(run: Dict[str, Any]) -> float:
    # The median, as a paused or preempted epoch would drag a mean.
    return (statistics.median(run['epoch_seconds'])
            if run.get('epoch_seconds') else run['seconds_per_epoch'])


def _mean_std(values: List[float]) -> Tuple[float, float]:
    return (statistics.mean(values),
            statistics.stdev(values) if len(values) > 1 else 0.0)


def summarise(model: str, toolbox: List[Dict[str, Any]],
              ours: List[Dict[str, Any]]) -> Dict[str, Any]:
    r"""One table row: the toolbox's runs (one per seed) and ours, each
    side's mean and standard deviation, and the ratio of the means."""
    row: Dict[str, Any] = {'model': model, 'seeds': len(ours),
                           'toolbox_seeds': len(toolbox)}
    if toolbox:
        stats = {m: _mean_std([t['test'][m.lower()] for t in toolbox])
                 for m in METRICS}
        row['toolbox'] = {m: stats[m][0] for m in METRICS}
        row['toolbox_std'] = {m: stats[m][1] for m in METRICS}
        row['toolbox_runs'] = [
            {'seed': t.get('seed'), 'best_epoch': t['best_epoch'],
             **{m: t['test'][m.lower()] for m in METRICS}} for t in toolbox]
        row['toolbox_best_epoch'] = statistics.mean(t['best_epoch']
                                                    for t in toolbox)
        row['toolbox_seconds_per_epoch'] = statistics.mean(
            _toolbox_epoch_seconds(t) for t in toolbox)
        row['toolbox_settings'] = toolbox[0]['settings']
    if ours:
        stats = {m: _mean_std([r['test'][m] for r in ours]) for m in METRICS}
        row['ours'] = {m: stats[m][0] for m in METRICS}
        row['ours_std'] = {m: stats[m][1] for m in METRICS}
        row['ours_best_epoch'] = statistics.mean(r['best_epoch']
                                                 for r in ours)
        row['ours_seconds_per_epoch'] = statistics.mean(
            _median_epoch_seconds(r) for r in ours)
    if toolbox and ours:
        row['ratio'] = {m: row['ours'][m] / row['toolbox'][m]
                        if row['toolbox'][m] else float('nan')
                        for m in METRICS}
    return row


def format_table(rows: List[Dict[str, Any]]) -> str:
    def cell(row: Dict[str, Any], key: str,
             fmt: Callable[[Any], str]) -> str:
        return fmt(row[key]) if key in row else '-'

    lines = ['| model | toolbox R@20 / N@20 | ours R@20 / N@20 (seeds) | '
             'ratio R / N | best epoch toolbox / ours | median s/epoch '
             'toolbox / ours |', '|---|---|---|---|---|---|']
    for r in rows:
        tb = '-'
        if 'toolbox' in r:
            # The toolbox's default single seed keeps the plain cell.
            tb = _mean_cell(r['toolbox'], r['toolbox_std'],
                            r['toolbox_seeds'], r['toolbox_seeds'] > 1)
        ours = ('-' if 'ours' not in r else
                _mean_cell(r['ours'], r['ours_std'], r['seeds'], True))
        ratio = cell(r, 'ratio', lambda t: f"{100 * t['Recall@20']:.1f}% / "
                                           f"{100 * t['NDCG@20']:.1f}%")
        epochs = (f"{cell(r, 'toolbox_best_epoch', lambda e: f'{e:.0f}')} / "
                  f"{cell(r, 'ours_best_epoch', lambda e: f'{e:.0f}')}")
        secs = (f"{cell(r, 'toolbox_seconds_per_epoch', lambda e: f'{e:.2f}')}"
                f" / {cell(r, 'ours_seconds_per_epoch', lambda e: f'{e:.2f}')}")
        lines.append(f"| {r['model']} | {tb} | {ours} | {ratio} | {epochs} | "
                     f"{secs} |")
    return '\n'.join(lines)


def _mean_cell(mean: Dict[str, float], std: Dict[str, float], runs: int,
               count: bool) -> str:
    # One run has no spread; 'count' adds the number of runs.
    def one(m: str) -> str:
        return f"{mean[m]:.4f}" + (f" ± {std[m]:.4f}" if runs > 1 else '')
    return (f"{one('Recall@20')} / {one('NDCG@20')}" +
            (f" ({runs})" if count else ''))


def main(argv: Optional[List[str]] = None) -> List[Dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--mmrec', type=Path, required=True,
                        help='checkout of the MMRec toolbox (with src/); '
                             'its configs give both sides\' settings, so '
                             'every mode needs it')
    parser.add_argument('--mmrec-python', default=sys.executable,
                        help="the Python with the toolbox's dependencies")
    parser.add_argument('--dataset', default='lastfm2k',
                        help='dataset in the toolbox layout and ours '
                             '(default: lastfm2k)')
    parser.add_argument('--models', nargs='+', default=list(TOOLBOX_NAMES),
                        choices=list(TOOLBOX_NAMES))
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2],
                        help='our seeds (default: 0 1 2)')
    parser.add_argument('--toolbox-seeds', nargs='+', type=int,
                        default=[TOOLBOX_SEED],
                        help="the toolbox's seeds (default: its own, 999)")
    parser.add_argument('--only', choices=['toolbox', 'ours', 'none'],
                        help='run one side only, or none (report the '
                             'finished cells); the rest is read if done')
    parser.add_argument('--out', type=Path,
                        default=ROOT / 'results' / 'side_by_side',
                        help='results folder; finished cells in it are kept '
                             '(default: results/side_by_side)')
    args = parser.parse_args(argv)
    if not (args.mmrec / 'src' / 'main.py').exists():
        parser.error(f"--mmrec '{args.mmrec}' is not an MMRec checkout "
                     f"(no src/main.py)")
    rows = []
    for model in args.models:
        settings = toolbox_settings(args.mmrec, model, args.dataset)
        toolbox = []
        for seed in args.toolbox_seeds:
            path = toolbox_path(args.out, args.dataset, model, seed)
            if args.only in (None, 'toolbox'):
                toolbox.append(run_toolbox(
                    args.mmrec, args.mmrec_python, model, args.dataset,
                    args.out, TOOLBOX_OVERRIDES.get(model, {}), seed))
            elif path.exists():
                toolbox.append(json.loads(path.read_text()))
        ours = []
        overrides = our_overrides(model, settings)
        for seed in args.seeds:
            done = args.out / args.dataset / model / f'seed{seed}' / RESULTS
            if args.only in (None, 'ours') or done.exists():
                ours.append(run_ours(model, args.dataset, seed, overrides,
                                     args.out))
        row = summarise(model, toolbox, ours)
        row['our_settings'] = overrides
        rows.append(row)
        print(format_table([row]).splitlines()[-1], flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(args.out / 'side_by_side.json', rows)
    table = format_table(rows)
    atomic_write(args.out / 'side_by_side.md',
                 lambda f: f.write(table + '\n'), mode='w')
    print(table)
    return rows


if __name__ == '__main__':
    main()
