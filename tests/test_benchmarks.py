import importlib.util
import json
from pathlib import Path

import pytest

from lirdrec_pyg.nn import kernels

SCRIPT = Path(__file__).resolve().parents[1] / 'benchmarks' / 'spmm.py'


@pytest.mark.real_data
@pytest.mark.skipif(not kernels.kernels_enabled(), reason='LIRDREC_KERNELS=0')
def test_spmm_benchmark_reports_identical_products(capsys):
    from lirdrec_pyg.data import DatasetNotFoundError, load_dataset
    try:
        load_dataset('lastfm2k')
    except DatasetNotFoundError as e:
        pytest.skip(str(e))
    spec = importlib.util.spec_from_file_location('spmm_benchmark', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(['--datasets', 'lastfm2k', '--widths', '64']) == 0
    report = json.loads(capsys.readouterr().out)
    assert report['threads'] >= 1
    row, = report['rows']
    assert row['nnz'] == 88654 and row['width'] == 64
    assert row['identical'] is True
    assert row['torch_ms'] > 0 and row['kernel_ms'] > 0


def test_gpu_check_dry_run_prints_one_json_line_per_figure():
    # The script CI runs: the GPU check's code on the CPU with a tiny graph.
    import os
    import subprocess
    import sys
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHON=sys.executable)
    out = subprocess.run([str(root / 'benchmarks' / 'gpu_check.sh'),
                          '--dry-run'], env=env, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    rows = [json.loads(line) for line in out.stdout.splitlines()
            if line.startswith('{')]
    tests, *epochs = rows
    assert tests['figure'] == 'cuda_tests' and tests['failed'] == 0
    assert [(r['model'], r['mode'], r['dataset'], r['device'])
            for r in epochs] == [
        ('lirdrec', 'full', 'tiny', 'cpu'), ('lightgcn', 'full', 'tiny', 'cpu'),
        ('lirdrec', 'sampled', 'tiny', 'cpu'),
        ('lightgcn', 'sampled', 'tiny', 'cpu')]
    for row in epochs:
        assert row['epoch_seconds'] > 0 and row['eval_seconds'] > 0
        assert row['steps_per_epoch'] >= 1 and row['peak_host_mib'] > 0
    assert [r['sampler_device'] for r in epochs[2:]] == ['cpu', 'cpu']
