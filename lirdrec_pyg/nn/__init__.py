"""Layers a PyG user imports into their own models."""
from lirdrec_pyg.nn.propagation import LightGCNPropagation, sparse_propagate

__all__ = ['LightGCNPropagation', 'sparse_propagate']
