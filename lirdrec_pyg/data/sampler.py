r"""Negative sampling for the Bayesian personalised ranking (BPR) loss of
`"BPR: Bayesian Personalized Ranking from Implicit Feedback"
<https://arxiv.org/abs/1205.2618>`_."""
from typing import Tuple

import torch
from torch import Tensor


class BPRSampler:
    r"""Draws one :obj:`(user, positive item, negative item)` triple per
    training interaction, in a random order, the negative drawn uniformly
    from the items the user has not interacted with.

    Sampling is exact and vectorised, without rejection: with user
    :math:`u`'s training items sorted as :math:`s_0 < s_1 < \dots`, let
    :math:`g_j = s_j - j` be the number of non-interacted items below
    :math:`s_j`. The :math:`r`-th non-interacted item
    (:math:`r \sim \mathcal{U}\{0, \dots, I - d_u - 1\}`) is then

    .. math::
        r + \left|\{ j : g_j \le r \}\right|,

    and the count is one :obj:`torch.searchsorted` over the sorted keys
    :math:`u (I + 1) + g_j` of all users.

    Args:
        edge_index (torch.Tensor): Training interactions of shape
            :obj:`[2, E]` (row 0 users, row 1 items); duplicates are
            ignored.
        num_users (int): Number of users.
        num_items (int): Number of items.
    """
    def __init__(self, edge_index: Tensor, num_users: int,
                 num_items: int) -> None:
        if edge_index.dim() != 2 or edge_index.size(0) != 2:
            raise ValueError(f"'edge_index' must have shape [2, num_edges] "
                             f"(got {list(edge_index.shape)})")
        if edge_index.size(1) == 0:
            raise ValueError("'edge_index' holds no training interaction")
        self.num_users, self.num_items = int(num_users), int(num_items)
        edge_index = edge_index.long()
        if (int(edge_index[0].min()) < 0
                or int(edge_index[0].max()) >= self.num_users
                or int(edge_index[1].min()) < 0
                or int(edge_index[1].max()) >= self.num_items):
            raise ValueError(f"'edge_index' holds ids outside [0, "
                             f"{self.num_users}) x [0, {self.num_items})")
        key = torch.unique(edge_index[0] * self.num_items + edge_index[1])
        self.key = key  # sorted: user-major, then item
        self.users = key // self.num_items
        self.items = key % self.num_items

        self.degree = torch.bincount(self.users, minlength=self.num_users)
        full = (self.degree >= self.num_items).nonzero().view(-1)
        if full.numel() > 0:
            raise ValueError(
                f"User {int(full[0])} (and {full.numel() - 1} others) has "
                f"interacted with all {self.num_items} items, so no negative "
                f"item can be sampled; remove such users first")
        self.ptr = torch.cumsum(self.degree, 0) - self.degree
        rank = torch.arange(key.numel(), device=key.device)
        gaps = self.items - (rank - self.ptr[self.users])
        self._gap_key = self.users * (self.num_items + 1) + gaps

    def __len__(self) -> int:
        return self.key.numel()

    def contains(self, users: Tensor, items: Tensor) -> Tensor:
        r"""Returns whether each :obj:`(users[k], items[k])` is a training
        interaction."""
        query = users.long() * self.num_items + items.long()
        pos = torch.searchsorted(self.key, query).clamp_(max=len(self) - 1)
        return self.key[pos] == query

    def sample_negatives(self, users: Tensor,
                         generator: torch.Generator) -> Tensor:
        r"""Draws one negative item per entry of :obj:`users`, uniformly
        among the items that user has not interacted with."""
        free = self.num_items - self.degree[users]
        u = torch.rand(users.numel(), generator=generator,
                       dtype=torch.float64, device=users.device)
        r = torch.minimum((u * free).long(), free - 1)
        query = users * (self.num_items + 1) + r
        below = torch.searchsorted(self._gap_key, query, right=True)
        return r + below - self.ptr[users]

    def sample(self, generator: torch.Generator
               ) -> Tuple[Tensor, Tensor, Tensor]:
        r"""Returns :obj:`(users, pos_items, neg_items)`, one entry per
        training interaction in a random order; deterministic given the
        state of :obj:`generator`."""
        perm = torch.randperm(len(self), generator=generator,
                              device=self.key.device)
        users, pos = self.users[perm], self.items[perm]
        return users, pos, self.sample_negatives(users, generator)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num_users={self.num_users}, '
                f'num_items={self.num_items}, num_edges={len(self)})')
