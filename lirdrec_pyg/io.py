"""Atomic file writes shared by every layer: a reader sees either the old or
the complete new file, never a partial one."""
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Union

PathLike = Union[str, os.PathLike]


def atomic_write(path: PathLike, write: Callable[[Any], Any],
                 mode: str = 'wb') -> None:
    r"""Calls :obj:`write(f)` on a temporary file next to :obj:`path` and
    renames it to :obj:`path` once complete.

    Args:
        path (str or os.PathLike): The destination; missing parent folders
            are created.
        write (callable): Writes the content to the open file object.
        mode (str, optional): The mode the temporary file is opened in,
            :obj:`"wb"` or :obj:`"w"`. (default: :obj:`"wb"`)
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A temporary file in the same folder, then os.replace: the rename is
    # atomic within one file system.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f'.{path.name}.',
                               suffix='.tmp')
    try:
        # mkstemp creates the file private (0600); give it the usual mode.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, mode) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
