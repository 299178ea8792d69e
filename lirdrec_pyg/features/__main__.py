"""``python -m lirdrec_pyg.features <command> ...``, see :mod:`.cli`."""
import sys

from lirdrec_pyg.features.cli import main

sys.exit(main())
