"""``python -m lirdrec_pyg`` runs the ``lirdrec`` command line, which is what
``torchrun --nproc_per_node N -m lirdrec_pyg train ...`` starts in every
process."""
import sys

from lirdrec_pyg.cli import main

if __name__ == '__main__':
    sys.exit(main())
