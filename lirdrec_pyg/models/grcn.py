"""GRCN: graph refinement by content-preference agreement, then GCN."""
from typing import List, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import HeteroData

from lirdrec_pyg.models.base import (Recommender, train_edge_index,
                                     check_non_negative,
                                     check_positive, embedding_bpr_loss,
                                     require_modalities, squared_embedding_reg)
from lirdrec_pyg.models.registry import register_model
from lirdrec_pyg.nn.graph_conv import EdgeGraph, bipartite_edge_index


class GraphRefiner(torch.nn.Module):
    r"""The modality-specific part of GRCN's graph refining layer: learns the
    users' preference in one modality by routing, then scores every edge by
    how well its two ends agree in that modality.

    Item content :math:`\mathbf{f}_i = \mathrm{normalize}(\mathrm{LeakyReLU}(
    \mathbf{W}\mathbf{x}_i + \mathbf{b}))`; starting from a learnable
    :math:`\mathbf{p}_u`, :obj:`num_routing` iterations of

    .. math::
        \alpha_{ui} = \frac{\exp(\mathbf{p}_u^{\top}\mathbf{f}_i)}
        {\sum_{j \in \mathcal{N}(u)} \exp(\mathbf{p}_u^{\top}\mathbf{f}_j)},
        \qquad \mathbf{p}_u \leftarrow \mathrm{normalize}\Big(\mathbf{p}_u +
        \sum_{i \in \mathcal{N}(u)} \alpha_{ui} \mathbf{f}_i\Big)

    move the preference towards the content of the user's items. With
    :math:`\mathbf{c}_v` the preference of a user or the content of an item,
    the edge scores and the modality's content representation are

    .. math::
        s_{u \to v} = \frac{\exp(\mathbf{c}_v^{\top}\mathbf{c}_u)}
        {\sum_{w \in \mathcal{N}(v)} \exp(\mathbf{c}_v^{\top}\mathbf{c}_w)},
        \qquad \mathbf{z}_v = \mathbf{c}_v + \sum_{u \in \mathcal{N}(v)}
        s_{u \to v}\, \mathbf{c}_u,

    so an edge whose item content disagrees with the user's preference gets
    a low score.

    Args:
        feature_dim (int): Size of the modality features.
        num_users (int): The number of users.
        latent_dim (int): Size of :math:`\mathbf{p}_u` and
            :math:`\mathbf{f}_i`.
        num_routing (int): Routing iterations.
    """
    def __init__(self, feature_dim: int, num_users: int, latent_dim: int,
                 num_routing: int) -> None:
        super().__init__()
        self.num_routing = num_routing
        self.preference = torch.nn.Parameter(torch.empty(num_users,
                                                         latent_dim))
        self.mlp = torch.nn.Linear(feature_dim, latent_dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        torch.nn.init.xavier_normal_(self.preference)
        torch.nn.init.xavier_normal_(self.mlp.weight)
        torch.nn.init.zeros_(self.mlp.bias)

    def route(self, content: Tensor, item_to_user: EdgeGraph) -> Tensor:
        r"""The routed user preferences :math:`\mathbf{p}_u`."""
        pref = F.normalize(self.preference, dim=-1)
        for _ in range(self.num_routing):
            alpha = item_to_user.softmax(item_to_user.edge_dot(pref, content))
            pref = F.normalize(pref + item_to_user(content, alpha), dim=-1)
        return pref

    def forward(self, features: Tensor, item_to_user: EdgeGraph,
                graph: EdgeGraph) -> Tuple[Tensor, Tensor]:
        r"""Returns the content representation :math:`\mathbf{Z}` (users
        first) and the edge scores :math:`s` in :obj:`graph`'s edge order."""
        content = F.normalize(F.leaky_relu(self.mlp(features)), dim=-1)
        x = torch.cat([self.route(content, item_to_user), content], dim=0)
        score = graph.softmax(graph.edge_dot(x, x))
        return x + graph(x, score), score


@register_model('grcn')
class GRCN(Recommender):
    r"""GRCN from `"Graph-Refined Convolutional Network for Multimedia
    Recommendation with Implicit Feedback"
    <https://arxiv.org/abs/2111.02036>`_.
    Each modality :math:`m` scores the user-item edges by content-preference
    agreement :math:`s^m_{u \to v}` (:class:`GraphRefiner`); the scores are
    combined with learnable per-node modality confidences
    :math:`\mathbf{a}_u \in \mathbb{R}^M` and edges with a negative result are
    pruned,

    .. math::
        w_{u \to v} = \mathrm{ReLU}\Big(\max_{m} a_{u,m}\, s^m_{u \to v}\Big),

    and the ID embeddings are convolved on the refined graph,

    .. math::
        \mathbf{e}^{(0)} = \mathrm{normalize}(\mathbf{e}), \quad
        \mathbf{e}^{(l+1)}_v = \sum_{u \in \mathcal{N}(v)} w_{u \to v}\,
        \mathbf{e}^{(l)}_u, \quad \mathbf{h}_v = \mathbf{e}^{(0)}_v +
        \mathbf{e}^{(1)}_v + \mathbf{e}^{(2)}_v.

    The representation concatenates the ID part and every modality's content
    part, :math:`\mathbf{z}_v = \mathbf{h}_v \,\|\, \mathbf{z}^1_v \,\|\,
    \cdots \,\|\, \mathbf{z}^M_v`, and :math:`\hat{y}_{ui} =
    \mathbf{z}_u^{\top}\mathbf{z}_i`, for any number :math:`M` of modalities.
    The loss is BPR plus :math:`\lambda` times the reference toolbox's
    squared-norm penalty,

    .. math::
        \mathcal{R} = \overline{\mathbf{e}_u^2} + \tfrac{1}{2}\big(
        \overline{\mathbf{e}_{i^+}^2} + \overline{\mathbf{e}_{i^-}^2}\big) +
        \sum_m \overline{(\mathbf{p}^m_u)^2},

    the bar being the mean over the batch entries.

    Differences to the reference toolbox, whose routing step sends messages
    from users to items and so never updates the preferences: here users
    aggregate their items, as in the paper.

    Args:
        data (HeteroData): The dataset; needs at least one modality.
        embedding_dim (int, optional): ID embedding size.
            (default: :obj:`64`)
        latent_dim (int, optional): Size of preferences and content.
            (default: :obj:`64`)
        num_routing (int, optional): Routing iterations. (default: :obj:`3`)
        num_layers (int, optional): Convolutions on the refined graph.
            (default: :obj:`2`)
        reg_weight (float, optional): :math:`\lambda`. (default: :obj:`1e-4`)
    """
    def __init__(self, data: HeteroData, embedding_dim: int = 64,
                 latent_dim: int = 64, num_routing: int = 3,
                 num_layers: int = 2, reg_weight: float = 1e-4) -> None:
        super().__init__(data)
        check_positive('embedding_dim', embedding_dim)
        check_positive('latent_dim', latent_dim)
        check_non_negative('num_routing', num_routing)
        check_non_negative('num_layers', num_layers)
        check_non_negative('reg_weight', reg_weight)
        self.modalities: List[str] = require_modalities(data, 'GRCN')
        self.embedding_dim = embedding_dim
        self.num_layers = num_layers
        self.reg_weight = reg_weight
        n = self.num_users + self.num_items
        edge_index = train_edge_index(data)
        self.graph = EdgeGraph(bipartite_edge_index(edge_index,
                                                    self.num_users), n)
        self.item_to_user = EdgeGraph(edge_index.flip(0), self.num_items,
                                      self.num_users)
        self.id_embedding = torch.nn.Embedding(n, embedding_dim)
        self.confidence = torch.nn.Parameter(torch.empty(
            n, len(self.modalities)))
        self.refiners = torch.nn.ModuleDict()
        for m in self.modalities:
            feat = data['item'][m].float()
            self.register_buffer(f'feat_{m}', feat, persistent=False)
            self.refiners[m] = GraphRefiner(feat.size(1), self.num_users,
                                            latent_dim, num_routing)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        torch.nn.init.xavier_normal_(self.id_embedding.weight)
        torch.nn.init.xavier_normal_(self.confidence)
        for refiner in self.refiners.values():
            refiner.reset_parameters()

    def refine(self) -> Tuple[Tensor, List[Tensor]]:
        r"""The refined edge weights :math:`w` (in :obj:`self.graph`'s edge
        order) and the content representations of every modality."""
        contents, scores = [], []
        for m in self.modalities:
            z, s = self.refiners[m](getattr(self, f'feat_{m}'),
                                    self.item_to_user, self.graph)
            contents.append(z)
            scores.append(s)
        weight = torch.stack(scores, dim=-1) * self.confidence[self.graph.src]
        return weight.max(dim=-1).values.relu(), contents

    def forward(self) -> Tuple[Tensor, Tensor]:
        weight, contents = self.refine()
        x = F.normalize(self.id_embedding.weight, dim=-1)
        out = x
        for _ in range(self.num_layers):
            x = self.graph(x, weight)
            out = out + x
        z = torch.cat([out] + contents, dim=-1)
        return z[:self.num_users], z[self.num_users:]

    def loss(self, users: Tensor, pos_items: Tensor,
             neg_items: Tensor) -> Tensor:
        user_out, item_out = self.forward()
        rank = embedding_bpr_loss(user_out, item_out, users, pos_items,
                                  neg_items)
        ego = self.id_embedding.weight
        reg = squared_embedding_reg(ego, self.num_users, users, pos_items,
                                    neg_items)
        for refiner in self.refiners.values():
            reg = reg + refiner.preference[users].square().mean()
        return rank + self.reg_weight * reg

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.num_users}, '
                f'{self.num_items}, modalities={self.modalities}, '
                f'embedding_dim={self.embedding_dim}, '
                f'num_layers={self.num_layers})')
