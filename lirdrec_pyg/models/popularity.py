"""Most-popular ranking: the non-learning sanity floor."""
from typing import Tuple

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from lirdrec_pyg.models.base import Recommender, train_edge_index
from lirdrec_pyg.models.registry import register_model


@register_model('popularity')
class Popularity(Recommender):
    r"""Ranks items by their number of training interactions,

    .. math::
        \hat{y}_{ui} = |\{v : (v, i) \in \mathcal{R}_{train}\}|,

    the same list for every user (minus the user's own training items).

    Args:
        data (HeteroData): The dataset.
    """
    trainable = False

    def __init__(self, data: HeteroData) -> None:
        super().__init__(data)
        item = train_edge_index(data)[1]
        self.register_buffer(
            'item_count',
            torch.bincount(item, minlength=self.num_items).float())

    def forward(self) -> Tuple[Tensor, Tensor]:
        user = self.item_count.new_ones(self.num_users, 1)
        return user, self.item_count.view(-1, 1)

    def loss(self, users: Tensor, pos_items: Tensor,
             neg_items: Tensor) -> Tensor:
        raise RuntimeError("'Popularity' is not trained")

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num_users={self.num_users}, '
                f'num_items={self.num_items})')
