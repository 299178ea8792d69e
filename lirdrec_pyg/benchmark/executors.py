"""Where cells run: in this process, in N local processes, or on a Dask
cluster across machines.

Every executor takes a list of :class:`~lirdrec_pyg.benchmark.cells.Cell`
and yields ``(cell, record)`` as cells finish (in any order), calling
:obj:`tick(running_cells)` about once a second while it waits so that the
caller can show progress. A cell's result depends only on the cell (its
config and seed), so the executor does not change the table.
"""
import asyncio
import multiprocessing
import queue
import signal
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, \
    Tuple

from lirdrec_pyg.benchmark.cells import Cell, run_cell

Tick = Callable[[List[Cell]], None]
Finished = Iterator[Tuple[Cell, Dict[str, Any]]]


class SerialExecutor:
    r"""Runs the cells one after the other in this process; the running
    cell shows its own epoch progress bar when :obj:`progress` is set."""
    jobs = 1

    def __init__(self, progress: bool = False) -> None:
        self.progress = progress

    def run(self, cells: Sequence[Cell], tick: Optional[Tick] = None
            ) -> Finished:
        for cell in cells:
            if tick is not None:
                tick([cell])
            yield cell, run_cell(cell, progress=self.progress)

    def describe(self) -> str:
        return 'serial (this process)'


def _ignore_sigint() -> None:
    # Ctrl-C reaches the whole process group: the parent decides, and
    # terminates the workers (their checkpoints are written atomically).
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class ProcessExecutor:
    r"""Runs the cells in :obj:`jobs` processes on this machine, started
    with ``spawn`` (each loads a dataset once for its cells)."""
    def __init__(self, jobs: int) -> None:
        if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
            raise ValueError(f"--jobs must be a positive integer (got "
                             f"{jobs!r})")
        self.jobs = jobs

    def run(self, cells: Sequence[Cell], tick: Optional[Tick] = None
            ) -> Finished:
        if not cells:
            return
        done: 'queue.Queue[Tuple[Cell, Any]]' = queue.Queue()
        context = multiprocessing.get_context('spawn')
        pool = context.Pool(self.jobs, initializer=_ignore_sigint)
        try:
            for cell in cells:
                pool.apply_async(
                    run_cell, (cell, ),
                    callback=lambda r, c=cell: done.put((c, r)),
                    error_callback=lambda e, c=cell: done.put((c, e)))
            pending = list(cells)
            while pending:
                try:
                    cell, result = done.get(timeout=1.0)
                except queue.Empty:
                    if tick is not None:
                        tick(pending[:self.jobs])
                    continue
                pending.remove(cell)
                if isinstance(result, BaseException):
                    result = _crashed(cell, result)
                yield cell, result
            pool.close()
        finally:
            pool.terminate()
            pool.join()

    def describe(self) -> str:
        return f'{self.jobs} local processes'


class DaskExecutor:
    r"""Runs the cells on a `Dask <https://distributed.dask.org>`_ cluster:
    start ``dask scheduler`` on one machine and ``dask worker ADDRESS
    --nthreads 1`` on each (with this package installed and ``OUT`` on a
    file system they share), then pass ``--scheduler ADDRESS``.

    Args:
        address (str or distributed.Client): The scheduler address, or a
            client (tests pass one of a :class:`distributed.LocalCluster`).
    """
    def __init__(self, address: Any) -> None:
        try:
            from distributed import Client
        except ImportError:
            raise ImportError("--scheduler needs Dask: pip install "
                              "'lirdrec-pyg[distributed]'") from None
        self.client = address if isinstance(address, Client) else \
            Client(address)
        self.jobs = sum(self.client.nthreads().values())

    def run(self, cells: Sequence[Cell], tick: Optional[Tick] = None
            ) -> Finished:
        from distributed import wait
        futures = {self.client.submit(run_cell, cell, pure=False): cell
                   for cell in cells}
        pending = set(futures)
        try:
            while pending:
                try:
                    result = wait(list(pending), timeout=1.0,
                                  return_when='FIRST_COMPLETED')
                    finished, pending = set(result.done), set(
                        result.not_done)
                except (TimeoutError, asyncio.TimeoutError):
                    finished = set()
                for future in finished:
                    cell = futures[future]
                    if future.status == 'error':
                        yield cell, _crashed(cell, future.exception())
                    else:
                        yield cell, future.result()
                if tick is not None:
                    tick([futures[f] for f in pending][:self.jobs])
        finally:
            for future in pending:
                future.cancel()

    def describe(self) -> str:
        return f'dask cluster {self.client.scheduler.address}'


def _crashed(cell: Cell, error: BaseException) -> Dict[str, Any]:
    # The worker process died or could not unpickle the result (run_cell
    # itself records every error of a run).
    return {'dataset': cell.dataset, 'model': cell.model, 'seed': cell.seed,
            'point': cell.point, 'key': cell.key, 'dir': cell.dir,
            'status': 'failed', 'seconds': 0.0,
            'error': f'{type(error).__name__}: {error}'}


def make_executor(jobs: int = 1, scheduler: Optional[str] = None,
                  progress: bool = False) -> Any:
    if scheduler is not None:
        return DaskExecutor(scheduler)
    if jobs == 1:
        return SerialExecutor(progress=progress)
    return ProcessExecutor(jobs)
