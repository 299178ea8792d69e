r"""PyG's :class:`torch_geometric.nn.models.LightGCN` on the library's
propagation layer."""
from typing import Any, Optional, Union

import torch
from torch import Tensor
from torch_geometric.nn.models import LightGCN as PyGLightGCN

from lirdrec_pyg.nn.propagation import LightGCNPropagation
from lirdrec_pyg.typing import Adj, OptTensor


class LightGCN(PyGLightGCN):
    r"""The LightGCN model from the `"LightGCN: Simplifying and Powering
    Graph Convolution Network for Recommendation"
    <https://arxiv.org/abs/2002.02126>`_ paper, with the interface of
    :class:`torch_geometric.nn.models.LightGCN` (:meth:`forward`,
    :meth:`get_embedding`, :meth:`predict_link`, :meth:`recommend`,
    :meth:`link_pred_loss`, :meth:`recommendation_loss`: all but
    :meth:`get_embedding` are PyG's own) and the propagation of
    :class:`~lirdrec_pyg.nn.LightGCNPropagation`,

    .. math::
        \mathbf{x}_i = \sum_{l=0}^{L} \alpha_l \mathbf{x}^{(l)}_i, \qquad
        \mathbf{x}^{(l+1)}_i = \sum_{j \in \mathcal{N}(i)}
        \frac{1}{\sqrt{\deg(i)\deg(j)}}\mathbf{x}^{(l)}_j.

    :obj:`edge_index` is what :class:`~torch_geometric.nn.conv.LGConv`
    takes (an undirected :obj:`edge_index` over users and items in one
    numbering, or a sparse adjacency); the normalised CSR adjacency of
    :func:`~lirdrec_pyg.transforms.get_ui_adjacency` is the fast input
    (users first, then items). With the default uniform :math:`\alpha` all
    layers run in one fused autograd node.

    Args:
        num_nodes (int): The number of nodes in the graph.
        embedding_dim (int): The dimensionality of node embeddings.
        num_layers (int): The number of propagation steps.
        alpha (float or torch.Tensor, optional): The layer weights
            :math:`\alpha_l`, a scalar or a vector of size
            :obj:`num_layers + 1`. (default: :obj:`None`,
            :obj:`1 / (num_layers + 1)` each)
        **kwargs (optional): :obj:`normalize` and :obj:`symmetric` of
            :class:`~lirdrec_pyg.nn.LightGCNPropagation`.
    """
    def __init__(self, num_nodes: int, embedding_dim: int, num_layers: int,
                 alpha: Optional[Union[float, Tensor]] = None,
                 **kwargs: Any) -> None:
        unknown = sorted(set(kwargs) - {'normalize', 'symmetric'})
        if unknown:
            raise ValueError(f"unknown argument(s) {unknown}; LightGCN "
                             f"accepts 'normalize' and 'symmetric' for its "
                             f"propagation")
        super().__init__(num_nodes, embedding_dim, num_layers, alpha)
        del self.convs  # replaced by one propagation module
        self.propagation = LightGCNPropagation(num_layers, 'mean', **kwargs)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        r"""Resets all learnable parameters of the module."""
        torch.nn.init.xavier_uniform_(self.embedding.weight)

    def get_embedding(self, edge_index: Adj,
                      edge_weight: OptTensor = None) -> Tensor:
        r"""Returns the embedding of nodes in the graph."""
        x = self.embedding.weight
        uniform = bool(torch.all(self.alpha == 1.0 / (self.num_layers + 1)))
        if uniform:
            return self.propagation(x, edge_index, edge_weight)
        layers = self.propagation.layers(x, edge_index, edge_weight)
        out = layers[0] * self.alpha[0]
        for alpha, h in zip(self.alpha[1:], layers[1:]):
            out = out + h * alpha
        return out
