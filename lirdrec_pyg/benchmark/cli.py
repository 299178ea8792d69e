"""LIRDRec against the baselines: datasets x models x seeds -> tables.

Examples::

    python benchmarks/run.py --suite quick
    python benchmarks/run.py --suite lastfm2k --grid --budget 12 --jobs 2
    python benchmarks/run.py --datasets synthetic --models lirdrec bpr \\
        --seeds 0 1 --set train.epochs=30 lirdrec.train.lr=1e-3 --out DIR

Writes ``OUT/summary.md`` (the table), ``summary.csv``, ``summary.json``
(every cell) and plots; every run sits in
``OUT/cells/<dataset>/<model>/<config hash>/seed<k>/`` and is reused
(``cached``) by any later command with the same resolved configuration.
"""
import argparse
import hashlib
import json
import shlex
import signal
import sys
from pathlib import Path
from typing import Any, List, Optional

EPILOG = """\
--set pairs: MODEL.key=value sets a key of one model (lirdrec.train.lr=1e-3);
a section key (train.epochs=30) applies to every model; a plain key
(num_layers=1) to the models that have it, and is an error if none has.
Exit code: 0 all cells finished (or n/a), 1 some cell failed, 2 a usage
error (nothing ran), 130 interrupted (the summary of finished cells is
written; the same command continues)."""

DEFAULT_ROOT = Path('results')


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog='benchmarks/run.py', description=__doc__.split('\n')[0],
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--suite', help='a suite name in benchmarks/suites/ or a '
                   'path to a suite .yaml')
    p.add_argument('--datasets', nargs='+', help='replace the suite\'s')
    p.add_argument('--models', nargs='+', help='replace the suite\'s')
    p.add_argument('--seeds', nargs='+', type=int, help='replace the '
                   'suite\'s')
    p.add_argument('--set', nargs='*', default=[], metavar='KEY=VALUE',
                   help='settings added after the suite\'s (see below)')
    p.add_argument('--grid', action='store_true', help='select each '
                   'model\'s point of its search space on validation, then '
                   'run the seeds there')
    p.add_argument('--budget', type=int, help='at most N grid points per '
                   'model (a seeded random subset)')
    p.add_argument('--grid-seed', type=int, help='seed of the --budget '
                   'sample (default: the suite\'s, else 0)')
    p.add_argument('--metric', help='validation metric of the selection '
                   '(default: Recall@20)')
    p.add_argument('--target', help='model tested against every other '
                   '(default: lirdrec)')
    p.add_argument('--alpha', type=float, default=0.05)
    p.add_argument('--jobs', type=int, default=1, help='cells in N '
                   'processes on this machine')
    p.add_argument('--scheduler', metavar='ADDRESS', help='run the cells on '
                   'a Dask cluster (dask scheduler / dask worker)')
    p.add_argument('--threads', type=int, default=1, help='torch threads '
                   'per process')
    p.add_argument('--out', help='output folder (default: results/<suite>, '
                   'plus a hash of any change to the suite)')
    p.add_argument('--overwrite', action='store_true', help='replace the '
                   'summary of another command in --out (its cells are '
                   'reused where they match)')
    p.add_argument('--no-progress', action='store_true')
    return p


def _suite(args: argparse.Namespace):
    from lirdrec_pyg.benchmark.suite import Suite, load_suite

    if args.suite is not None:
        suite = load_suite(args.suite)
    else:
        if not args.datasets or not args.models:
            raise ValueError('give --suite, or --datasets and --models')
        suite = Suite(name='custom', datasets=[], models=[])
    changed = []
    for name in ('datasets', 'models', 'seeds'):
        if getattr(args, name):
            setattr(suite, name, list(getattr(args, name)))
            changed.append(f"--{name} "
                           f"{' '.join(map(str, getattr(suite, name)))}")
    if args.set:
        changed.append(f"--set {' '.join(args.set)}")
    suite.set = [*suite.set, *args.set]
    for name, attr in (('budget', 'budget'), ('grid_seed', 'grid_seed'),
                       ('metric', 'metric'), ('target', 'target')):
        if getattr(args, attr) is not None:
            setattr(suite, name, getattr(args, attr))
            changed.append(f'--{attr.replace("_", "-")} {getattr(args, attr)}')
    if args.suite is not None and changed:
        # The suite's own text no longer describes what runs.
        suite.description = ' '.join(filter(None, [
            suite.description,
            f"Changed on the command line: {', '.join(changed)}."]))
    suite.check('command line' if args.suite is None else
                f"suite '{args.suite}' with the command line")
    return suite


def plan_hash(suite, grid: bool) -> str:
    r"""Identifies what a command computes (not how: jobs, threads)."""
    keys = {k: v for k, v in vars(suite).items() if k != 'description'}
    keys['grid'] = grid
    text = json.dumps(keys, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def default_out(args: argparse.Namespace, suite, grid: bool) -> Path:
    changed = any([args.datasets, args.models, args.seeds, args.set,
                   args.budget is not None, args.grid_seed is not None,
                   args.metric, args.target, args.suite is None])
    name = suite.name + ('-grid' if grid and not suite.tune else '')
    if changed:
        name += '-' + plan_hash(suite, grid)
    return DEFAULT_ROOT / name


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: Optional[List[str]] = None) -> int:
    from lirdrec_pyg.benchmark.executors import make_executor
    from lirdrec_pyg.benchmark.runner import run_suite

    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    try:
        if args.threads < 1:
            raise ValueError(f'--threads must be positive (got '
                             f'{args.threads})')
        suite = _suite(args)
        grid = args.grid or suite.tune
        out = Path(args.out) if args.out else default_out(args, suite, grid)
        digest = plan_hash(suite, grid)
        previous = out / 'summary.json'
        if previous.exists() and not args.overwrite:
            old = json.loads(previous.read_text()).get('plan_hash')
            if old != digest:
                raise ValueError(f"'{out}' holds the summary of another "
                                 f"command; choose another --out or pass "
                                 f"--overwrite")
        import torch
        torch.set_num_threads(args.threads)
        executor = make_executor(args.jobs, args.scheduler,
                                 progress=not args.no_progress and
                                 sys.stderr.isatty())
    except (ValueError, ImportError, OSError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    command = 'python benchmarks/run.py ' + shlex.join(argv)
    # `kill` (SIGTERM) stops like Ctrl-C: the summary of finished cells.
    signal.signal(signal.SIGTERM, _interrupt)
    print(f'benchmark {suite.name}: {len(suite.datasets)} dataset(s) x '
          f'{len(suite.models)} model(s) x {len(suite.seeds)} seed(s)'
          f"{' with grid selection' if grid else ''}, "
          f'{executor.describe()}, output {out}', file=sys.stderr)
    try:
        summary, code = run_suite(
            suite, out, executor, grid=grid, threads=args.threads,
            progress=False if args.no_progress else None, command=command,
            alpha=args.alpha, plan_hash=digest)
    except ValueError as e:  # a wrong setting, found before anything ran
        print(f'error: {e}', file=sys.stderr)
        return 2
    from lirdrec_pyg.benchmark.report import format_markdown
    print(format_markdown(summary))
    failed = [f"{r['dataset']}/{r['model']}: {r['detail']}"
              for r in summary['entries'] if r['status'] == 'failed']
    if failed:
        print(f'{len(failed)} row(s) with failed cells (errors in their '
              f'cell folders, error.txt):', file=sys.stderr)
        for line in failed:
            print(f'  {line}', file=sys.stderr)
    if code == 130:
        print('interrupted: the summary holds the finished cells; run the '
              'same command to continue', file=sys.stderr)
    print(f'summary: {out / "summary.md"}', file=sys.stderr)
    return code
