"""VBPR: matrix factorisation with a content-based item factor."""
from typing import Tuple

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from lirdrec_pyg.models.base import (Recommender, check_non_negative,
                                     check_positive, dot_bpr_loss,
                                     embedding_norm_loss, gather_triples,
                                     require_modalities)
from lirdrec_pyg.models.registry import register_model


@register_model('vbpr')
class VBPR(Recommender):
    r"""VBPR from `"VBPR: Visual Bayesian Personalized Ranking from Implicit
    Feedback" <https://arxiv.org/abs/1510.01784>`_, in the bias-free form of
    the reference toolbox. The item factor is an ID embedding next to a linear
    projection of the item's content features, and the user factor is split
    the same way:

    .. math::
        \hat{y}_{ui} = \begin{bmatrix} \boldsymbol{\gamma}_u \\
        \boldsymbol{\theta}_u \end{bmatrix}^{\top}
        \begin{bmatrix} \boldsymbol{\gamma}_i \\ \mathbf{E}\mathbf{f}_i +
        \mathbf{b} \end{bmatrix} = \boldsymbol{\gamma}_u^{\top}
        \boldsymbol{\gamma}_i + \boldsymbol{\theta}_u^{\top}
        (\mathbf{E}\mathbf{f}_i + \mathbf{b}),

    with :math:`\mathbf{f}_i = \mathbf{f}_i^{(1)} \,\|\, \cdots \,\|\,
    \mathbf{f}_i^{(M)}` the concatenated features of all :math:`M`
    modalities (the paper has one visual modality; any number works). The
    loss is BPR (with the toolbox's :math:`\epsilon`, see :obj:`bpr_eps`) plus
    :math:`\lambda` times the toolbox's norm regulariser
    (:func:`~lirdrec_pyg.models.base.embedding_norm_loss`) on the batch's
    full user and item factors.

    Args:
        data (HeteroData): The dataset; needs at least one modality.
        embedding_dim (int, optional): Size :math:`d` of the ID part and of
            the content part, so factors have size :math:`2d`.
            (default: :obj:`64`)
        reg_weight (float, optional): :math:`\lambda`. (default: :obj:`1e-3`)
        normalize_features (bool, optional): L2-normalise each modality's
            rows before concatenating them. Off in the paper and the
            reference toolbox; needed for unnormalised features such as
            lastfm2k's audio (row norms around 1,500 saturate the
            projection). (default: :obj:`False`)
        bpr_eps (float, optional): :math:`\epsilon` of the BPR loss
            :math:`-\log(\epsilon + \sigma(\cdot))`
            (:func:`~lirdrec_pyg.models.base.bpr_loss`). The reference
            toolbox's :math:`10^{-10}` stops the gradient of triples whose
            negative outscores the positive by more than about 23, which
            unnormalised features reach; :obj:`0.0` keeps every gradient.
            (default: :obj:`1e-10`)
    """
    def __init__(self, data: HeteroData, embedding_dim: int = 64,
                 reg_weight: float = 1e-3,
                 normalize_features: bool = False,
                 bpr_eps: float = 1e-10) -> None:
        super().__init__(data)
        check_positive('embedding_dim', embedding_dim)
        check_non_negative('reg_weight', reg_weight)
        check_non_negative('bpr_eps', bpr_eps)
        self.bpr_eps = bpr_eps
        self.embedding_dim = embedding_dim
        self.reg_weight = reg_weight
        modalities = require_modalities(data, 'VBPR')
        self.modalities = modalities
        self.normalize_features = normalize_features
        blocks = [data['item'][m].float() for m in modalities]
        if normalize_features:
            blocks = [torch.nn.functional.normalize(x, dim=-1) for x in blocks]
        features = torch.cat(blocks, dim=-1)
        self.register_buffer('features', features, persistent=False)
        self.user_emb = torch.nn.Embedding(self.num_users, 2 * embedding_dim)
        self.item_emb = torch.nn.Embedding(self.num_items, embedding_dim)
        self.item_linear = torch.nn.Linear(features.size(1), embedding_dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        torch.nn.init.xavier_uniform_(self.user_emb.weight)
        torch.nn.init.xavier_uniform_(self.item_emb.weight)
        torch.nn.init.xavier_normal_(self.item_linear.weight)
        torch.nn.init.zeros_(self.item_linear.bias)

    def forward(self) -> Tuple[Tensor, Tensor]:
        content = self.item_linear(self.features)
        return self.user_emb.weight, torch.cat([self.item_emb.weight,
                                                content], dim=-1)

    def loss(self, users: Tensor, pos_items: Tensor,
             neg_items: Tensor) -> Tensor:
        user_out, item_out = self.forward()
        u, p, n = gather_triples(user_out, item_out, users, pos_items,
                                 neg_items)
        rank = dot_bpr_loss(u, p, n, eps=self.bpr_eps)
        return rank + self.reg_weight * embedding_norm_loss(u, p, n)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.num_users}, '
                f'{self.num_items}, embedding_dim={self.embedding_dim}, '
                f'feature_dim={self.features.size(1)})')
