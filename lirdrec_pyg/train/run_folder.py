r"""Run folders that always describe the run that produced them.

A run folder (``lirdrec train --out DIR``) holds ``config.yaml`` (the
effective configuration), ``train.log``, ``checkpoint.pt``,
``best_model.pt`` and, once finished, ``results.json``. :class:`RunFolder`

* refuses a folder that holds another run unless told to overwrite it or to
  resume it;
* on resume, compares the saved configuration with the new one and refuses
  any difference outside :data:`~lirdrec_pyg.train.config.RESUMABLE_KEYS`
  (the allowed ones are applied and recorded under ``run.resumed``);
* holds an exclusive lock (:func:`fcntl.flock` on ``.lock``) for the run's
  lifetime, so a second concurrent run into the folder is refused; the kernel
  releases the lock when a process dies, so a killed run's lock file is
  recognised as stale and taken over;
* writes ``config.yaml`` atomically.
"""
import datetime
import os
import socket
from pathlib import Path
from typing import Any, Dict, List, Optional

import yaml

from lirdrec_pyg.io import PathLike, atomic_write
from lirdrec_pyg.train.config import RESUMABLE_KEYS, config_differences

try:  # POSIX; elsewhere runs go unlocked
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

CONFIG = 'config.yaml'
RESULTS = 'results.json'
LOCK = '.lock'
#: The files a run writes (what ``--overwrite`` removes; nothing else is).
RUN_FILES = (CONFIG, RESULTS, 'train.log', 'checkpoint.pt', 'best_model.pt',
             'per_user.npz')


class RunFolderError(ValueError):
    r"""A run folder that cannot be used as asked; the message names it and
    says what to pass instead."""


class RunFolder:
    r"""The output folder of one run (see the module docstring).

    Args:
        path (str or os.PathLike): The folder (created if missing).
    """
    def __init__(self, path: PathLike) -> None:
        self.path = Path(path)
        self._lock_file: Optional[Any] = None

    # -- locking ----------------------------------------------------------
    def acquire(self) -> None:
        r"""Takes the folder's exclusive lock or raises
        :class:`RunFolderError` naming the process that holds it."""
        if self.path.exists() and not self.path.is_dir():
            raise RunFolderError(f"--out '{self.path}' is a file, expected "
                                 f"a folder")
        self.path.mkdir(parents=True, exist_ok=True)
        if fcntl is None:  # pragma: no cover
            return
        lock = open(self.path / LOCK, 'a+')
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or 'another process'
            lock.close()
            raise RunFolderError(
                f"run folder '{self.path}' is in use by a running process "
                f"({holder}); wait for it to finish or choose another --out"
            ) from None
        # The lock is ours: a leftover holder line came from a killed run.
        lock.seek(0)
        lock.truncate()
        lock.write(f'pid {os.getpid()} on {socket.gethostname()}, since '
                   f'{datetime.datetime.now().isoformat(timespec="seconds")}'
                   '\n')
        lock.flush()
        self._lock_file = lock

    def release(self) -> None:
        if self._lock_file is not None:
            # The file stays (unlinking it would let a third process lock a
            # new inode while a second holds the old one); emptied, it reads
            # as free, and closing releases the flock.
            self._lock_file.seek(0)
            self._lock_file.truncate()
            self._lock_file.close()
            self._lock_file = None

    def __enter__(self) -> 'RunFolder':
        self.acquire()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.release()

    # -- content ----------------------------------------------------------
    def saved_config(self) -> Optional[Dict[str, Any]]:
        path = self.path / CONFIG
        if not path.is_file():
            return None
        try:
            cfg = yaml.safe_load(path.read_text())
        except yaml.YAMLError:
            cfg = None
        if not isinstance(cfg, dict):
            raise RunFolderError(f"'{path}' is not a run configuration; "
                                 f"pass --overwrite to replace the run")
        return cfg

    def holds_run(self) -> bool:
        r"""Whether a run trained here: a checkpoint or results exist (a run
        that failed while setting up left only its config and log)."""
        return any((self.path / name).exists()
                   for name in (RESULTS, 'checkpoint.pt', 'best_model.pt'))

    def describe(self) -> str:
        cfg = self.saved_config() or {}
        run = cfg.get('run') or {}
        what = (f"{run.get('model', '?')} on {run.get('dataset', '?')}"
                if run else 'a run')
        state = ('finished' if (self.path / RESULTS).exists()
                 else 'unfinished')
        return f'{what}, {state}'

    def prepare(self, config: Dict[str, Any], resume: bool = False,
                overwrite: bool = False) -> Dict[str, Any]:
        r"""Checks the folder against :obj:`config`, writes
        :obj:`config.yaml` and returns the configuration to run (on resume,
        with the history of allowed changes under ``run.resumed``).

        Raises :class:`RunFolderError` if the folder holds another run and
        neither :obj:`resume` nor :obj:`overwrite` is set, or if a resumed
        run's configuration differs in keys that may not change.
        """
        config = dict(config)
        if overwrite or not self.holds_run():
            for name in RUN_FILES:
                target = self.path / name
                if target.exists():
                    target.unlink()
        elif self.holds_run():
            saved = self.saved_config()
            if not resume:
                raise RunFolderError(
                    f"--out '{self.path}' already holds a run "
                    f"({self.describe()}); pass --resume to continue it, "
                    f"--overwrite to replace it, or choose another --out")
            if not (self.path / 'checkpoint.pt').exists():
                raise RunFolderError(
                    f"--resume of '{self.path}' refused: it holds no "
                    f"checkpoint.pt to resume from ({self.describe()}); pass "
                    f"--overwrite to start over, or choose another --out")
            if saved is not None:
                changes = config_differences(
                    saved, config,
                    sections=[s for s in ('run', 'model', 'train', 'data',
                                          'eval') if s in saved])
                changes.pop('run.resumed', None)
                refused = sorted(k for k in changes
                                 if k not in RESUMABLE_KEYS)
                if refused:
                    shown = '; '.join(f'{k}: {changes[k][0]!r} -> '
                                      f'{changes[k][1]!r}' for k in refused)
                    raise RunFolderError(
                        f"--resume of '{self.path}' refused: the "
                        f"configuration differs from the saved run in "
                        f"{shown}. Only {list(RESUMABLE_KEYS)} may change on "
                        f"resume; pass --overwrite to start over, or choose "
                        f"another --out")
                old, new = changes.get('train.epochs', (0, 0))
                if isinstance(old, int) and isinstance(new, int) and \
                        new < old:  # only fewer epochs can undercut
                    self._check_epochs(config)
                history: List[Dict[str, Any]] = list(
                    (saved.get('run') or {}).get('resumed') or [])
                if changes:
                    history.append({k: {'old': v[0], 'new': v[1]}
                                    for k, v in changes.items()})
                run = dict(config.get('run') or {})
                if history:
                    run['resumed'] = history
                config['run'] = run
        self.write_config(config)
        return config

    def _check_epochs(self, config: Dict[str, Any]) -> None:
        # Before config.yaml is rewritten: a refused resume leaves the
        # folder describing the run that is in it.
        from lirdrec_pyg.train.io import safe_torch_load

        epochs = (config.get('train') or {}).get('epochs')
        ckpt = self.path / 'checkpoint.pt'
        if epochs is None:
            return
        trained = safe_torch_load(ckpt, 'cpu', keys=('trainer', ))[
            'trainer'].get('epoch', 0)
        if trained > epochs:
            raise RunFolderError(
                f"checkpoint '{ckpt}' has trained {trained} epochs, more "
                f"than train.epochs={epochs}; resume with train.epochs >= "
                f"{trained}")

    def write_config(self, config: Dict[str, Any]) -> None:
        ordered = {k: config[k] for k in ('run', 'model', 'train', 'data',
                                          'eval') if k in config}
        ordered.update({k: v for k, v in config.items() if k not in ordered})
        atomic_write(self.path / CONFIG, lambda f: yaml.safe_dump(
            ordered, f, sort_keys=False), 'w')
