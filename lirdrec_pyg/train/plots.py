"""Learning curves of finished runs, drawn from their ``results.json``."""
import dataclasses
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence

from lirdrec_pyg.io import PathLike, atomic_write


def load_run(run_dir: PathLike) -> Dict[str, Any]:
    r"""The :obj:`results.json` of a run folder written by ``lirdrec train``
    (or :func:`~lirdrec_pyg.train.experiment.run_experiment`), checked to
    hold the per-epoch history."""
    import json

    path = Path(run_dir) / 'results.json'
    if not path.is_file():
        raise FileNotFoundError(f"no results.json in '{run_dir}': pass the "
                                f"--out folder of a finished lirdrec train")
    with open(path) as f:
        results = json.load(f)
    if not results.get('history'):
        raise ValueError(f"'{path}' has no per-epoch 'history': the model "
                         f"does not train, or the run predates recorded "
                         f"histories; re-run it to plot it")
    return results


def plot_learning_curves(runs: Sequence[Any], path: PathLike,
                         metric: str = 'Recall@20',
                         labels: Optional[Sequence[str]] = None) -> Path:
    r"""Draws, for every run, the mean training loss per epoch (left) and
    the validation :obj:`metric` at every evaluated epoch (right), with the
    selected (best validation) epoch marked, and writes the figure to
    :obj:`path` (PNG, SVG or PDF by its suffix) atomically.

    Args:
        runs (Sequence): Results as returned by :func:`load_run`, or
            :class:`~lirdrec_pyg.train.TrainResult` objects of
            :meth:`Trainer.fit() <lirdrec_pyg.train.Trainer.fit>`.
        path (str or Path): The image file to write.
        metric (str, optional): A validation metric of the runs.
            (default: :obj:`"Recall@20"`)
        labels (Sequence[str], optional): One legend entry per run
            (default: :obj:`None`, the model and dataset names).
    """
    runs = [_as_mapping(run) for run in runs]
    if not runs:
        raise ValueError('plot_learning_curves needs at least one run')
    if labels is not None and len(labels) != len(runs):
        raise ValueError(f"got {len(labels)} labels for {len(runs)} runs")
    labels = list(labels) if labels is not None else [
        f"{r.get('model', '?')} ({r.get('dataset', '?')})" for r in runs]
    curves = [_curves(run, metric, label) for run, label in zip(runs,
                                                                 labels)]
    try:
        import matplotlib
        matplotlib.use('Agg')
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError("plotting needs matplotlib: pip install "
                          "'lirdrec-pyg[plots]'") from error

    fig, (ax_loss, ax_metric) = plt.subplots(1, 2, figsize=(10, 3.8))
    for curve in curves:
        line, = ax_loss.plot(curve['epochs'], curve['loss'],
                             label=curve['label'])
        ax_metric.plot(curve['valid_epochs'], curve['valid'],
                       color=line.get_color(), label=curve['label'])
        if curve['best_epoch'] in curve['valid_epochs']:
            best = curve['valid'][curve['valid_epochs'].index(
                curve['best_epoch'])]
            ax_metric.plot([curve['best_epoch']], [best], marker='o',
                           color=line.get_color())
    ax_loss.set(xlabel='epoch', ylabel='training loss (mean per batch)',
                yscale='log')
    ax_metric.set(xlabel='epoch', ylabel=f'validation {metric}')
    ax_metric.legend(loc='lower right', fontsize='small')
    ax_metric.set_title('dot: the selected (best validation) epoch',
                        fontsize='small')
    fig.tight_layout()
    path = Path(path)
    fmt = path.suffix.lstrip('.').lower() or 'png'
    atomic_write(path, lambda f: fig.savefig(f, format=fmt, dpi=110), 'wb')
    plt.close(fig)
    return path


def _as_mapping(run: Any) -> Mapping[str, Any]:
    if isinstance(run, Mapping):
        return run
    if dataclasses.is_dataclass(run) and hasattr(run, 'history'):
        return dataclasses.asdict(run)
    raise TypeError(f"a run must be a results mapping or a TrainResult "
                    f"(got {type(run).__name__})")


def _curves(run: Mapping[str, Any], metric: str,
            label: str) -> Dict[str, Any]:
    history: List[Mapping[str, Any]] = list(run.get('history') or [])
    if not history:
        raise ValueError(f"run '{label}' has no per-epoch history")
    evaluated = [h for h in history if 'valid' in h]
    if evaluated and metric not in evaluated[0]['valid']:
        raise ValueError(f"unknown metric '{metric}' for run '{label}'; it "
                         f"has {sorted(evaluated[0]['valid'])}")
    return dict(label=label,
                epochs=[h['epoch'] for h in history],
                loss=[h['loss'] for h in history],
                valid_epochs=[h['epoch'] for h in evaluated],
                valid=[h['valid'][metric] for h in evaluated],
                best_epoch=run.get('best_epoch'))
