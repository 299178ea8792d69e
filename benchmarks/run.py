"""LIRDRec against the baselines: ``python benchmarks/run.py --help``.

The harness lives in :mod:`lirdrec_pyg.benchmark` (suites in
``benchmarks/suites/``); this file is its command line.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lirdrec_pyg.benchmark.cli import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
