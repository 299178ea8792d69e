"""LGMRec: local graph embeddings plus global hypergraph embeddings."""
from typing import List, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import HeteroData

from lirdrec_pyg.models.base import (Recommender, train_edge_index,
                                     check_positive,
                                     dot_bpr_loss, embedding_norm_loss,
                                     require_modalities)
from lirdrec_pyg.models.registry import register_model
from lirdrec_pyg.nn.contrastive import info_nce
from lirdrec_pyg.nn.propagation import LightGCNPropagation, sparse_propagate
from lirdrec_pyg.transforms.adjacency import (get_ui_adjacency,
                                              interaction_matrix)


def hypergraph_propagate(item_hyper: Tensor, user_hyper: Tensor,
                         item_emb: Tensor,
                         num_layers: int) -> Tuple[Tensor, Tensor]:
    r"""Message passing over soft hyperedges: items send their embeddings
    to the hyperedges, which send them back to items and users,

    .. math::
        \mathbf{Z}^{(l)} = \mathbf{H}_I^{\top} \mathbf{E}_I^{(l-1)}, \qquad
        \mathbf{E}_I^{(l)} = \mathbf{H}_I \mathbf{Z}^{(l)}, \qquad
        \mathbf{E}_U^{(l)} = \mathbf{H}_U \mathbf{Z}^{(l)},

    returning :math:`(\mathbf{E}_U^{(L)}, \mathbf{E}_I^{(L)})`. The
    incidence matrices are dense (:math:`A` hyperedges, a handful), so the
    cost is :math:`O((U + I) A d)` per layer.

    Args:
        item_hyper (torch.Tensor): Item-hyperedge weights :math:`[I, A]`.
        user_hyper (torch.Tensor): User-hyperedge weights :math:`[U, A]`.
        item_emb (torch.Tensor): Item embeddings :math:`[I, d]`.
        num_layers (int): :math:`L \geq 1`.
    """
    if num_layers < 1:
        raise ValueError(f"'num_layers' must be >= 1 (got {num_layers})")
    item = item_emb
    for _ in range(num_layers):
        latent = item_hyper.t() @ item
        item = item_hyper @ latent
        user = user_hyper @ latent
    return user, item


@register_model('lgmrec')
class LGMRec(Recommender):
    r"""LGMRec from `"LGMRec: Local and Global Graph Learning for Multimodal
    Recommendation" <https://arxiv.org/abs/2312.16400>`_ (Guo et al.,
    AAAI 2024).

    **Local graph embeddings.** The collaborative embeddings
    :math:`\mathbf{E}^{c}` are LightGCN (mean of :math:`L_c+1` layers) on
    the ID embeddings. Each modality :math:`m` is projected, users start
    from the mean of their items, and :math:`L_m` propagation steps give
    the modality embeddings (last layer):

    .. math::
        \mathbf{E}_{I,m}^{(0)} = \mathbf{F}_m \mathbf{W}_m, \quad
        \mathbf{E}_{U,m}^{(0)} = \mathbf{D}_U^{-1} \mathbf{R}
        \mathbf{E}_{I,m}^{(0)}, \quad
        \mathbf{E}_m = \hat{\mathbf{A}}^{L_m}
        \begin{pmatrix}\mathbf{E}_{U,m}^{(0)} \\
        \mathbf{E}_{I,m}^{(0)}\end{pmatrix}, \quad
        \mathbf{E}^{l} = \mathbf{E}^{c} + \sum_m
        \mathrm{norm}(\mathbf{E}_m).

    **Global hypergraph embeddings.** :math:`A` learnable hyperedges per
    modality; items are softly assigned from their features and users
    through their items,

    .. math::
        \mathbf{H}_{I,m} = \mathrm{GS}_{\tau}(\mathbf{F}_m \mathbf{V}_m),
        \quad \mathbf{H}_{U,m} = \mathrm{GS}_{\tau}(\mathbf{R}
        \mathbf{F}_m \mathbf{V}_m),

    with :math:`\mathrm{GS}_{\tau}` the Gumbel-softmax over hyperedges
    during training (its noise-free softmax at evaluation, so scores are
    deterministic), then dropped out (keep rate :math:`\rho`) and used by
    :func:`hypergraph_propagate` on the collaborative item embeddings,
    giving :math:`\mathbf{E}^{h}_m`. Finally

    .. math::
        \mathbf{E} = \mathbf{E}^{l} + \alpha\, \mathrm{norm}\left(\sum_m
        \mathbf{E}^{h}_m\right).

    **Loss**: BPR, :math:`\lambda_{cl}` times the hypergraph contrast of
    every pair of modalities :math:`m < n`, the summed InfoNCE
    (temperature :math:`\tau`) of the batch users' :math:`\mathbf{E}^h_{U,m}`
    against all users' :math:`\mathbf{E}^h_{U,n}` and likewise for the
    positive items, and :math:`\lambda` times the reference toolbox's norm
    regulariser on the batch's final embeddings. The paper's image/text pair
    generalises to all pairs of :obj:`data.modalities` (with one modality
    there is no contrast term). Raw features are frozen.

    Args:
        data (HeteroData): The dataset, with at least one item modality.
        embedding_dim (int, optional): Size :math:`d` of the ID and modality
            embeddings. (default: :obj:`64`)
        num_ui_layers (int, optional): :math:`L_c`. (default: :obj:`2`)
        num_mm_layers (int, optional): :math:`L_m`. (default: :obj:`2`)
        num_hyper_layers (int, optional): Hypergraph layers.
            (default: :obj:`1`)
        num_hyperedges (int, optional): :math:`A`. (default: :obj:`4`)
        keep_rate (float, optional): :math:`\rho`. (default: :obj:`0.5`)
        alpha (float, optional): :math:`\alpha`. (default: :obj:`0.3`)
        cl_weight (float, optional): :math:`\lambda_{cl}`.
            (default: :obj:`1e-4`)
        reg_weight (float, optional): :math:`\lambda`. (default: :obj:`1e-6`)
        temperature (float, optional): :math:`\tau`. (default: :obj:`0.2`)
    """
    def __init__(self, data: HeteroData, embedding_dim: int = 64,
                 num_ui_layers: int = 2, num_mm_layers: int = 2,
                 num_hyper_layers: int = 1, num_hyperedges: int = 4,
                 keep_rate: float = 0.5, alpha: float = 0.3,
                 cl_weight: float = 1e-4, reg_weight: float = 1e-6,
                 temperature: float = 0.2) -> None:
        super().__init__(data)
        check_positive('embedding_dim', embedding_dim)
        if num_hyper_layers < 1:
            raise ValueError(f"'num_hyper_layers' must be >= 1 "
                             f"(got {num_hyper_layers})")
        if num_hyperedges < 1:
            raise ValueError(f"'num_hyperedges' must be >= 1 "
                             f"(got {num_hyperedges})")
        if not 0 < keep_rate <= 1:
            raise ValueError(f"'keep_rate' must lie in (0, 1] "
                             f"(got {keep_rate})")
        check_positive('temperature', temperature)
        self.modalities = require_modalities(data, 'LGMRec')
        self.embedding_dim = embedding_dim
        self.num_hyper_layers = num_hyper_layers
        self.num_hyperedges = num_hyperedges
        self.keep_rate = keep_rate
        self.alpha = alpha
        self.cl_weight = cl_weight
        self.reg_weight = reg_weight
        self.temperature = temperature

        self.user_emb = torch.nn.Embedding(self.num_users, embedding_dim)
        self.item_emb = torch.nn.Embedding(self.num_items, embedding_dim)
        for m in self.modalities:
            self.register_buffer(f'feat_{m}', data['item'][m].float(),
                                 persistent=False)
        dims = [data['item'][m].size(1) for m in self.modalities]
        self.feat_proj = torch.nn.ParameterList([
            torch.nn.Parameter(torch.empty(dm, embedding_dim)) for dm in dims
        ])
        self.hyper_proj = torch.nn.ParameterList([
            torch.nn.Parameter(torch.empty(dm, num_hyperedges)) for dm in dims
        ])
        self.ui_propagation = LightGCNPropagation(num_ui_layers, 'mean',
                                                  normalize=False)
        self.mm_propagation = LightGCNPropagation(num_mm_layers, 'last',
                                                  normalize=False)

        self.register_graph('adj', get_ui_adjacency(data))
        self.register_graph('interactions', interaction_matrix(
            train_edge_index(data), self.num_users, self.num_items))
        user = train_edge_index(data)[0]
        deg = torch.bincount(user, minlength=self.num_users).float()
        self.register_buffer('user_inv_deg', 1.0 / (deg + 1e-7)[:, None],
                             persistent=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        torch.nn.init.xavier_uniform_(self.user_emb.weight)
        torch.nn.init.xavier_uniform_(self.item_emb.weight)
        for param in [*self.feat_proj, *self.hyper_proj]:
            torch.nn.init.xavier_uniform_(param)

    def _features(self) -> List[Tensor]:
        return [getattr(self, f'feat_{m}') for m in self.modalities]

    def _assign(self, logits: Tensor) -> Tensor:
        if self.training:
            soft = F.gumbel_softmax(logits, self.temperature, dim=1)
        else:
            soft = torch.softmax(logits / self.temperature, dim=1)
        return F.dropout(soft, 1.0 - self.keep_rate, self.training)

    def embed(self) -> Tuple[Tensor, List[Tuple[Tensor, Tensor]]]:
        r"""The final embeddings (users first) and the per-modality
        hypergraph embeddings :math:`(\mathbf{E}^h_{U,m},
        \mathbf{E}^h_{I,m})`."""
        x = torch.cat([self.user_emb.weight, self.item_emb.weight], dim=0)
        collab = self.ui_propagation(x, self.adj)
        feats = self._features()

        # All modalities side by side in one propagation (columns do not mix).
        items = torch.cat([f @ w for f, w in zip(feats, self.feat_proj)],
                          dim=1)
        users = sparse_propagate(items, self.interactions, normalize=False,
                                 symmetric=False)
        mm = self.mm_propagation(torch.cat([users * self.user_inv_deg, items]),
                                 self.adj)
        local = collab
        for part in mm.split(self.embedding_dim, dim=1):
            local = local + F.normalize(part, dim=1)

        hyper: List[Tuple[Tensor, Tensor]] = []
        item_collab = collab[self.num_users:]
        for f, v in zip(feats, self.hyper_proj):
            item_logits = f @ v
            user_logits = sparse_propagate(item_logits, self.interactions,
                                           normalize=False, symmetric=False)
            hyper.append(hypergraph_propagate(
                self._assign(item_logits), self._assign(user_logits),
                item_collab, self.num_hyper_layers))
        total = torch.stack([torch.cat(pair, dim=0) for pair in hyper]).sum(0)
        return local + self.alpha * F.normalize(total, dim=1), hyper

    def forward(self) -> Tuple[Tensor, Tensor]:
        out, _ = self.embed()
        return out[:self.num_users], out[self.num_users:]

    def loss(self, users: Tensor, pos_items: Tensor,
             neg_items: Tensor) -> Tensor:
        out, hyper = self.embed()
        u = out[users]
        p = out[self.num_users + pos_items]
        n = out[self.num_users + neg_items]
        rank = dot_bpr_loss(u, p, n)
        cl = u.new_zeros(())
        for a in range(len(hyper)):
            for b in range(a + 1, len(hyper)):
                (ua, ia), (ub, ib) = hyper[a], hyper[b]
                cl = cl + info_nce(ua[users], ub[users], self.temperature,
                                   candidates=ub, reduction='sum')
                cl = cl + info_nce(ia[pos_items], ib[pos_items],
                                   self.temperature, candidates=ib,
                                   reduction='sum')
        reg = embedding_norm_loss(u, p, n)
        return rank + self.cl_weight * cl + self.reg_weight * reg

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.num_users}, '
                f'{self.num_items}, modalities={self.modalities}, '
                f'embedding_dim={self.embedding_dim}, '
                f'num_hyperedges={self.num_hyperedges})')
