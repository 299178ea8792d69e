"""The ``lirdrec`` command line: train, datasets, summary, plot, data import,
features, build-kernels."""
import argparse
import json
import os
import sys
import warnings
from typing import Any, List, Optional

import torch


def _cmd_train(args: argparse.Namespace) -> int:
    from lirdrec_pyg.train.config import load_config
    from lirdrec_pyg.train.experiment import recording, run_experiment
    from lirdrec_pyg.train.run_folder import RunFolder

    if args.resume and args.overwrite:
        raise ValueError('--resume and --overwrite exclude each other')
    if args.resume and not RunFolder(args.out).holds_run():
        # A mistyped --out would otherwise start a whole new run silently.
        raise ValueError(f"--resume: '{args.out}' holds no run to resume "
                         f"(no checkpoint.pt or results.json); leave out "
                         f"--resume to start one")
    # The flags go through the same typed checks as --set.
    overrides = list(args.set or [])
    if args.threads is not None:
        overrides.append(f'train.threads={args.threads}')
    if args.device is not None:
        overrides.append(f'train.device={args.device}')
    if args.cold_items is not None:
        overrides.append(f'eval.cold_item_fraction={args.cold_items}')
    if args.no_progress:
        overrides.append('train.progress=false')
    with recording():  # the warnings of the config's checks reach train.log
        config = load_config(args.model, dataset=args.dataset,
                             config_file=args.config, overrides=overrides)
        results = run_experiment(
            args.dataset, args.model, config, out_dir=args.out,
            resume=args.resume, overwrite=args.overwrite,
            echo=lambda line: print(line, file=sys.stderr))
    from lirdrec_pyg.distributed import is_main_process
    if not is_main_process():  # under torchrun, rank 0 reports
        return 0
    shown = {k: results[k] for k in ('dataset', 'model', 'seed',
                                     'best_epoch', 'epochs', 'train_seconds',
                                     'threads', 'processes')}
    shown['test'] = {k: round(v, 4) for k, v in results['test'].items()
                     if k.split('@')[1] in ('10', '20')}
    if 'cold_start' in results:
        shown['cold_start'] = {k: round(v, 4) for k, v in
                               results['cold_start'].items()
                               if '@20' in k or k.startswith('num_')}
    print(json.dumps(shown, indent=2))
    return 0


def _cmd_datasets(args: argparse.Namespace) -> int:
    from lirdrec_pyg.data import data_root, list_datasets
    rows = list_datasets()
    print(f'data root: {data_root()} (set LIRDREC_DATA to change it)')
    width = max(len(r['name']) for r in rows)
    for r in rows:
        status = 'available' if r['available'] else 'missing'
        print(f"{r['name']:<{width}}  {status:<9}  {r['description']}")
        if r.get('path'):
            print(f"{'':<{width}}  {'':<9}  path: {r['path']}")
    return 0


def _cmd_summary(args: argparse.Namespace) -> int:
    from lirdrec_pyg.data import dataset_summary, format_summary, load_dataset
    print(format_summary(dataset_summary(load_dataset(args.dataset))))
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    from lirdrec_pyg.train.plots import load_run, plot_learning_curves
    runs = [load_run(d) for d in args.runs]
    path = plot_learning_curves(runs, args.out, metric=args.metric,
                                labels=args.labels)
    print(f'wrote {path}')
    return 0


def _cmd_build_kernels(args: argparse.Namespace) -> int:
    from lirdrec_pyg.nn.kernels import kernels_enabled, load_spmm_extension
    if not kernels_enabled():
        print('LIRDREC_KERNELS=0: the compiled kernels are disabled')
        return 1
    if load_spmm_extension(verbose=args.verbose, build=True) is None:
        print("the compiled SpMM kernel did not build (see the warning); "
              "torch's kernels are used")
        return 1
    print('the compiled SpMM kernel is built and loads')
    return 0


class _Parser(argparse.ArgumentParser):
    r"""argparse with one-line errors, as every other error of the CLI."""
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f'lirdrec: error: {message} (see `{self.prog} '
                     f'--help`)\n')


def build_parser() -> argparse.ArgumentParser:
    from lirdrec_pyg.models import MODELS

    parser = _Parser(
        prog='lirdrec',
        description='LIRDRec and multimodal graph recommenders on PyG.')
    parser.add_argument('--debug', action='store_true',
                        help='show the traceback of an error')
    sub = parser.add_subparsers(dest='command', required=True)

    train = sub.add_parser('train', help='train and evaluate a model')
    train.add_argument('--dataset', required=True,
                       help='a registered name (lastfm2k, amazon_baby, '
                       'movielens_small, synthetic), a folder NAME/NAME.inter '
                       'under LIRDREC_DATA, or the path of a dataset folder '
                       '(MMRec layout; see `lirdrec datasets`)')
    train.add_argument('--model', required=True, choices=sorted(MODELS))
    train.add_argument('--config', help='a YAML file with model/train/data '
                       'sections, applied over configs/models/<model>.yaml')
    train.add_argument('--set', nargs='*', action='extend',
                       metavar='KEY=VALUE',
                       help='override config keys, e.g. train.lr=1e-4 '
                       'num_layers=3')
    train.add_argument('--out', required=True,
                       help='output folder: results.json, checkpoint, log')
    train.add_argument('--resume', action='store_true',
                       help="continue the folder's run from its checkpoint "
                       "(refused if the configuration changed, except "
                       "epochs, threads, progress, eval_batch_size, device)")
    train.add_argument('--overwrite', action='store_true',
                       help='replace the run an --out folder holds')
    train.add_argument('--threads', type=int,
                       help='torch threads (default: the config, 1)')
    train.add_argument('--device', choices=['auto', 'cpu', 'cuda'],
                       help='where to train: auto is cuda if available '
                       '(default: the config, cpu); under torchrun each '
                       'process takes the GPU of its LOCAL_RANK')
    train.add_argument('--cold-items', type=float, metavar='FRACTION',
                       help='hold out this share of items entirely and '
                       'report their ranking separately (cold_start)')
    train.add_argument('--no-progress', action='store_true',
                       help='no progress bar')
    train.set_defaults(func=_cmd_train)

    datasets = sub.add_parser('datasets', help='list the datasets')
    datasets.set_defaults(func=_cmd_datasets)

    summary = sub.add_parser('summary', help='print a dataset summary')
    summary.add_argument('--dataset', required=True,
                         help='a registered name or a dataset folder')
    summary.set_defaults(func=_cmd_summary)

    plot = sub.add_parser(
        'plot', help='learning curves (loss, validation metric) of runs')
    plot.add_argument('runs', nargs='+', metavar='RUN_DIR',
                      help='--out folders of finished lirdrec train runs')
    plot.add_argument('--out', required=True,
                      help='image file to write (.png, .svg, .pdf)')
    plot.add_argument('--metric', default='Recall@20',
                      help='validation metric (default: Recall@20)')
    plot.add_argument('--labels', nargs='+',
                      help='one legend entry per run (default: model and '
                      'dataset)')
    plot.set_defaults(func=_cmd_plot)

    kernels = sub.add_parser(
        'build-kernels', help='compile the optional C++ SpMM kernel into '
        'this install (once, ~30 s; runs never compile it)')
    kernels.add_argument('--verbose', action='store_true',
                         help="show the compiler's output")
    kernels.set_defaults(func=_cmd_build_kernels)

    from lirdrec_pyg.data.import_cli import add_data_parser
    add_data_parser(sub)

    try:
        from lirdrec_pyg.features.cli import add_features_parser
    except ImportError:  # the pipeline module is optional at import time
        add_features_parser = None
    if add_features_parser is not None:
        add_features_parser(sub)
    return parser


def _format_warning(message: Any, category: Any, filename: str, lineno: int,
                    line: Optional[str] = None) -> str:
    # On the command line a warning about the user's settings is one line,
    # like an error; the library's source location means nothing to them
    # (--debug shows Python's usual format).
    if issubclass(category, UserWarning) and \
            filename.startswith((_PACKAGE_DIR, '<')):
        return f'lirdrec: warning: {message}\n'
    return _PYTHON_FORMAT_WARNING(message, category, filename, lineno, line)


def _process_group_active() -> bool:
    import torch.distributed as dist
    return dist.is_available() and dist.is_initialized()


def leave_process_group() -> None:
    r"""Destroys the process group a command joined (under ``torchrun``).
    Left to the interpreter's exit, Gloo's teardown can abort a rank
    ('terminate called without an active exception') after the run has
    finished, and ``torchrun`` then reports the whole run as failed."""
    if _process_group_active():
        import torch.distributed as dist
        dist.destroy_process_group()


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
_PYTHON_FORMAT_WARNING = warnings.formatwarning


def main(argv: Optional[List[str]] = None) -> int:
    # One thread is much faster than torch's default on small machines;
    # LIRDREC_THREADS (or `train --threads`) overrides it.
    torch.set_num_threads(int(os.environ.get('LIRDREC_THREADS', '1')))
    parser = build_parser()
    args = parser.parse_args(argv)
    previous_format = warnings.formatwarning
    had_process_group = _process_group_active()
    if not args.debug:
        warnings.formatwarning = _format_warning
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print('lirdrec: interrupted (continue a training run with --resume)',
              file=sys.stderr)
        return 130
    except (ValueError, OSError, KeyError, FloatingPointError) as e:
        # A user's mistake (bad value, missing file, refused folder): one
        # line; --debug shows where it came from.
        if args.debug:
            raise
        message = str(e).strip() or type(e).__name__
        if isinstance(e, OSError) and e.filename and e.strerror:
            message = f"{e.filename}: {e.strerror}"
        print(f'lirdrec: error: {message}', file=sys.stderr)
        return 2
    finally:
        warnings.formatwarning = previous_format
        if not had_process_group:  # one the caller made is the caller's
            leave_process_group()


if __name__ == '__main__':
    sys.exit(main())
