"""Layers a PyG user imports into their own models."""
from lirdrec_pyg.nn.propagation import LightGCNPropagation, sparse_propagate

__all__ = ['LightGCNPropagation', 'sparse_propagate']
from lirdrec_pyg.nn.contrastive import cosine_alignment_loss, info_nce
__all__ += ['cosine_alignment_loss', 'info_nce']
from lirdrec_pyg.nn.dct import dct_2d, dct_ii  # noqa: E402
from lirdrec_pyg.nn.encoder import ModalityEncoder  # noqa: E402
from lirdrec_pyg.nn.fusion import PWCFusion  # noqa: E402
from lirdrec_pyg.nn.multimodal import MultimodalTransform  # noqa: E402

__all__ += ['dct_2d', 'dct_ii', 'ModalityEncoder', 'PWCFusion',
            'MultimodalTransform']
from lirdrec_pyg.nn.graph_conv import (  # noqa: E402
    EdgeGraph, bipartite_edge_index)

__all__ += ['EdgeGraph', 'bipartite_edge_index']
from lirdrec_pyg.nn.lightgcn import LightGCN  # noqa: E402

__all__ += ['LightGCN']
from lirdrec_pyg.nn.rows import gather_rows  # noqa: E402

__all__ += ['gather_rows']
