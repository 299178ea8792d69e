import json
import os

import pytest

from lirdrec_pyg.io import atomic_write


def test_atomic_write_text_mode_and_permissions(tmp_path):
    path = tmp_path / 'a' / 'b.json'
    atomic_write(path, lambda f: json.dump({'x': 1}, f), 'w')
    assert json.loads(path.read_text()) == {'x': 1}
    assert os.listdir(path.parent) == ['b.json']
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_atomic_write_failure_keeps_old_file(tmp_path):
    path = tmp_path / 'c.bin'
    atomic_write(path, lambda f: f.write(b'old'))

    def fail(f):
        f.write(b'partial')
        raise RuntimeError('boom')

    with pytest.raises(RuntimeError, match='boom'):
        atomic_write(path, fail)
    assert path.read_bytes() == b'old'
    assert os.listdir(tmp_path) == ['c.bin']
