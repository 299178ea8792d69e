r"""Negative sampling for the Bayesian personalised ranking (BPR) loss of
`"BPR: Bayesian Personalized Ranking from Implicit Feedback"
<https://arxiv.org/abs/1205.2618>`_."""
from typing import TYPE_CHECKING, Optional, Tuple

import torch
from torch import Tensor

if TYPE_CHECKING:
    from torch_geometric.data import HeteroData


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

    With a negative pool :math:`\mathcal{C}` (e.g. the items that occur in
    the training split, as the MMRec toolbox draws them), the same
    construction runs on the positions of the items within the sorted pool
    and maps back: negatives are uniform over
    :math:`\mathcal{C} \setminus \mathcal{I}_u`.

    Args:
        edge_index (torch.Tensor): Training interactions of shape
            :obj:`[2, E]` (row 0 users, row 1 items); duplicates are
            ignored.
        num_users (int): Number of users.
        num_items (int): Number of items.
        negative_items (torch.Tensor, optional): The item ids negatives are
            drawn from (:obj:`None`: all items). (default: :obj:`None`)
    """
    def __init__(self, edge_index: Tensor, num_users: int,
                 num_items: int,
                 negative_items: Optional[Tensor] = None) -> None:
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

        if negative_items is None:
            self.pool = None
            pool_size = self.num_items
            pool_users, pool_pos = self.users, self.items
        else:
            self.pool = torch.unique(negative_items.long().to(key.device))
            if self.pool.numel() == 0 or int(self.pool[0]) < 0 or int(
                    self.pool[-1]) >= self.num_items:
                raise ValueError(f"'negative_items' must hold item ids in "
                                 f"[0, {self.num_items}) and not be empty")
            pool_size = self.pool.numel()
            # Positions of the user's items inside the pool; items outside
            # the pool can never be drawn and need no exclusion.
            pos = torch.searchsorted(self.pool, self.items).clamp_(
                max=pool_size - 1)
            inside = self.pool[pos] == self.items
            pool_users, pool_pos = self.users[inside], pos[inside]
        self.pool_size = pool_size

        self.degree = torch.bincount(pool_users, minlength=self.num_users)
        full = (self.degree >= pool_size).nonzero().view(-1)
        if full.numel() > 0:
            raise ValueError(
                f"User {int(full[0])} (and {full.numel() - 1} others) has "
                f"interacted with all {pool_size} items of the negative "
                f"pool, so no negative item can be sampled; remove such "
                f"users first")
        self.ptr = torch.cumsum(self.degree, 0) - self.degree
        rank = torch.arange(pool_users.numel(), device=key.device)
        gaps = pool_pos - (rank - self.ptr[pool_users])
        self._gap_key = pool_users * (pool_size + 1) + gaps

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
        among the items of the pool that user has not interacted with."""
        free = self.pool_size - self.degree[users]
        u = torch.rand(users.numel(), generator=generator,
                       dtype=torch.float64, device=users.device)
        r = torch.minimum((u * free).long(), free - 1)
        query = users * (self.pool_size + 1) + r
        below = torch.searchsorted(self._gap_key, query, right=True)
        neg = r + below - self.ptr[users]
        return neg if self.pool is None else self.pool[neg]

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
        pool = '' if self.pool is None else f', pool_size={self.pool_size}'
        return (f'{self.__class__.__name__}(num_users={self.num_users}, '
                f'num_items={self.num_items}, num_edges={len(self)}{pool})')


#: The negative pools of :func:`negative_pool` (``train.negatives``).
NEGATIVE_POOLS = ('train_items', 'all_items')


def negative_pool(data: 'HeteroData', pool: str = 'train_items',
                  edge_type: Optional[Tuple[str, str, str]] = None
                  ) -> Optional[Tensor]:
    r"""The item ids BPR negatives are drawn from.

    * :obj:`"train_items"`: the items that occur in the training split, as
      the MMRec toolbox draws them. Items seen only in validation or test
      are never pushed down by training.
    * :obj:`"all_items"`: every item (:obj:`None`, the sampler's default),
      except items held out by the cold-start protocol
      (:obj:`data.cold_items`), which are never drawn.

    Args:
        data (HeteroData): The dataset.
        pool (str, optional): :obj:`"train_items"` or :obj:`"all_items"`.
            (default: :obj:`"train_items"`)
        edge_type (tuple, optional): The interaction relation.
            (default: :obj:`None`: see
            :func:`~lirdrec_pyg.data.hetero.user_item_edge_type`)
    """
    from lirdrec_pyg.data.hetero import user_item_edge_type
    if pool not in NEGATIVE_POOLS:
        raise ValueError(f"'negatives' must be one of {list(NEGATIVE_POOLS)} "
                         f"(got '{pool}')")
    edge_type = user_item_edge_type(data, edge_type)
    if pool == 'train_items':
        return torch.unique(data[edge_type].edge_index[1].cpu())
    cold = getattr(data, 'cold_items', None)
    if cold is None or cold.numel() == 0:
        return None
    num_items = int(data[edge_type[2]].num_nodes)
    keep = torch.ones(num_items, dtype=torch.bool)
    keep[cold.cpu()] = False
    return keep.nonzero().view(-1)
