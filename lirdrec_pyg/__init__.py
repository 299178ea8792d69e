"""lirdrec_pyg: LIRDRec and multimodal graph recommenders on PyTorch Geometric."""

__version__ = '0.1.0'
