"""``python -m lirdrec_pyg.features <command> ...``, see :mod:`.cli`."""
import sys

from lirdrec_pyg.features.cli import main

# Guarded so that importing the module (as Sphinx's autosummary does) runs
# nothing.
if __name__ == '__main__':
    sys.exit(main())
