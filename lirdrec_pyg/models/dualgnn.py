"""DualGNN: per-modality user-item graphs and a user co-occurrence graph."""
import math
from typing import List, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import HeteroData

from lirdrec_pyg.models.base import (Recommender, check_non_negative,
                                     embedding_bpr_loss, require_modalities)
from lirdrec_pyg.models.registry import register_model
from lirdrec_pyg.nn.propagation import LightGCNPropagation, sparse_propagate
from lirdrec_pyg.transforms.adjacency import get_ui_adjacency
from lirdrec_pyg.transforms.cooccurrence import (get_user_graph,
                                                 user_graph_adjacency)


@register_model('dualgnn')
class DualGNN(Recommender):
    r"""DualGNN from `"DualGNN: Dual Graph Neural Network for Multimedia
    Recommendation" <https://doi.org/10.1109/TMM.2021.3138298>`_.

    *Single-modal representations.* For every modality :math:`m`, users
    start from a learnable preference :math:`\mathbf{P}_m` and items from
    their projected features, and both are propagated on the normalised
    user-item graph :math:`\hat{\mathbf{A}}`:

    .. math::
        \mathbf{X}_m = \mathrm{normalize}\begin{bmatrix} \mathbf{P}_m \\
        \mathrm{MLP}_m(\mathbf{F}_m) \end{bmatrix}, \qquad
        \mathbf{H}_m = \sum_{l=0}^{L} \hat{\mathbf{A}}^{l} \mathbf{X}_m,

    with :math:`\mathrm{MLP}_m(\mathbf{f}) = \mathbf{W}_2\,
    \mathrm{LeakyReLU}(\mathbf{W}_1 \mathbf{f} + \mathbf{b}_1) +
    \mathbf{b}_2` (hidden size :math:`4d`).

    *Multi-modal fusion.* Items sum their modalities; every user weighs them
    with learnable weights :math:`\beta_{u,m}` (initialised by a softmax),
    then adds its co-occurrence neighbours' fused representations (the
    user-user graph of :func:`~lirdrec_pyg.transforms.cooccurrence.
    user_cooccurrence_graph`: the :math:`k` users sharing the most items,
    weighted by a softmax over the counts :math:`C_{uv}`):

    .. math::
        \mathbf{z}_i = \sum_m \mathbf{h}_{m,i}, \qquad
        \tilde{\mathbf{z}}_u = \sum_m \beta_{u,m} \mathbf{h}_{m,u}, \qquad
        \mathbf{z}_u = \tilde{\mathbf{z}}_u + \sum_{v \in \mathcal{N}_k(u)}
        \frac{\exp C_{uv}}{\sum_{w \in \mathcal{N}_k(u)} \exp C_{uw}}
        \tilde{\mathbf{z}}_v,

    for any number :math:`M` of modalities (the paper has visual, acoustic
    and textual ones), and :math:`\hat{y}_{ui} = \mathbf{z}_u^{\top}
    \mathbf{z}_i`. The loss, as in the reference toolbox, is the BPR loss in
    base 2 plus :math:`\lambda` times squared-norm penalties,

    .. math::
        \mathcal{L} = -\frac{1}{|B|}\sum \log_2 \sigma(\hat{y}_{ui} -
        \hat{y}_{uj}) + \lambda \Big(\sum_m \overline{(\mathbf{p}^m_u)^2} +
        \overline{\boldsymbol{\beta}^2}\Big),

    the bar being the mean over the batch (or matrix) entries.

    Differences to the reference toolbox: the user graph keeps fewer than
    :math:`k` neighbours when a user has fewer co-occurring users (the
    toolbox pads by resampling them, which skews the softmax); the unused
    item-side fusion weights are left out.

    Args:
        data (HeteroData): The dataset; needs at least one modality.
        embedding_dim (int, optional): Size :math:`d` of the preferences and
            projected features. (default: :obj:`64`)
        num_layers (int, optional): Propagation steps :math:`L`.
            (default: :obj:`2`)
        k (int, optional): Neighbours per user in the user graph.
            (default: :obj:`40`)
        user_aggregation (str, optional): Weights of the user graph,
            :obj:`"softmax"` over the co-occurrence counts or
            :obj:`"mean"`. (default: :obj:`"softmax"`)
        reg_weight (float, optional): :math:`\lambda`. (default: :obj:`1e-4`)
    """
    def __init__(self, data: HeteroData, embedding_dim: int = 64,
                 num_layers: int = 2, k: int = 40,
                 user_aggregation: str = 'softmax',
                 reg_weight: float = 1e-4) -> None:
        super().__init__(data)
        if embedding_dim <= 0 or k <= 0:
            raise ValueError(f"'embedding_dim' and 'k' must be positive "
                             f"(got {embedding_dim} and {k})")
        check_non_negative('reg_weight', reg_weight)
        if user_aggregation not in ('softmax', 'mean'):
            raise ValueError(f"'user_aggregation' must be 'softmax' or "
                             f"'mean' (got '{user_aggregation}')")
        self.modalities: List[str] = require_modalities(data, 'DualGNN')
        self.embedding_dim = embedding_dim
        self.k = k
        self.reg_weight = reg_weight
        self.propagation = LightGCNPropagation(num_layers, combine='sum',
                                               normalize=False)
        self.register_graph('adj', get_ui_adjacency(data))
        edge_index, counts = get_user_graph(data, k)
        self.register_graph('user_adj', user_graph_adjacency(
            edge_index, counts, self.num_users, user_aggregation))
        self.preferences = torch.nn.ParameterDict()
        self.mlps = torch.nn.ModuleDict()
        for m in self.modalities:
            feat = data['item'][m].float()
            self.register_buffer(f'feat_{m}', feat, persistent=False)
            self.preferences[m] = torch.nn.Parameter(
                torch.empty(self.num_users, embedding_dim))
            self.mlps[m] = torch.nn.Sequential(
                torch.nn.Linear(feat.size(1), 4 * embedding_dim),
                torch.nn.LeakyReLU(),
                torch.nn.Linear(4 * embedding_dim, embedding_dim))
        self.modality_weight = torch.nn.Parameter(
            torch.empty(self.num_users, len(self.modalities)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for m in self.modalities:
            torch.nn.init.xavier_normal_(self.preferences[m])
            for layer in self.mlps[m]:
                if isinstance(layer, torch.nn.Linear):
                    layer.reset_parameters()
        weight = torch.empty_like(self.modality_weight)
        torch.nn.init.xavier_normal_(weight)
        with torch.no_grad():
            self.modality_weight.copy_(weight.softmax(dim=-1))

    def modality_representations(self) -> List[Tensor]:
        r"""The propagated :math:`\mathbf{H}_m` of every modality, users
        first."""
        out = []
        for m in self.modalities:
            items = self.mlps[m](getattr(self, f'feat_{m}'))
            x = F.normalize(torch.cat([self.preferences[m], items]), dim=-1)
            out.append(self.propagation(x, self.adj))
        return out

    def aggregate_users(self, user_rep: Tensor) -> Tensor:
        r"""Adds the co-occurrence neighbours' representations,
        :math:`\tilde{\mathbf{z}}_u + \sum_v S_{uv} \tilde{\mathbf{z}}_v`."""
        return user_rep + sparse_propagate(user_rep, self.user_adj,
                                           normalize=False, symmetric=False)

    def forward(self) -> Tuple[Tensor, Tensor]:
        reps = torch.stack(self.modality_representations(), dim=1)
        users, items = reps[:self.num_users], reps[self.num_users:]
        user_rep = (users * self.modality_weight.unsqueeze(-1)).sum(1)
        return self.aggregate_users(user_rep), items.sum(1)

    def loss(self, users: Tensor, pos_items: Tensor,
             neg_items: Tensor) -> Tensor:
        user_out, item_out = self.forward()
        rank = embedding_bpr_loss(user_out, item_out, users, pos_items,
                                  neg_items) / math.log(2)
        reg = self.modality_weight.square().mean()
        for m in self.modalities:
            reg = reg + self.preferences[m][users].square().mean()
        return rank + self.reg_weight * reg

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.num_users}, '
                f'{self.num_items}, modalities={self.modalities}, '
                f'embedding_dim={self.embedding_dim}, '
                f'num_layers={self.propagation.num_layers}, k={self.k})')
