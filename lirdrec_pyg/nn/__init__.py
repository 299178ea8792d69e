"""Layers a PyG user imports into their own models."""
from lirdrec_pyg.nn.propagation import LightGCNPropagation, sparse_propagate

__all__ = ['LightGCNPropagation', 'sparse_propagate']
from lirdrec_pyg.nn.contrastive import cosine_alignment_loss, info_nce
__all__ += ['cosine_alignment_loss', 'info_nce']
