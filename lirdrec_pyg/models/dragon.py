"""DRAGON: dual representations from heterogeneous and homogeneous graphs."""
import math
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import HeteroData

from lirdrec_pyg.models.base import (Recommender, check_positive,
                                     embedding_bpr_loss, require_modalities,
                                     with_modalities)
from lirdrec_pyg.models.registry import register_model
from lirdrec_pyg.nn.propagation import LightGCNPropagation, sparse_propagate
from lirdrec_pyg.transforms.adjacency import get_ui_adjacency
from lirdrec_pyg.transforms.cooccurrence import (get_user_graph,
                                                 user_graph_adjacency)
from lirdrec_pyg.transforms.knn_graph import get_item_graph


@register_model('dragon')
class DRAGON(Recommender):
    r"""DRAGON from `"Enhancing Dyadic Relations with Homogeneous Graphs for
    Multimodal Recommendation" <https://arxiv.org/abs/2301.12097>`_
    (Zhou et al., ECAI 2023).

    **Heterogeneous graph, per modality** :math:`m`: user preferences
    :math:`\mathbf{P}_m` and item features mapped by a two-layer MLP are
    L2-normalised row-wise and propagated on the user-item graph, keeping
    every layer:

    .. math::
        \mathbf{X}_m = \mathrm{norm}\begin{pmatrix}\mathbf{P}_m \\
        \mathrm{MLP}_m(\mathbf{F}_m)\end{pmatrix}, \qquad
        \mathbf{Z}_m = \sum_{l=0}^{L} \hat{\mathbf{A}}^{l}\mathbf{X}_m.

    **Attentive concatenation**: with per-user modality weights
    :math:`\boldsymbol{\omega}_u` (initialised by a softmax, then free),
    :math:`\mathbf{e}_u = \Vert_m\, \omega_{um}\mathbf{z}_{m,u}` and
    :math:`\mathbf{e}_i = \Vert_m\, \mathbf{z}_{m,i}`.

    **Homogeneous graphs**: the frozen item kNN graph :math:`\mathbf{S}`
    (:func:`~lirdrec_pyg.transforms.get_item_graph`, image weight 0.1 as in
    the reference) and the user co-occurrence graph :math:`\mathbf{G}` of the
    top-:math:`k_u` users by shared items with softmax weights
    (:func:`~lirdrec_pyg.transforms.user_graph_adjacency`):

    .. math::
        \mathbf{z}_u = \mathbf{e}_u + \sum_{v} G_{uv}\,\mathbf{e}_v, \qquad
        \mathbf{Z}_I = \mathbf{E}_I + \mathbf{S}^{L_m}\mathbf{E}_I,

    .. math::
        \mathcal{L} = -\frac{1}{|B|}\sum \log_2 \sigma(\hat{y}_{ui} -
        \hat{y}_{uj}) + \lambda\Big(\sum_m \overline{\mathbf{P}_{m,B}^2} +
        \overline{\boldsymbol{\omega}^2}\Big),

    with :math:`\overline{\cdot}` the mean over entries (the reference's
    regulariser). The paper uses image and text; here every modality of
    :obj:`data.modalities` gets its own branch, so the representation size
    is :math:`|\mathcal{M}| \cdot d`. As the reference code, the user graph
    uses no padding of users with fewer than :math:`k_u` neighbours by
    random repetition (they simply aggregate over fewer users), and the
    unused item-dropout edge sets of the reference are omitted.

    Args:
        data (HeteroData): The dataset (needs at least one modality).
        embedding_dim (int, optional): Size :math:`d` per modality.
            (default: :obj:`64`)
        knn_k (int, optional): Neighbours per item in :math:`\mathbf{S}`.
            (default: :obj:`10`)
        user_k (int, optional): Neighbours per user :math:`k_u` in
            :math:`\mathbf{G}`. (default: :obj:`40`)
        num_layers (int, optional): Propagation steps :math:`L` on the
            user-item graph. (default: :obj:`2`)
        num_mm_layers (int, optional): Steps :math:`L_m` on the item graph.
            (default: :obj:`1`)
        reg_weight (float, optional): :math:`\lambda`. (default: :obj:`1e-3`)
        modality_weights (dict[str, float], optional): Mixture of the item
            graph (default: :obj:`None`, ItemKNNGraph's default).
    """
    def __init__(self, data: HeteroData, embedding_dim: int = 64,
                 knn_k: int = 10, user_k: int = 40, num_layers: int = 2,
                 num_mm_layers: int = 1, reg_weight: float = 1e-3,
                 modality_weights: Optional[Dict[str, float]] = None) -> None:
        super().__init__(data)
        check_positive('embedding_dim', embedding_dim)
        check_positive('user_k', user_k)
        self.modalities: List[str] = require_modalities(data, 'DRAGON')
        self.embedding_dim = embedding_dim
        self.knn_k = knn_k
        self.user_k = user_k
        self.reg_weight = reg_weight
        num_mod = len(self.modalities)

        features: Dict[str, Tensor] = {
            m: data['item'][m].float() for m in self.modalities}
        for m, x in features.items():
            # Fixed inputs (the reference does not train them).
            self.register_graph(f'feature_{m}', x)
        self.preferences = torch.nn.ParameterDict({
            m: torch.nn.Parameter(torch.empty(self.num_users, embedding_dim))
            for m in self.modalities})
        self.mlps = torch.nn.ModuleDict({
            m: torch.nn.Sequential(
                torch.nn.Linear(x.size(1), 4 * embedding_dim),
                torch.nn.LeakyReLU(),
                torch.nn.Linear(4 * embedding_dim, embedding_dim))
            for m, x in features.items()})
        self.user_modality_weight = torch.nn.Parameter(
            torch.empty(self.num_users, num_mod))
        self.ui_propagation = LightGCNPropagation(num_layers, 'sum',
                                                  normalize=False)
        self.item_propagation = LightGCNPropagation(num_mm_layers, 'last',
                                                    normalize=False,
                                                    symmetric=False)

        self.register_graph('adj', get_ui_adjacency(data))
        self.register_graph('item_adj', get_item_graph(
            with_modalities(data, self.modalities), k=knn_k,
            modality_weights=modality_weights))
        edge_index, edge_weight = get_user_graph(data, k=user_k)
        self.register_graph('user_adj', user_graph_adjacency(
            edge_index, edge_weight, self.num_users, 'softmax'))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for p in self.preferences.values():
            torch.nn.init.xavier_normal_(p)
        for mlp in self.mlps.values():
            for layer in mlp:
                if isinstance(layer, torch.nn.Linear):
                    layer.reset_parameters()
        with torch.no_grad():
            weight = torch.empty_like(self.user_modality_weight)
            torch.nn.init.xavier_normal_(weight)
            self.user_modality_weight.copy_(torch.softmax(weight, dim=1))

    def forward(self) -> Tuple[Tensor, Tensor]:
        users, items = [], []
        for k, m in enumerate(self.modalities):
            item = self.mlps[m](getattr(self, f'feature_{m}'))
            x = F.normalize(torch.cat([self.preferences[m], item]), dim=-1)
            z = self.ui_propagation(x, self.adj)
            users.append(self.user_modality_weight[:, k:k + 1] *
                         z[:self.num_users])
            items.append(z[self.num_users:])
        user, item = torch.cat(users, dim=-1), torch.cat(items, dim=-1)
        user = user + sparse_propagate(user, self.user_adj, normalize=False,
                                       symmetric=False)
        item = item + self.item_propagation(item, self.item_adj)
        return user, item

    def loss(self, users: Tensor, pos_items: Tensor,
             neg_items: Tensor) -> Tensor:
        user_out, item_out = self.forward()
        # The reference takes log2 of the sigmoid: BPR scaled by 1 / ln 2.
        loss = embedding_bpr_loss(user_out, item_out, users, pos_items,
                                  neg_items) / math.log(2.0)
        if self.reg_weight != 0.0:
            reg = self.user_modality_weight.pow(2).mean()
            for p in self.preferences.values():
                reg = reg + p[users].pow(2).mean()
            loss = loss + self.reg_weight * reg
        return loss

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.num_users}, '
                f'{self.num_items}, embedding_dim={self.embedding_dim}, '
                f'modalities={self.modalities}, knn_k={self.knn_k}, '
                f'user_k={self.user_k})')
