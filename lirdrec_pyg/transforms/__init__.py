"""PyG transforms: the normalised user-item adjacency, the item kNN graph."""
from lirdrec_pyg.transforms.adjacency import (
    UserItemAdjacency, bipartite_normalized_adjacency, get_ui_adjacency)

__all__ = ['UserItemAdjacency', 'bipartite_normalized_adjacency',
           'get_ui_adjacency']
