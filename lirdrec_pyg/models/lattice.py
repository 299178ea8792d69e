"""LATTICE: an item-item graph learned from projected modality features."""
from typing import Dict, List, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import HeteroData

from lirdrec_pyg.models.base import (REG_DIVISORS, Recommender,
                                     check_one_of, dot_bpr_loss,
                                     gather_triples, require_modalities,
                                     train_edge_index)
from lirdrec_pyg.models.registry import register_model
from lirdrec_pyg.nn.propagation import LightGCNPropagation
from lirdrec_pyg.transforms.adjacency import (bipartite_self_loop_adjacency,
                                              get_ui_adjacency)

UI_NORMALIZATIONS = ('self_loop_rw', 'sym')


def weighted_knn_graph(x: Tensor, k: int,
                       block_size: int = 2048) -> Tuple[Tensor, Tensor]:
    r"""The cosine :math:`k`-NN graph of the rows of :obj:`x` **weighted by
    the similarities** and differentiable with respect to :obj:`x` (unlike
    the binary, frozen :func:`~lirdrec_pyg.transforms.knn_graph`):

    .. math::
        A_{ij} = \cos(\mathbf{x}_i, \mathbf{x}_j) \,
        \mathbb{1}[j \in \operatorname{top-}k_{j'} \cos(\mathbf{x}_i,
        \mathbf{x}_{j'})].

    The neighbour selection runs without gradient in blocks of
    :obj:`block_size` rows; the :math:`N k` kept similarities are then
    recomputed with gradient. Each row counts itself among its neighbours.
    Returns :obj:`(edge_index, edge_weight)`, row :math:`i` of
    :obj:`edge_index[0]` holding the neighbours of :math:`i`.

    Args:
        x (torch.Tensor): Features :obj:`[N, F]`.
        k (int): Neighbours per row, :math:`1 \leq k \leq N`.
        block_size (int, optional): Rows per similarity block.
            (default: :obj:`2048`)
    """
    n = x.size(0)
    if not 1 <= k <= n:
        raise ValueError(f"'k' must lie in [1, {n}] for {n} rows (got {k})")
    x = F.normalize(x, p=2, dim=-1)
    with torch.no_grad():
        cols = [(x[s:s + block_size] @ x.t()).topk(k, dim=-1).indices
                for s in range(0, n, block_size)]
    col = torch.cat(cols).view(-1)
    row = torch.arange(n, device=x.device).repeat_interleave(k)
    return torch.stack([row, col]), (x[row] * x[col]).sum(-1)


def sym_normalize(edge_index: Tensor, edge_weight: Tensor, num_nodes: int,
                  eps: float = 1e-12) -> Tensor:
    r"""Weights of :math:`\mathbf{D}^{-1/2}\mathbf{A}\mathbf{D}^{-1/2}` with
    :math:`\mathbf{D}` the row sums of :math:`\mathbf{A}` (duplicate entries
    add up); rows summing to at most :obj:`eps` are zeroed."""
    row, col = edge_index
    deg = edge_weight.new_zeros(num_nodes).index_add(0, row, edge_weight)
    inv = torch.where(deg > eps, deg.clamp(min=eps).rsqrt(),
                      torch.zeros_like(deg))
    return inv[row] * edge_weight * inv[col]


@register_model('lattice')
class LATTICE(Recommender):
    r"""LATTICE from `"Mining Latent Structures for Multimedia
    Recommendation" <https://arxiv.org/abs/2104.09036>`_ (Zhang et al.,
    MM 2021), with the LightGCN backbone of the reference toolbox.

    With :math:`\mathrm{knn}` the similarity-weighted :math:`k`-NN graph
    (:func:`weighted_knn_graph`), :math:`\mathcal{N}` the symmetric
    normalisation (:func:`sym_normalize`) and :math:`\alpha =
    \mathrm{softmax}(\mathbf{a})` learned modality weights, the item graph

    .. math::
        \mathbf{S} = (1-\lambda)\, \mathcal{N}\Big(\sum_m \alpha_m
        \mathrm{knn}(\mathbf{X}_m \mathbf{W}_m + \mathbf{b}_m)\Big) +
        \lambda \sum_m \alpha_m
        \mathcal{N}\big(\mathrm{knn}(\mathbf{X}_m^{(0)})\big)

    mixes a graph learned from projected (trainable) features with the one of
    the raw features :math:`\mathbf{X}_m^{(0)}`. It is re-built at the first
    training batch of every epoch (gradients reach the projections and
    :math:`\mathbf{a}` through it) and reused, detached, by the other batches
    of the epoch; :meth:`inference` re-builds it from the current parameters.
    Items are propagated on it and users and items by LightGCN on the
    user-item adjacency :math:`\hat{\mathbf{A}}`:

    .. math::
        \mathbf{H}_I = \mathbf{S}^{L_m} \mathbf{E}_I, \qquad
        \mathbf{Z}_U, \mathbf{Z}'_I = \frac{1}{L+1}\sum_{l=0}^{L}
        \hat{\mathbf{A}}^{l} \mathbf{E}, \qquad
        \mathbf{Z}_I = \mathbf{Z}'_I +
        \frac{\mathbf{H}_I}{\lVert\mathbf{H}_I\rVert_2},

    .. math::
        \mathcal{L} = \mathcal{L}_{BPR} + \gamma \frac{1}{2|B|}\left(
        \lVert\mathbf{Z}_{U,B}\rVert_F^2 + \lVert\mathbf{Z}_{I,B^+}\rVert_F^2
        + \lVert\mathbf{Z}_{I,B^-}\rVert_F^2\right).

    The paper uses image and text; any number of modalities works, each
    with its own projection and softmax weight. As in the reference code,
    :math:`\hat{\mathbf{A}}` is by default the row-normalised adjacency with
    self-loops :math:`(\mathbf{D}+\mathbf{I})^{-1}(\mathbf{A}+\mathbf{I})`
    (:func:`~lirdrec_pyg.transforms.bipartite_self_loop_adjacency`), and the
    regulariser divides by the nominal batch size; the reference's
    learning-rate decay is the config's ``train.lr_decay``. Graphs are sparse
    rather than dense.

    Args:
        data (HeteroData): The dataset (needs at least one modality).
        embedding_dim (int, optional): Size of the ID embeddings.
            (default: :obj:`64`)
        feat_embed_dim (int, optional): Size of the projected features from
            which the graph is learned. (default: :obj:`64`)
        knn_k (int, optional): Neighbours per item. (default: :obj:`10`)
        lambda_coeff (float, optional): Weight :math:`\lambda` of the
            raw-feature graph. (default: :obj:`0.9`)
        num_mm_layers (int, optional): Steps :math:`L_m` on the item graph.
            (default: :obj:`1`)
        num_ui_layers (int, optional): LightGCN steps :math:`L`.
            (default: :obj:`2`)
        reg_weight (float, optional): :math:`\gamma`. (default: :obj:`0.0`)
        block_size (int, optional): Rows per similarity block.
            (default: :obj:`2048`)
        ui_normalization (str, optional): :math:`\hat{\mathbf{A}}`:
            :obj:`"self_loop_rw"` (the reference's
            :math:`(\mathbf{D}+\mathbf{I})^{-1}(\mathbf{A}+\mathbf{I})`) or
            :obj:`"sym"` (LightGCN's
            :math:`\mathbf{D}^{-1/2}\mathbf{A}\mathbf{D}^{-1/2}`).
            (default: :obj:`"self_loop_rw"`)
        reg_divisor (str, optional): :math:`|B|` of the regulariser:
            :obj:`"nominal"`, the trainer's batch size even for the last,
            smaller batch of an epoch (the reference), or :obj:`"actual"`.
            (default: :obj:`"nominal"`)
    """
    def __init__(self, data: HeteroData, embedding_dim: int = 64,
                 feat_embed_dim: int = 64, knn_k: int = 10,
                 lambda_coeff: float = 0.9, num_mm_layers: int = 1,
                 num_ui_layers: int = 2, reg_weight: float = 0.0,
                 block_size: int = 2048,
                 ui_normalization: str = 'self_loop_rw',
                 reg_divisor: str = 'nominal') -> None:
        super().__init__(data)
        check_one_of('ui_normalization', ui_normalization, UI_NORMALIZATIONS)
        check_one_of('reg_divisor', reg_divisor, REG_DIVISORS)
        self.ui_normalization = ui_normalization
        self.reg_divisor_mode = reg_divisor
        if embedding_dim <= 0 or feat_embed_dim <= 0:
            raise ValueError(f"'embedding_dim' and 'feat_embed_dim' must be "
                             f"positive (got {embedding_dim}, "
                             f"{feat_embed_dim})")
        if not 0.0 <= lambda_coeff <= 1.0:
            raise ValueError(f"'lambda_coeff' must lie in [0, 1] "
                             f"(got {lambda_coeff})")
        if not 1 <= knn_k <= self.num_items:
            raise ValueError(f"'knn_k' must lie in [1, {self.num_items}] "
                             f"(got {knn_k})")
        self.modalities: List[str] = require_modalities(data, 'LATTICE')
        self.embedding_dim = embedding_dim
        self.knn_k = knn_k
        self.lambda_coeff = lambda_coeff
        self.reg_weight = reg_weight
        self.block_size = block_size

        self.user_emb = torch.nn.Embedding(self.num_users, embedding_dim)
        self.item_emb = torch.nn.Embedding(self.num_items, embedding_dim)
        self._raw_features: Dict[str, Tensor] = {
            m: data['item'][m].float() for m in self.modalities}
        self.features = torch.nn.ParameterDict({
            m: torch.nn.Parameter(x.clone())
            for m, x in self._raw_features.items()})
        self.projections = torch.nn.ModuleDict({
            m: torch.nn.Linear(x.size(1), feat_embed_dim)
            for m, x in self._raw_features.items()})
        self.modal_weight = torch.nn.Parameter(torch.empty(
            len(self.modalities)))
        self.item_propagation = LightGCNPropagation(num_mm_layers, 'last',
                                                    normalize=False,
                                                    symmetric=False)
        symmetric = ui_normalization == 'sym'
        self.ui_propagation = LightGCNPropagation(
            num_ui_layers, 'mean', normalize=False,
            symmetric=None if symmetric else False)
        self.register_graph('adj', get_ui_adjacency(data) if symmetric else
                            bipartite_self_loop_adjacency(
                                train_edge_index(data), self.num_users,
                                self.num_items))
        for m, x in self._raw_features.items():
            edge_index, weight = weighted_knn_graph(x, knn_k, block_size)
            self.register_graph(f'original_{m}_index', edge_index)
            self.register_graph(f'original_{m}_weight', sym_normalize(
                edge_index, weight, self.num_items))
        self.register_graph('item_adj', None)
        self._rebuild = True
        self.reset_parameters()

    def reset_parameters(self) -> None:
        torch.nn.init.xavier_uniform_(self.user_emb.weight)
        torch.nn.init.xavier_uniform_(self.item_emb.weight)
        with torch.no_grad():
            for m, x in self._raw_features.items():
                self.features[m].copy_(x)
        for lin in self.projections.values():
            lin.reset_parameters()
        torch.nn.init.constant_(self.modal_weight, 1.0 / len(self.modalities))
        self._rebuild = True

    def build_item_graph(self) -> Tensor:
        r"""The mixed item graph :math:`\mathbf{S}` from the current
        parameters, as a sparse COO tensor (differentiable values)."""
        alpha = torch.softmax(self.modal_weight, dim=0)
        indices, learned, original = [], [], []
        for a, m in zip(alpha, self.modalities):
            proj = self.projections[m](self.features[m])
            edge_index, weight = weighted_knn_graph(proj, self.knn_k,
                                                    self.block_size)
            indices.append(edge_index)
            learned.append(a * weight)
        learned_index = torch.cat(indices, dim=1)
        learned_weight = sym_normalize(learned_index, torch.cat(learned),
                                       self.num_items)
        for a, m in zip(alpha, self.modalities):
            indices.append(getattr(self, f'original_{m}_index'))
            original.append(a * getattr(self, f'original_{m}_weight'))
        value = torch.cat([(1.0 - self.lambda_coeff) * learned_weight,
                           self.lambda_coeff * torch.cat(original)])
        return torch.sparse_coo_tensor(torch.cat(indices, dim=1), value,
                                       (self.num_items, self.num_items))

    def on_epoch_start(self, epoch: int) -> None:
        r"""Marks the item graph for re-building at the next batch."""
        self._rebuild = True

    def _item_graph(self) -> Tensor:
        if self._rebuild or self.item_adj is None:
            graph = self.build_item_graph()
            self.register_graph('item_adj', graph.detach())
            self._rebuild = False
            return graph
        return self.item_adj

    def forward(self) -> Tuple[Tensor, Tensor]:
        h = self.item_propagation(self.item_emb.weight, self._item_graph())
        ego = torch.cat([self.user_emb.weight, self.item_emb.weight], dim=0)
        out = self.ui_propagation(ego, self.adj)
        item = out[self.num_users:] + F.normalize(h, p=2, dim=-1)
        return out[:self.num_users], item

    @torch.no_grad()
    def inference(self) -> Tuple[Tensor, Tensor]:
        self._rebuild = True
        return self.forward()

    def loss(self, users: Tensor, pos_items: Tensor,
             neg_items: Tensor) -> Tensor:
        user_out, item_out = self.forward()
        u, p, n = gather_triples(user_out, item_out, users, pos_items,
                                 neg_items)
        loss = dot_bpr_loss(u, p, n)
        if self.reg_weight != 0.0:
            reg = (u.pow(2).sum() + p.pow(2).sum() + n.pow(2).sum()) / 2
            loss = loss + self.reg_weight * reg / self.reg_divisor(
                users, self.reg_divisor_mode)
        return loss

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.num_users}, '
                f'{self.num_items}, embedding_dim={self.embedding_dim}, '
                f'modalities={self.modalities}, knn_k={self.knn_k}, '
                f'lambda_coeff={self.lambda_coeff})')
