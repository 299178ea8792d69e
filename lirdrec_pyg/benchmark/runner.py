"""Planning and running a benchmark: grid points on validation, then the
seeds at the selected point, never aborting the table."""
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from lirdrec_pyg.benchmark.cells import Cell, make_cell
from lirdrec_pyg.benchmark.suite import (Suite, grid_points, search_space,
                                         split_overrides)

OK = ('ran', 'cached')


@dataclass
class Entry:
    r"""One (dataset, model) row: its grid points (one without a grid),
    their resolved configs and cells, and after running, the records."""
    dataset: str
    model: str
    overrides: List[str]
    points: List[List[str]]
    grid_size: int
    configs: List[Dict[str, Any]]
    out: Path
    grid_cells: List[Cell] = field(default_factory=list)
    seed_cells: List[Cell] = field(default_factory=list)
    grid_records: Dict[int, Dict[str, Any]] = field(default_factory=dict)
    seed_records: Dict[int, Dict[str, Any]] = field(default_factory=dict)
    selected: Optional[int] = None

    @property
    def has_grid(self) -> bool:
        return len(self.points) > 1


def plan(suite: Suite, out: Path, grid: bool = False, threads: int = 1
         ) -> List[Entry]:
    r"""Resolves every (dataset, model, grid point) configuration with
    :func:`~lirdrec_pyg.train.config.load_config`, so that a wrong key or
    value is an error before anything runs."""
    from lirdrec_pyg.models import model_hyperparameters
    from lirdrec_pyg.train.config import load_config
    from lirdrec_pyg.train.trainer import TrainConfig

    pairs = list(suite.set)
    if suite.protocol == 'cold_start':
        pairs.append(f'eval.cold_item_fraction={suite.cold_item_fraction}')
    per_model = split_overrides(pairs, suite.models)
    entries = []
    for dataset in suite.datasets:
        for model in suite.models:
            if grid:
                points, size = grid_points(search_space(model, suite),
                                           suite.budget_for(model),
                                           suite.grid_seed)
            else:
                points, size = [[]], 1
            configs = []
            for point in points:
                try:
                    config = load_config(model, dataset,
                                         overrides=[*per_model[model],
                                                    *point])
                    TrainConfig.from_dict(dict(config['train']))
                    unknown = sorted(set(config['model']) -
                                     set(model_hyperparameters(model)))
                    if unknown:
                        raise ValueError(f'unknown model key(s) {unknown}; '
                                         f'accepted: '
                                         f'{model_hyperparameters(model)}')
                except (ValueError, FileNotFoundError) as e:
                    where = f' grid point {point}' if point else ''
                    raise ValueError(f'{dataset}/{model}{where}: {e}') \
                        from None
                config['train']['threads'] = threads
                configs.append(config)
            entry = Entry(dataset, model, per_model[model], points, size,
                          configs, Path(out))
            if entry.has_grid:
                entry.grid_cells = [
                    make_cell(dataset, model, suite.seeds[0], cfg, out,
                              threads, point=i)
                    for i, cfg in enumerate(configs)]
            entries.append(entry)
    return entries


def select(entry: Entry, metric: str) -> Optional[int]:
    r"""The grid point with the best **validation** :obj:`metric` (the
    first on ties); :obj:`None` if no point finished."""
    best, best_score = None, None
    for i in range(len(entry.points)):
        record = entry.grid_records.get(i)
        if record is None or record['status'] not in OK:
            continue
        score = record['valid'][metric]
        if best_score is None or score > best_score:
            best, best_score = i, score
    return best


def entry_status(entry: Entry, seeds: Sequence[int]) -> Tuple[str, str]:
    r"""``(status, detail)`` of a row: ``n/a`` with the reason, ``failed``
    with the first error, ``incomplete`` (interrupted) or ``ok``."""
    records = [*entry.grid_records.values(), *entry.seed_records.values()]
    for record in records:
        if record['status'] == 'n/a':
            return 'n/a', record['reason']
    for record in records:
        if record['status'] == 'failed':
            return 'failed', record['error']
    done = [s for s in seeds if s in entry.seed_records]
    if len(done) < len(seeds):
        return 'incomplete', f'{len(done)} of {len(seeds)} seeds finished'
    return 'ok', ''


class Progress:
    r"""A tqdm bar over cells (with an estimate of the time left) whose
    postfix shows the running cells' latest epoch from their ``train.log``.
    """
    def __init__(self, total: int, enabled: Optional[bool] = None,
                 metric: str = 'Recall@20') -> None:
        from tqdm.auto import tqdm
        self.total, self.count, self.metric = total, 0, metric
        self.start = time.perf_counter()
        # disable=None: shown on a terminal only.
        self.bar = tqdm(total=total, desc='cells', unit='cell',
                        dynamic_ncols=True,
                        disable=None if enabled is None else not enabled)

    def tick(self, running: List[Cell]) -> None:
        shown = []
        for cell in running:
            epoch = _last_epoch(Path(cell.dir) / 'train.log')
            tail = f' epoch {epoch}' if epoch is not None else ''
            shown.append(f'{cell.model} s{cell.seed}{tail}')
        self.bar.set_postfix_str('; '.join(shown), refresh=True)

    def done(self, cell: Cell, record: Dict[str, Any]) -> None:
        self.bar.update(1)
        self.count += 1
        line = _line(cell, record, self.metric)
        if self.bar.disable:  # a log file: say how far, and the time left
            elapsed = time.perf_counter() - self.start
            left = elapsed / self.count * (self.total - self.count)
            line = (f'[{self.count}/{self.total}, {elapsed / 60:.1f} min, '
                    f'about {left / 60:.0f} min left] {line}')
        self.bar.write(line, file=sys.stderr)
        sys.stderr.flush()

    def skip(self, count: int) -> None:
        self.bar.update(count)
        self.total -= count

    def close(self) -> None:
        self.bar.close()


def _last_epoch(log: Path) -> Optional[int]:
    try:
        with open(log, 'rb') as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 400))
            tail = f.read().decode(errors='replace')
    except OSError:
        return None
    epochs = [line.split(' epoch ', 1)[1].split(' ', 1)[0]
              for line in tail.splitlines() if ' epoch ' in line]
    return int(epochs[-1]) if epochs and epochs[-1].isdigit() else None


def _line(cell: Cell, record: Dict[str, Any], metric: str) -> str:
    status = record['status']
    if status in OK:
        section = 'cold_start' if 'cold_start' in record else 'test'
        what = ' cold-start' if section == 'cold_start' else ''
        test = record[section].get(metric, math.nan)
        return (f"{cell.label}: {status}, valid {metric} "
                f"{record['valid'][metric]:.4f},{what} test {metric} "
                f"{test:.4f} (best epoch "
                f"{record['best_epoch']}, {record['seconds']:.0f} s)")
    detail = record.get('reason') or record.get('error')
    return f'{cell.label}: {status}: {detail}'


def run(entries: List[Entry], suite: Suite, executor: Any,
        progress: Optional[bool] = None) -> bool:
    r"""Runs the grid cells, selects each model's point on validation, then
    runs the seeds there. Records land in the entries as cells finish.

    Returns:
        :obj:`True` if interrupted (Ctrl-C): the entries then hold every
        finished cell, and a rerun continues from there.
    """
    total = sum(len(e.grid_cells) + len(suite.seeds) for e in entries)
    bar = Progress(total, progress, suite.metric)
    try:
        stage = [c for e in entries for c in e.grid_cells]
        by_key = {(e.dataset, e.model): e for e in entries}
        for cell, record in executor.run(stage, bar.tick):
            by_key[(cell.dataset, cell.model)].grid_records[cell.point] = \
                record
            bar.done(cell, record)
        stage = []
        for entry in entries:
            if entry.has_grid:
                entry.selected = select(entry, suite.metric)
                if entry.selected is None:
                    bar.skip(len(suite.seeds))
                    continue
            else:
                entry.selected = 0
            config = entry.configs[entry.selected]
            threads = config['train']['threads']
            entry.seed_cells = [
                make_cell(entry.dataset, entry.model, seed, config,
                          entry.out, threads)
                for seed in suite.seeds]
            stage.extend(entry.seed_cells)
        for cell, record in executor.run(stage, bar.tick):
            by_key[(cell.dataset, cell.model)].seed_records[cell.seed] = \
                record
            bar.done(cell, record)
    except KeyboardInterrupt:
        return True
    finally:
        bar.close()
    return False


def run_suite(suite: Suite, out: Path, executor: Any, grid: bool = False,
              threads: int = 1, progress: Optional[bool] = None,
              command: str = '', alpha: float = 0.05,
              plan_hash: str = '') -> Tuple[Dict[str, Any], int]:
    r"""Plans, runs and reports :obj:`suite` into :obj:`out`; returns the
    summary and the exit code (0; 1 if a cell failed; 130 if interrupted).
    A wrong setting raises :class:`ValueError` before anything runs."""
    from lirdrec_pyg.benchmark.report import summarise, write_summary

    started = time.time()
    entries = plan(suite, out, grid=grid, threads=threads)
    interrupted = run(entries, suite, executor, progress)
    summary = summarise(entries, suite, grid=grid, threads=threads,
                        executor=executor, command=command,
                        interrupted=interrupted, started=started,
                        alpha=alpha)
    summary['plan_hash'] = plan_hash
    write_summary(summary, out)
    failed = any(e['status'] == 'failed' for e in summary['entries'])
    code = 130 if interrupted else (1 if failed else 0)
    return summary, code
