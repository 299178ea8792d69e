import subprocess
import sys
import time

import pytest
import yaml

from lirdrec_pyg.train.run_folder import RunFolder, RunFolderError


def config(**train):
    return {'run': {'model': 'bpr', 'dataset': 'synthetic', 'seed': 1},
            'model': {'embedding_dim': 8},
            'train': {'epochs': 3, 'lr': 1e-3, 'threads': 1, **train},
            'data': {}, 'eval': {}}


def test_fresh_folder_gets_config(tmp_path):
    with RunFolder(tmp_path / 'run') as folder:
        folder.prepare(config())
    saved = yaml.safe_load((tmp_path / 'run' / 'config.yaml').read_text())
    assert saved['run']['model'] == 'bpr' and saved['model'] == {
        'embedding_dim': 8}
    assert list(saved) == ['run', 'model', 'train', 'data', 'eval']


def test_reused_folder_is_refused_unless_resume_or_overwrite(tmp_path):
    with RunFolder(tmp_path) as folder:
        folder.prepare(config())
        (tmp_path / 'results.json').write_text('{}')
        (tmp_path / 'checkpoint.pt').write_text('')
        (tmp_path / 'notes.txt').write_text('mine')
        with pytest.raises(RunFolderError, match=r"already holds a run "
                           r"\(bpr on synthetic, finished\); pass --resume"):
            folder.prepare(config())
        folder.prepare(config(lr=0.5), overwrite=True)
    assert not (tmp_path / 'results.json').exists()
    assert (tmp_path / 'notes.txt').read_text() == 'mine'  # not ours


def test_resume_refuses_changes_and_records_allowed_ones(tmp_path):
    with RunFolder(tmp_path) as folder:
        folder.prepare(config())
        (tmp_path / 'checkpoint.pt').write_text('')
        with pytest.raises(RunFolderError, match=r"train.lr: 0.001 -> 0.01"):
            folder.prepare(config(lr=1e-2), resume=True)
        changed = config(epochs=10, threads=2)
        out = folder.prepare(changed, resume=True)
    assert out['run']['resumed'] == [{
        'train.epochs': {'old': 3, 'new': 10},
        'train.threads': {'old': 1, 'new': 2}}]
    saved = yaml.safe_load((tmp_path / 'config.yaml').read_text())
    assert saved['train']['epochs'] == 10 and saved['run']['resumed']


def test_resume_with_another_process_count_is_recorded(tmp_path):
    one = config()
    one['run']['processes'] = 1
    with RunFolder(tmp_path) as folder:
        folder.prepare(one)
        (tmp_path / 'checkpoint.pt').write_text('')
        two = config()
        two['run']['processes'] = 2
        out = folder.prepare(two, resume=True)
    assert out['run']['processes'] == 2
    assert out['run']['resumed'] == [{'run.processes': {'old': 1, 'new': 2}}]


def test_other_model_is_refused_on_resume(tmp_path):
    with RunFolder(tmp_path) as folder:
        folder.prepare(config())
        (tmp_path / 'checkpoint.pt').write_text('')
        other = config()
        other['run'] = dict(other['run'], model='lightgcn')
        with pytest.raises(RunFolderError, match="run.model: 'bpr' -> "
                           "'lightgcn'"):
            folder.prepare(other, resume=True)


def test_concurrent_run_is_refused(tmp_path):
    first = RunFolder(tmp_path)
    first.acquire()
    try:
        with pytest.raises(RunFolderError, match=r"in use by a running "
                           r"process \(pid \d+"):
            RunFolder(tmp_path).acquire()
    finally:
        first.release()
    with RunFolder(tmp_path):  # free again
        pass


def test_lock_of_a_killed_run_is_stale(tmp_path):
    code = ('import sys, time; from lirdrec_pyg.train.run_folder import '
            'RunFolder; f = RunFolder(sys.argv[1]); f.acquire(); '
            'print("locked", flush=True); time.sleep(60)')
    proc = subprocess.Popen([sys.executable, '-c', code, str(tmp_path)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == 'locked'
        with pytest.raises(RunFolderError, match=f'pid {proc.pid}'):
            RunFolder(tmp_path).acquire()
    finally:
        proc.kill()
        proc.wait()
    # The killed run left its holder line behind; the lock is free.
    assert f'pid {proc.pid}' in (tmp_path / '.lock').read_text()
    deadline = time.time() + 10
    with RunFolder(tmp_path) as folder:
        assert time.time() < deadline
        assert f'pid {proc.pid}' not in (tmp_path / '.lock').read_text()
        assert folder.path == tmp_path


def test_out_that_is_a_file(tmp_path):
    (tmp_path / 'f').write_text('x')
    with pytest.raises(RunFolderError, match="is a file, expected a folder"):
        RunFolder(tmp_path / 'f').acquire()
