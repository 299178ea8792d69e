import pytest

from lirdrec_pyg.benchmark.executors import DaskExecutor, SerialExecutor
from lirdrec_pyg.benchmark.runner import run_suite


def test_dask_cluster_gives_the_serial_table(tiny_suite, tmp_path):
    distributed = pytest.importorskip(
        'distributed', reason="the optional Dask executor: pip install "
        "'lirdrec-pyg[distributed]'")
    suite = tiny_suite(models=['bpr', 'popularity'], seeds=[0])
    serial, _ = run_suite(suite, tmp_path / 'serial', SerialExecutor(),
                          progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1,
                                  processes=True, dashboard_address=None,
                                  silence_logs=40) as cluster, \
            distributed.Client(cluster) as client:
        executor = DaskExecutor(client)
        assert executor.jobs == 2
        remote, code = run_suite(suite, tmp_path / 'dask', executor,
                                 progress=False)
    assert code == 0
    get = lambda s: {(r['model'], c['seed']): (c['status'], c['test'])
                     for r in s['entries'] for c in r['cells']}
    assert get(remote) == get(serial)
    assert remote['executor'].startswith('dask cluster')
