"""MGCN: multi-view graph convolution with behaviour-purified modalities."""
from typing import List, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import HeteroData

from lirdrec_pyg.models.base import (REG_DIVISORS, Recommender,
                                     check_one_of, check_positive,
                                     train_edge_index,
                                     dot_bpr_loss, gather_triples,
                                     require_modalities)
from lirdrec_pyg.models.registry import register_model
from lirdrec_pyg.nn.contrastive import info_nce
from lirdrec_pyg.nn.propagation import LightGCNPropagation, sparse_propagate
from lirdrec_pyg.transforms.adjacency import (csr_from_coo, get_ui_adjacency,
                                              interaction_matrix)
from lirdrec_pyg.transforms.knn_graph import knn_graph


def similarity_knn_graph(x: Tensor, k: int) -> Tensor:
    r"""MGCN's item-item graph: the :func:`knn_graph` neighbourhoods (the
    item itself included) weighted by cosine similarity, then normalised by
    the (directed) row sums,

    .. math::
        \mathbf{S} = \mathbf{D}^{-1/2} \left(\mathbf{A} \odot
        \mathbf{C}\right) \mathbf{D}^{-1/2}, \qquad
        \mathbf{D} = \mathrm{diag}\left((\mathbf{A} \odot \mathbf{C})
        \mathbf{1}\right),

    with :math:`\mathbf{C}` the cosine similarities. The result is not
    symmetric.

    Args:
        x (torch.Tensor): Item features of shape :obj:`[I, F]`.
        k (int): Neighbours per item.
    """
    graph = knn_graph(x, k, normalization='none')
    n = graph.size(0)
    row = torch.arange(n, device=x.device).repeat_interleave(
        graph.crow_indices().diff())
    col = graph.col_indices()
    x = F.normalize(x.detach().float(), dim=-1)
    sim = (x[row] * x[col]).sum(dim=-1)
    deg = torch.zeros(n, dtype=sim.dtype, device=x.device)
    deg.index_add_(0, row, sim)
    deg_inv_sqrt = torch.where(deg > 0, deg.clamp(min=1e-12).pow(-0.5),
                               torch.zeros_like(deg))
    value = deg_inv_sqrt[row] * sim * deg_inv_sqrt[col]
    return csr_from_coo(row, col, value, n, n)


def normalized_interactions(edge_index: Tensor, num_users: int,
                            num_items: int) -> Tensor:
    r"""The user-item block :math:`\mathbf{D}_U^{-1/2} \mathbf{R}
    \mathbf{D}_I^{-1/2}` of the normalised bipartite adjacency, as an
    :obj:`[U, I]` CSR tensor (:func:`interaction_matrix` with
    :obj:`normalization="sym"`)."""
    return interaction_matrix(edge_index, num_users, num_items, 'sym')


@register_model('mgcn')
class MGCN(Recommender):
    r"""MGCN from `"Multi-View Graph Convolutional Network for Multimedia
    Recommendation" <https://arxiv.org/abs/2308.03588>`_ (Yu et al., MM 2023).

    **Behaviour-guided purifier**: the projected features of modality
    :math:`m` gate the item ID embeddings,

    .. math::
        \dot{\mathbf{E}}_{I,m} = \mathbf{E}_I \odot
        \sigma\left((\mathbf{F}_m \mathbf{W}_m + \mathbf{b}_m)
        \mathbf{W}_{g,m} + \mathbf{b}_{g,m}\right).

    **Views**: the user-item view is LightGCN (mean of :math:`L_{ui}+1`
    layers) on the ID embeddings, :math:`\bar{\mathbf{E}}`; the item-item
    view propagates each purified modality :math:`L_{ii}` times on its
    similarity-weighted kNN graph :math:`\mathbf{S}_m`
    (:func:`similarity_knn_graph`) and gives users the normalised sum of
    their items,

    .. math::
        \mathbf{E}_{I,m} = \mathbf{S}_m^{L_{ii}} \dot{\mathbf{E}}_{I,m},
        \qquad \mathbf{E}_{U,m} = \mathbf{D}_U^{-1/2} \mathbf{R}
        \mathbf{D}_I^{-1/2} \mathbf{E}_{I,m}.

    **Behaviour-aware fuser**: attention over modalities gives the common
    part, and behaviour-dependent gates keep the specific parts,

    .. math::
        \alpha_m = \mathrm{softmax}_m\left(\mathbf{q}^{\top}
        \tanh(\mathbf{W}_q \mathbf{e}_m + \mathbf{b}_q)\right), \quad
        \mathbf{e}_c = \sum_m \alpha_m \mathbf{e}_m, \quad
        \tilde{\mathbf{e}}_m = \sigma(\mathbf{W}_{p,m} \bar{\mathbf{e}} +
        \mathbf{b}_{p,m}) \odot (\mathbf{e}_m - \mathbf{e}_c),

    .. math::
        \mathbf{e}_s = \frac{1}{|\mathcal{M}| + 1}\left(\mathbf{e}_c +
        \sum_m \tilde{\mathbf{e}}_m\right), \qquad
        \mathbf{e} = \bar{\mathbf{e}} + \mathbf{e}_s.

    **Loss**: BPR on :math:`\mathbf{e}`, the squared-norm regulariser of
    the reference on the batch,
    :math:`\frac{\lambda}{2|B|}(\lVert\mathbf{E}_{B_U}\rVert^2 +
    \lVert\mathbf{E}_{B^+}\rVert^2 + \lVert\mathbf{E}_{B^-}\rVert^2)`, and
    :math:`\lambda_{cl}` times the InfoNCE (temperature :math:`\tau`) between
    :math:`\mathbf{e}_s` and :math:`\bar{\mathbf{e}}` of the batch's users
    and positive items. As in the reference, the raw features are
    fine-tuned and the kNN graphs are built once from the raw features. The
    paper's image and text views generalise to any number of modalities
    (:obj:`data.modalities`).

    Args:
        data (HeteroData): The dataset, with at least one item modality.
        embedding_dim (int, optional): Size :math:`d`. (default: :obj:`64`)
        num_ui_layers (int, optional): :math:`L_{ui}`. (default: :obj:`2`)
        num_mm_layers (int, optional): :math:`L_{ii}`. (default: :obj:`1`)
        knn_k (int, optional): Neighbours per item in :math:`\mathbf{S}_m`.
            (default: :obj:`10`)
        reg_weight (float, optional): :math:`\lambda`. (default: :obj:`1e-4`)
        cl_weight (float, optional): :math:`\lambda_{cl}`.
            (default: :obj:`0.01`)
        temperature (float, optional): :math:`\tau`. (default: :obj:`0.2`)
        reg_divisor (str, optional): :math:`|B|` of the regulariser:
            :obj:`"nominal"`, the trainer's batch size even for the last,
            smaller batch of an epoch (the reference), or :obj:`"actual"`.
            (default: :obj:`"nominal"`)
    """
    def __init__(self, data: HeteroData, embedding_dim: int = 64,
                 num_ui_layers: int = 2, num_mm_layers: int = 1,
                 knn_k: int = 10, reg_weight: float = 1e-4,
                 cl_weight: float = 0.01, temperature: float = 0.2,
                 reg_divisor: str = 'nominal') -> None:
        super().__init__(data)
        check_positive('embedding_dim', embedding_dim)
        check_one_of('reg_divisor', reg_divisor, REG_DIVISORS)
        self.reg_divisor_mode = reg_divisor
        if not 1 <= knn_k <= self.num_items:
            raise ValueError(f"'knn_k' must lie in [1, {self.num_items}] "
                             f"(got {knn_k})")
        self.modalities = require_modalities(data, 'MGCN')
        self.embedding_dim = embedding_dim
        self.knn_k = knn_k
        self.reg_weight = reg_weight
        self.cl_weight = cl_weight
        self.temperature = temperature
        d = embedding_dim

        self.user_emb = torch.nn.Embedding(self.num_users, d)
        self.item_emb = torch.nn.Embedding(self.num_items, d)
        self.features = torch.nn.ParameterList([
            torch.nn.Parameter(data['item'][m].detach().float().clone())
            for m in self.modalities
        ])
        # Views of the dataset's tensors (no copy), for reset_parameters().
        self._raw_features = [data['item'][m] for m in self.modalities]
        self.projections = torch.nn.ModuleList([
            torch.nn.Linear(f.size(1), d) for f in self.features
        ])
        self.purify_gates = torch.nn.ModuleList([
            torch.nn.Linear(d, d) for _ in self.modalities
        ])
        self.prefer_gates = torch.nn.ModuleList([
            torch.nn.Linear(d, d) for _ in self.modalities
        ])
        self.query = torch.nn.Sequential(torch.nn.Linear(d, d),
                                         torch.nn.Tanh(),
                                         torch.nn.Linear(d, 1, bias=False))
        self.ui_propagation = LightGCNPropagation(num_ui_layers, 'mean',
                                                  normalize=False)
        self.ii_propagation = LightGCNPropagation(num_mm_layers, 'last',
                                                  normalize=False,
                                                  symmetric=False)
        self.register_graph('adj', get_ui_adjacency(data))
        self.register_graph('interactions', normalized_interactions(
            train_edge_index(data), self.num_users, self.num_items))
        for k, m in enumerate(self.modalities):
            self.register_graph(f'item_graph_{k}', similarity_knn_graph(
                data['item'][m], knn_k))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        torch.nn.init.xavier_uniform_(self.user_emb.weight)
        torch.nn.init.xavier_uniform_(self.item_emb.weight)
        for module in [*self.projections, *self.purify_gates,
                       *self.prefer_gates, self.query[0], self.query[2]]:
            module.reset_parameters()
        with torch.no_grad():
            for param, raw in zip(self.features, self._raw_features):
                param.copy_(raw.float())

    def purify(self) -> List[Tensor]:
        r"""The behaviour-purified item embeddings
        :math:`\dot{\mathbf{E}}_{I,m}`, one per modality."""
        return [
            self.item_emb.weight * torch.sigmoid(gate(proj(feat)))
            for feat, proj, gate in zip(self.features, self.projections,
                                        self.purify_gates)
        ]

    def fuse(self, content: Tensor,
             views: List[Tensor]) -> Tuple[Tensor, Tensor]:
        r"""The behaviour-aware fuser: returns the side embeddings
        :math:`\mathbf{e}_s` and the attention weights :math:`\alpha`."""
        scores = torch.cat([self.query(v) for v in views], dim=-1)
        alpha = torch.softmax(scores, dim=-1)
        common = (torch.stack(views, dim=-1) * alpha.unsqueeze(1)).sum(-1)
        side = common
        for view, gate in zip(views, self.prefer_gates):
            side = side + torch.sigmoid(gate(content)) * (view - common)
        return side / (len(views) + 1), alpha

    def embed(self) -> Tuple[Tensor, Tensor]:
        r"""The user-item view :math:`\bar{\mathbf{E}}` and the side
        embeddings :math:`\mathbf{E}_s`, users first."""
        x = torch.cat([self.user_emb.weight, self.item_emb.weight], dim=0)
        content = self.ui_propagation(x, self.adj)
        views = []
        for k, item in enumerate(self.purify()):
            item = self.ii_propagation(item, getattr(self,
                                                     f'item_graph_{k}'))
            user = sparse_propagate(item, self.interactions, normalize=False,
                                    symmetric=False)
            views.append(torch.cat([user, item], dim=0))
        side, _ = self.fuse(content, views)
        return content, side

    def forward(self) -> Tuple[Tensor, Tensor]:
        content, side = self.embed()
        out = content + side
        return out[:self.num_users], out[self.num_users:]

    def loss(self, users: Tensor, pos_items: Tensor,
             neg_items: Tensor) -> Tensor:
        content, side = self.embed()
        out = content + side
        user_out, item_out = out[:self.num_users], out[self.num_users:]
        u, p, n = gather_triples(user_out, item_out, users, pos_items,
                                 neg_items)
        rank = dot_bpr_loss(u, p, n)
        reg = 0.5 * (u.pow(2).sum() + p.pow(2).sum() + n.pow(2).sum())
        reg = reg / self.reg_divisor(users, self.reg_divisor_mode)
        items = self.num_users + pos_items
        cl = (info_nce(side[items], content[items], self.temperature) +
              info_nce(side[users], content[users], self.temperature))
        return rank + self.reg_weight * reg + self.cl_weight * cl

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.num_users}, '
                f'{self.num_items}, modalities={self.modalities}, '
                f'embedding_dim={self.embedding_dim}, knn_k={self.knn_k})')
