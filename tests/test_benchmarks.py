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
