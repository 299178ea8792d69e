"""Comparisons researchers can trust: suites of datasets x models x seeds,
cells cached by their resolved configuration, grid selection on validation,
paired significance tests, and tables, CSV, JSON and plots.

``benchmarks/run.py`` is the command line (:func:`cli.main`).
"""
from lirdrec_pyg.benchmark.cells import Cell, config_hash, run_cell
from lirdrec_pyg.benchmark.runner import plan, run_suite, select
from lirdrec_pyg.benchmark.significance import compare, holm, paired_test
from lirdrec_pyg.benchmark.suite import Suite, load_suite

__all__ = ['Cell', 'config_hash', 'run_cell', 'plan', 'run_suite', 'select',
           'compare', 'holm', 'paired_test', 'Suite', 'load_suite']
