"""FREEDOM: a frozen item-item graph plus a denoised user-item graph."""
from typing import Dict, Optional, Tuple

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from lirdrec_pyg.models.base import (Recommender, train_edge_index,
                                     check_fraction,
                                     check_positive, dot_bpr_loss,
                                     gather_triples, require_modalities,
                                     with_modalities)
from lirdrec_pyg.models.registry import register_model
from lirdrec_pyg.nn.propagation import LightGCNPropagation
from lirdrec_pyg.transforms.adjacency import get_ui_adjacency
from lirdrec_pyg.transforms.edge_dropout import (degree_sensitive_edge_weight,
                                                 dropped_ui_adjacency)
from lirdrec_pyg.transforms.knn_graph import get_item_graph


@register_model('freedom')
class FREEDOM(Recommender):
    r"""FREEDOM from `"A Tale of Two Graphs: Freezing and Denoising Graph
    Structures for Multimodal Recommendation"
    <https://arxiv.org/abs/2211.06924>`_ (Zhou & Shen, MM 2023).

    The item-item graph :math:`\mathbf{S} = \sum_m w_m \mathbf{S}_m` is built
    once from the raw features (a :math:`k`-NN cosine graph per modality,
    see :class:`~lirdrec_pyg.transforms.ItemKNNGraph`, whose default mixture
    gives the reference's image weight :math:`0.1` to the non-text modality)
    and frozen. Every epoch the user-item graph is pruned by
    :func:`~lirdrec_pyg.transforms.degree_sensitive_edge_dropout` (keeping a
    :math:`1-p` fraction of the edges, drawn with probability
    :math:`\propto 1/\sqrt{d_u d_i}`) and renormalised into
    :math:`\tilde{\mathbf{A}}`; evaluation uses the full graph
    :math:`\hat{\mathbf{A}}`:

    .. math::
        \mathbf{H}_I = \mathbf{S}^{L_m} \mathbf{E}_I, \qquad
        \begin{pmatrix}\mathbf{Z}_U \\ \mathbf{Z}'_I\end{pmatrix} =
        \frac{1}{L+1}\sum_{l=0}^{L} \tilde{\mathbf{A}}^{l}
        \begin{pmatrix}\mathbf{E}_U \\ \mathbf{E}_I\end{pmatrix}, \qquad
        \mathbf{Z}_I = \mathbf{Z}'_I + \mathbf{H}_I,

    .. math::
        \mathcal{L} = \mathcal{L}_{BPR}(\mathbf{Z}_U, \mathbf{Z}_I) +
        \lambda \sum_{m \in \mathcal{M}} \mathcal{L}_{BPR}(\mathbf{Z}_U,
        \mathbf{X}_m \mathbf{W}_m + \mathbf{b}_m),

    with :math:`\mathbf{X}_m` the item features of modality :math:`m`
    (trainable, initialised with the raw features, as in the reference code)
    and :math:`\mathbf{W}_m` a projection to the embedding size. The paper
    uses image and text; here every modality of :obj:`data.modalities` gets a
    kNN graph and a BPR term.

    Args:
        data (HeteroData): The dataset (needs at least one modality).
        embedding_dim (int, optional): Size of the ID embeddings and of the
            projected features. (default: :obj:`64`)
        knn_k (int, optional): Neighbours per item in :math:`\mathbf{S}`.
            (default: :obj:`10`)
        num_mm_layers (int, optional): Propagation steps :math:`L_m` on the
            item graph. (default: :obj:`1`)
        num_ui_layers (int, optional): LightGCN steps :math:`L` on the
            user-item graph. (default: :obj:`2`)
        reg_weight (float, optional): Weight :math:`\lambda` of the modality
            BPR terms. (default: :obj:`0.0`)
        dropout (float, optional): Fraction :math:`p` of user-item edges
            dropped each epoch. (default: :obj:`0.8`)
        modality_weights (dict[str, float], optional): Mixture :math:`w_m` of
            the item graph (default: :obj:`None`, the text-0.9 mixture of
            :func:`~lirdrec_pyg.transforms.knn_graph.default_modality_weights`
            ).
    """
    def __init__(self, data: HeteroData, embedding_dim: int = 64,
                 knn_k: int = 10, num_mm_layers: int = 1,
                 num_ui_layers: int = 2, reg_weight: float = 0.0,
                 dropout: float = 0.8,
                 modality_weights: Optional[Dict[str, float]] = None) -> None:
        super().__init__(data)
        check_positive('embedding_dim', embedding_dim)
        check_fraction('dropout', dropout)
        self.modalities = require_modalities(data, 'FREEDOM')
        self.embedding_dim = embedding_dim
        self.knn_k = knn_k
        self.reg_weight = reg_weight
        self.dropout = dropout

        self.user_emb = torch.nn.Embedding(self.num_users, embedding_dim)
        self.item_emb = torch.nn.Embedding(self.num_items, embedding_dim)
        self._raw_features = {m: data['item'][m].float()
                              for m in self.modalities}
        self.features = torch.nn.ParameterDict({
            m: torch.nn.Parameter(x.clone())
            for m, x in self._raw_features.items()})
        self.projections = torch.nn.ModuleDict({
            m: torch.nn.Linear(x.size(1), embedding_dim)
            for m, x in self._raw_features.items()})
        self.item_propagation = LightGCNPropagation(num_mm_layers, 'last',
                                                    normalize=False,
                                                    symmetric=False)
        self.ui_propagation = LightGCNPropagation(num_ui_layers, 'mean',
                                                  normalize=False)

        edge_index = train_edge_index(data)
        self.register_graph('item_adj', get_item_graph(
            with_modalities(data, self.modalities), k=knn_k,
            modality_weights=modality_weights))
        self.register_graph('adj', get_ui_adjacency(data))
        self.register_graph('edge_index', edge_index)
        self.register_graph('edge_weight', degree_sensitive_edge_weight(
            edge_index, self.num_users, self.num_items))
        self.register_graph('train_adj', None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        torch.nn.init.xavier_uniform_(self.user_emb.weight)
        torch.nn.init.xavier_uniform_(self.item_emb.weight)
        with torch.no_grad():
            for m, x in self._raw_features.items():
                self.features[m].copy_(x)
        for lin in self.projections.values():
            lin.reset_parameters()

    def on_epoch_start(self, epoch: int) -> None:
        r"""Draws this epoch's pruned user-item graph."""
        self.register_graph('train_adj', self._dropped_adjacency())

    def _dropped_adjacency(self) -> Tensor:
        if self.dropout == 0.0:
            return self.adj
        return dropped_ui_adjacency(self.edge_index, self.num_users,
                                    self.num_items, self.dropout,
                                    self.edge_weight)

    def forward(self, adj: Optional[Tensor] = None) -> Tuple[Tensor, Tensor]:
        r"""Representations on :obj:`adj` (default: the full graph)."""
        adj = self.adj if adj is None else adj
        h = self.item_propagation(self.item_emb.weight, self.item_adj)
        ego = torch.cat([self.user_emb.weight, self.item_emb.weight], dim=0)
        out = self.ui_propagation(ego, adj)
        return out[:self.num_users], out[self.num_users:] + h

    def loss(self, users: Tensor, pos_items: Tensor,
             neg_items: Tensor) -> Tensor:
        if self.train_adj is None:
            self.register_graph('train_adj', self._dropped_adjacency())
        user_out, item_out = self.forward(self.train_adj)
        u, p, n = gather_triples(user_out, item_out, users, pos_items,
                                 neg_items)
        loss = dot_bpr_loss(u, p, n)
        if self.reg_weight != 0.0:
            for m in self.modalities:
                feat = self.projections[m](self.features[m])
                loss = loss + self.reg_weight * dot_bpr_loss(
                    u, feat[pos_items], feat[neg_items])
        return loss

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.num_users}, '
                f'{self.num_items}, embedding_dim={self.embedding_dim}, '
                f'modalities={self.modalities}, knn_k={self.knn_k}, '
                f'dropout={self.dropout})')
