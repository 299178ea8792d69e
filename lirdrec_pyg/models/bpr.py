"""Matrix factorisation trained with the BPR loss."""
from typing import Tuple

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from lirdrec_pyg.models.base import (Recommender, check_positive, dot_bpr_loss,
                                     embedding_norm_loss)
from lirdrec_pyg.models.registry import register_model


@register_model('bpr')
class BPR(Recommender):
    r"""Matrix factorisation from `"BPR: Bayesian Personalized Ranking from
    Implicit Feedback" <https://arxiv.org/abs/1205.2618>`_,

    .. math::
        \hat{y}_{ui} = \mathbf{p}_u^{\top} \mathbf{q}_i, \qquad
        \mathcal{L} = \mathcal{L}_{BPR} + \lambda \frac{1}{|B|}
        \left(\lVert\mathbf{P}_B\rVert_F + \lVert\mathbf{Q}_{B^+}\rVert_F +
        \lVert\mathbf{Q}_{B^-}\rVert_F\right),

    with the regulariser of the reference toolbox
    (:func:`~lirdrec_pyg.models.base.embedding_norm_loss`) and Xavier-normal
    initialisation.

    Args:
        data (HeteroData): The dataset.
        embedding_dim (int, optional): Size :math:`d` of the factors.
            (default: :obj:`64`)
        reg_weight (float, optional): :math:`\lambda`. (default: :obj:`1e-5`)

    Shardable (:meth:`shard`): there is no graph to split, so the processes
    only split the batch.
    """
    shardable = True

    def __init__(self, data: HeteroData, embedding_dim: int = 64,
                 reg_weight: float = 1e-5) -> None:
        super().__init__(data)
        check_positive('embedding_dim', embedding_dim)
        self.embedding_dim = embedding_dim
        self.reg_weight = reg_weight
        self.user_emb = torch.nn.Embedding(self.num_users, embedding_dim)
        self.item_emb = torch.nn.Embedding(self.num_items, embedding_dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        torch.nn.init.xavier_normal_(self.user_emb.weight)
        torch.nn.init.xavier_normal_(self.item_emb.weight)

    def forward(self) -> Tuple[Tensor, Tensor]:
        return self.user_emb.weight, self.item_emb.weight

    def loss(self, users: Tensor, pos_items: Tensor,
             neg_items: Tensor) -> Tensor:
        u = self.user_emb(users)
        p, n = self.item_emb(pos_items), self.item_emb(neg_items)
        rank = dot_bpr_loss(u, p, n, sharding=self.sharding)
        return rank + self.reg_weight * embedding_norm_loss(
            u, p, n, sharding=self.sharding)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.num_users}, '
                f'{self.num_items}, embedding_dim={self.embedding_dim})')
