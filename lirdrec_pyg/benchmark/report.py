"""The benchmark's outputs: ``summary.json`` (every cell), ``summary.csv``,
``summary.md`` (the table) and plots."""
import csv
import io
import math
import statistics
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from lirdrec_pyg.benchmark.runner import OK, Entry, entry_status
from lirdrec_pyg.benchmark.suite import Suite
from lirdrec_pyg.io import atomic_write
from lirdrec_pyg.train.io import atomic_write_json

METRICS = ('Recall@10', 'Recall@20', 'NDCG@10', 'NDCG@20')
#: Metrics of the paired tests (per-user values saved by every run).
TESTED = ('Recall@20', 'NDCG@20')
SHORT = {'Recall': 'R', 'NDCG': 'N'}
#: Table markers: the target is significantly better (``win``) or worse
#: (``loss``) than the row's model, after Holm's correction.
MARKERS = {'win': '†', 'loss': '‡'}


def _short(metric: str) -> str:
    name, k = metric.split('@')
    return f'{SHORT.get(name, name)}@{k}'


def _mean_std(values: Sequence[float]) -> Dict[str, float]:
    return {'mean': statistics.mean(values),
            'std': statistics.stdev(values) if len(values) > 1 else 0.0,
            'n': len(values)}


def _section(suite: Suite) -> str:
    return 'cold_start' if suite.protocol == 'cold_start' else 'test'


def _per_user_file(suite: Suite) -> str:
    from lirdrec_pyg.train.experiment import PER_USER
    return PER_USER.format('cold' if suite.protocol == 'cold_start' else
                           'test')


def _entry_summary(entry: Entry, suite: Suite) -> Dict[str, Any]:
    status, detail = entry_status(entry, suite.seeds)
    section = _section(suite)
    seeds = [entry.seed_records[s] for s in suite.seeds
             if s in entry.seed_records]
    done = [r for r in seeds if r['status'] in OK]
    row: Dict[str, Any] = {
        'dataset': entry.dataset, 'model': entry.model, 'status': status,
        'detail': detail, 'set': entry.overrides,
        'seeds_done': [r['seed'] for r in done],
    }
    if entry.selected is not None:
        config = dict(entry.configs[entry.selected])
        config['train'] = {k: v for k, v in config['train'].items()
                           if k not in ('seed', 'progress')}
        row['config'] = config
        row['config_hash'] = (entry.seed_cells[0].key if entry.seed_cells
                              else None)
    if entry.has_grid:
        row['grid'] = {
            'size': entry.grid_size, 'sampled': len(entry.points),
            'seed': suite.seeds[0], 'metric': f'valid {suite.metric}',
            'selected': entry.selected,
            'selected_set': (entry.points[entry.selected]
                             if entry.selected is not None else None),
            'points': [{
                'set': point,
                'key': entry.grid_cells[i].key,
                'status': entry.grid_records.get(i, {}).get('status',
                                                            'not run'),
                'valid': entry.grid_records.get(i, {}).get('valid'),
                'seconds': entry.grid_records.get(i, {}).get('seconds'),
            } for i, point in enumerate(entry.points)],
        }
    row['cells'] = seeds
    if done:
        row['metrics'] = {m: _mean_std([r[section][m] for r in done])
                          for m in METRICS if m in done[0][section]}
        row['valid'] = _mean_std([r['valid'][suite.metric] for r in done])
        row['best_epoch'] = statistics.mean(r['best_epoch'] for r in done)
        row['train_seconds'] = statistics.mean(r['train_seconds']
                                               for r in done)
        row['cached'] = sum(r['status'] == 'cached' for r in done)
    return row


def _significance(rows: List[Dict[str, Any]], suite: Suite,
                  alpha: float) -> None:
    from lirdrec_pyg.benchmark.significance import compare
    from lirdrec_pyg.train.experiment import load_per_user

    filename = _per_user_file(suite)

    def per_seed(row: Dict[str, Any], metric: str) -> Dict[int, Any]:
        out = {}
        for record in row['cells']:
            path = Path(record['dir']) / filename
            if record['status'] in OK and path.exists():
                values = load_per_user(path)
                if metric in values:
                    out[record['seed']] = (values['user'], values[metric])
        return out

    for dataset in dict.fromkeys(r['dataset'] for r in rows):
        in_dataset = [r for r in rows if r['dataset'] == dataset
                      and r.get('metrics')]
        target = [r for r in in_dataset if r['model'] == suite.target]
        if not target:
            continue
        for metric in TESTED:
            mine = per_seed(target[0], metric)
            others = {r['model']: per_seed(r, metric) for r in in_dataset
                      if r['model'] != suite.target}
            results = compare(mine, {k: v for k, v in others.items() if v},
                              alpha)
            for r in in_dataset:
                if r['model'] in results:
                    r.setdefault('significance', {})[metric] = \
                        results[r['model']]


def summarise(entries: List[Entry], suite: Suite, grid: bool, threads: int,
              executor: Any, command: str, interrupted: bool,
              started: float, alpha: float = 0.05) -> Dict[str, Any]:
    r"""Everything the run produced, as one JSON-ready dictionary."""
    from lirdrec_pyg.train.experiment import versions

    rows = [_entry_summary(e, suite) for e in entries]
    _significance(rows, suite, alpha)
    return {
        'suite': suite.name, 'description': suite.description,
        'command': command, 'protocol': suite.protocol,
        'section': _section(suite), 'seeds': suite.seeds,
        'target': suite.target, 'metric': suite.metric, 'grid': grid,
        'budget': suite.budget, 'grid_seed': suite.grid_seed,
        'alpha': alpha, 'test': 'Wilcoxon signed-rank, Holm-corrected',
        'executor': executor.describe(), 'jobs': executor.jobs,
        'threads_per_process': threads, 'versions': versions(),
        'started': time.strftime('%Y-%m-%d %H:%M:%S',
                                 time.gmtime(started)),
        'seconds': round(time.time() - started, 1),
        'interrupted': interrupted, 'entries': rows,
    }


def _cell(row: Dict[str, Any], metric: str, best: Dict[str, float]) -> str:
    stats = (row.get('metrics') or {}).get(metric)
    if stats is None:
        return ''
    text = f"{stats['mean']:.4f}"
    if stats.get('n', 2) > 1:  # one seed has no spread to show
        text += f" ± {stats['std']:.4f}"
    if math.isclose(stats['mean'], best.get(metric, math.nan),
                    rel_tol=0, abs_tol=5e-5):
        text = f'**{text}**'
    outcome = (row.get('significance') or {}).get(metric, {}).get('outcome')
    return text + (f' {MARKERS[outcome]}' if outcome in MARKERS else '')


def _status(row: Dict[str, Any]) -> str:
    if row['status'] in ('n/a', 'failed'):
        return f"{row['status']}: {row['detail']}".replace('|', '/')
    cached = row.get('cached', 0)
    done = len(row['seeds_done'])
    if done == 0:
        return f"not run; {row['detail']}" if row['detail'] else 'not run'
    text = ('cached' if cached == done else
            f'ran ({cached} cached)' if cached else 'ran')
    return text if row['status'] == 'ok' else f"{text}; {row['detail']}"


def format_table(summary: Dict[str, Any], dataset: str) -> str:
    rows = [r for r in summary['entries'] if r['dataset'] == dataset]
    metrics = [m for m in METRICS
               if any(m in (r.get('metrics') or {}) for r in rows)]
    best = {m: max(r['metrics'][m]['mean'] for r in rows
                   if m in (r.get('metrics') or {})) for m in metrics}
    head = (['model', 'seeds', f"valid {_short(summary['metric'])}"] +
            [_short(m) for m in metrics] + ['best epoch', 'train s', 'status'])
    lines = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for r in rows:
        valid = r.get('valid')
        ran = len(r['seeds_done'])
        cells = [r['model'],
                 '-' if ran == 0 and r['status'] in ('n/a', 'failed')
                 else str(ran),
                 f"{valid['mean']:.4f}" if valid else '']
        cells += [_cell(r, m, best) for m in metrics]
        cells += [f"{r['best_epoch']:.0f}" if 'best_epoch' in r else '',
                  f"{r['train_seconds']:.1f}" if 'train_seconds' in r else '',
                  _status(r)]
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def format_grids(summary: Dict[str, Any]) -> str:
    lines = []
    for r in summary['entries']:
        grid = r.get('grid')
        if not grid:
            continue
        sel = grid['selected_set']
        lines.append(f"- {r['dataset']}/{r['model']}: {grid['sampled']} of "
                     f"{grid['size']} points (seed {grid['seed']}), selected "
                     f"on {grid['metric']}: "
                     f"{', '.join(sel) if sel is not None else 'none'}")
        for i, p in enumerate(grid['points']):
            score = (p['valid'] or {}).get(summary['metric'])
            mark = ' <- selected' if i == grid['selected'] else ''
            shown = f'{score:.4f}' if score is not None else p['status']
            lines.append(f"  - {', '.join(p['set'])}: {shown}{mark}")
    return '\n'.join(lines)


def format_markdown(summary: Dict[str, Any]) -> str:
    section = ('cold-start items' if summary['section'] == 'cold_start'
               else 'test')
    out = [f"# Benchmark `{summary['suite']}`", '']
    if summary['description']:
        out += [summary['description'], '']
    markers = ''
    if any(r['model'] == summary['target'] for r in summary['entries']):
        markers = (f" {MARKERS['win']} / {MARKERS['loss']}: "
                   f"{summary['target']} is significantly better / worse "
                   f"than the row's model (paired {summary['test']}, alpha "
                   f"{summary['alpha']}, over the per-user values averaged "
                   f"over seeds).")
    out += [f"`{summary['command']}`", '',
            f"Metrics: {section} metrics at the best validation "
            f"{summary['metric']} epoch, mean ± std over seeds "
            f"{summary['seeds']}; best per column in bold.{markers} "
            f"{summary['executor']}, {summary['threads_per_process']} "
            f"thread(s) per process, {summary['seconds']:.0f} s."]
    if summary['interrupted']:
        out += ['', '**Interrupted**: the table holds the finished cells; '
                'the same command continues.']
    for dataset in dict.fromkeys(r['dataset'] for r in summary['entries']):
        out += ['', f'## {dataset}', '', format_table(summary, dataset)]
    grids = format_grids(summary)
    if grids:
        out += ['', '## Grid selection (validation only)', '', grids]
    return '\n'.join(out) + '\n'


CSV_FIELDS = ['dataset', 'model', 'status', 'detail', 'seeds',
              'valid_metric', 'valid_mean', 'valid_std']


def format_csv(summary: Dict[str, Any]) -> str:
    fields = list(CSV_FIELDS)
    for m in METRICS:
        fields += [f'{m}_mean', f'{m}_std']
    for m in TESTED:
        fields += [f'{m}_p', f'{m}_p_holm', f'{m}_vs_target']
    fields += ['best_epoch', 'train_seconds', 'grid_points',
               'selected_point']
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator='\n')
    writer.writeheader()
    for r in summary['entries']:
        row = {'dataset': r['dataset'], 'model': r['model'],
               'status': r['status'], 'detail': r['detail'],
               'seeds': ' '.join(map(str, r['seeds_done'])),
               'valid_metric': summary['metric'],
               'best_epoch': r.get('best_epoch'),
               'train_seconds': r.get('train_seconds')}
        # One seed has no spread: its std cells stay empty, not 0.0.
        spread = len(r['seeds_done']) > 1
        if r.get('valid'):
            row['valid_mean'] = r['valid']['mean']
            row['valid_std'] = r['valid']['std'] if spread else ''
        for m, stats in (r.get('metrics') or {}).items():
            row[f'{m}_mean'] = stats['mean']
            row[f'{m}_std'] = stats['std'] if spread else ''
        for m, sig in (r.get('significance') or {}).items():
            row[f'{m}_p'], row[f'{m}_p_holm'] = sig['p'], sig['p_holm']
            row[f'{m}_vs_target'] = sig['outcome']
        if r.get('grid'):
            row['grid_points'] = r['grid']['sampled']
            sel = r['grid']['selected_set']
            row['selected_point'] = '; '.join(sel) if sel else ''
        writer.writerow(row)
    return buf.getvalue()


def _save_figure(fig: Any, path: Path) -> None:
    import matplotlib.pyplot as plt
    atomic_write(path, lambda f: fig.savefig(f, format='png', dpi=110), 'wb')
    plt.close(fig)


def plot_bars(summary: Dict[str, Any], path: Path) -> Optional[Path]:
    r"""Recall@20 and NDCG@20 per model with the std over seeds as error
    bars, one panel per dataset."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    datasets = list(dict.fromkeys(r['dataset'] for r in summary['entries']
                                  if r.get('metrics')))
    if not datasets:
        return None
    most = max(sum(r['dataset'] == d for r in summary['entries'])
               for d in datasets)
    fig, axes = plt.subplots(1, len(datasets), squeeze=False,
                             figsize=(3 + 0.6 * most * len(datasets), 3.6))
    for ax, dataset in zip(axes[0], datasets):
        rows = [r for r in summary['entries']
                if r['dataset'] == dataset and r.get('metrics')]
        x = range(len(rows))
        for shift, metric in ((-0.2, 'Recall@20'), (0.2, 'NDCG@20')):
            ax.bar([i + shift for i in x],
                   [r['metrics'][metric]['mean'] for r in rows], width=0.4,
                   yerr=[r['metrics'][metric]['std'] for r in rows],
                   capsize=3, label=metric)
        ax.set_xticks(list(x), [r['model'] for r in rows], rotation=45,
                      ha='right')
        ax.set_title(dataset)
        ax.set_ylabel(f"{summary['section'].replace('_', '-')} metric")
        ax.legend(fontsize='small')
    fig.tight_layout()
    _save_figure(fig, path)
    return path


def plot_validation_curves(summary: Dict[str, Any], dataset: str,
                           path: Path) -> Optional[Path]:
    r"""Validation metric per epoch of every trained model on
    :obj:`dataset`, one panel per model, one line per seed."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    rows = [r for r in summary['entries'] if r['dataset'] == dataset and
            any(len(c.get('valid_curve') or []) > 1 for c in r['cells'])]
    if not rows:
        return None
    cols = min(4, len(rows))
    nrows = math.ceil(len(rows) / cols)
    fig, axes = plt.subplots(nrows, cols, squeeze=False, sharey=True,
                             figsize=(3.2 * cols, 2.6 * nrows))
    for ax, row in zip(axes.flat, rows):
        for cell in row['cells']:
            curve = cell.get('valid_curve') or []
            if curve:
                ax.plot([e for e, _ in curve], [v for _, v in curve],
                        label=f"seed {cell['seed']}", linewidth=1)
        ax.set_title(row['model'])
        ax.set_xlabel('epoch')
        ax.set_ylabel(f"valid {summary['metric']}")
        ax.legend(fontsize='x-small')
    for ax in list(axes.flat)[len(rows):]:
        ax.axis('off')
    fig.tight_layout()
    _save_figure(fig, path)
    return path


def write_summary(summary: Dict[str, Any], out: Path) -> List[Path]:
    r"""Writes ``summary.json``, ``summary.csv``, ``summary.md`` and the
    plots (if matplotlib is installed) into :obj:`out`, each atomically."""
    out = Path(out)
    atomic_write_json(out / 'summary.json', summary)
    atomic_write(out / 'summary.csv', lambda f: f.write(format_csv(summary)),
                 'w')
    atomic_write(out / 'summary.md',
                 lambda f: f.write(format_markdown(summary)), 'w')
    written = [out / 'summary.json', out / 'summary.csv',
               out / 'summary.md']
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return written
    plots = [plot_bars(summary, out / 'metrics.png')]
    for dataset in dict.fromkeys(r['dataset'] for r in summary['entries']):
        plots.append(plot_validation_curves(
            summary, dataset, out / f'valid_curves_{dataset}.png'))
    return written + [p for p in plots if p is not None]
