r"""Train / validation / test splits of an interaction list.

All functions are pure and vectorised: they take edges (and timestamps) and
return three sorted index tensors into the edge list. Per-user splits cut
each user's (shuffled or time-ordered) interactions at cumulative rounded
boundaries

.. math::
    b_1 = \max(1, \lfloor n r_{\text{train}} + \tfrac{1}{2} \rfloor), \qquad
    b_2 = \max(b_1, \lfloor n (r_{\text{train}} + r_{\text{valid}}) +
    \tfrac{1}{2} \rfloor),

so that each split size is within one interaction of its target and every
user with at least one interaction keeps at least one training item.
"""
from typing import Optional, Sequence, Tuple

import torch
from torch import Tensor

Split = Tuple[Tensor, Tensor, Tensor]


def _check_ratios(ratios: Sequence[float]) -> Tuple[float, float, float]:
    ratios = tuple(float(r) for r in ratios)
    if len(ratios) != 3 or any(r < 0 for r in ratios):
        raise ValueError(f"'ratios' must be three non-negative numbers "
                         f"(train, valid, test), got {ratios}")
    if abs(sum(ratios) - 1.0) > 1e-6:
        raise ValueError(f"'ratios' must sum to 1 (got {ratios}, "
                         f"sum {sum(ratios)})")
    if ratios[0] <= 0:
        raise ValueError(f"The training ratio must be positive (got "
                         f"{ratios[0]})")
    return ratios  # type: ignore[return-value]


def _round_half_up(x: Tensor) -> Tensor:
    return torch.floor(x + 0.5).long()


def _cut_per_user(order: Tensor, users: Tensor, num_users: int,
                  ratios: Tuple[float, float, float]) -> Split:
    # 'order' lists edge ids grouped by user (users ascending), each group in
    # the order in which edges are assigned to train, then valid, then test.
    users = users[order]
    count = torch.bincount(users, minlength=num_users)
    start = torch.cumsum(count, 0) - count
    rank = torch.arange(order.numel()) - start[users]
    n = count.double()
    b1 = _round_half_up(n * ratios[0]).clamp(min=1)
    b2 = torch.maximum(_round_half_up(n * (ratios[0] + ratios[1])), b1)
    b1, b2 = b1[users], b2[users]
    train = order[rank < b1]
    val = order[(rank >= b1) & (rank < b2)]
    test = order[rank >= b2]
    return train.sort()[0], val.sort()[0], test.sort()[0]


def _check_edges(edge_index: Tensor, num_users: int) -> None:
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(f"'edge_index' must have shape [2, num_edges] "
                         f"(got {list(edge_index.shape)})")
    if edge_index.numel() > 0 and int(edge_index[0].max()) >= num_users:
        raise ValueError(f"'edge_index' holds user id "
                         f"{int(edge_index[0].max())}, expected ids below "
                         f"'num_users' ({num_users})")


def random_split_per_user(edge_index: Tensor, num_users: int,
                          ratios: Sequence[float] = (0.8, 0.1, 0.1),
                          seed: int = 2024) -> Split:
    r"""Splits each user's interactions at random.

    Args:
        edge_index (torch.Tensor): Interactions of shape :obj:`[2, E]`.
        num_users (int): Number of users.
        ratios (tuple, optional): Train, validation, test fractions.
            (default: :obj:`(0.8, 0.1, 0.1)`)
        seed (int, optional): Seed of the shuffle. (default: :obj:`2024`)

    Returns:
        Sorted edge indices of the train, validation and test splits.
    """
    ratios = _check_ratios(ratios)
    _check_edges(edge_index, num_users)
    gen = torch.Generator().manual_seed(int(seed))
    perm = torch.randperm(edge_index.size(1), generator=gen)
    # A stable sort by user of a random permutation shuffles within users.
    order = perm[torch.sort(edge_index[0][perm], stable=True)[1]]
    return _cut_per_user(order, edge_index[0], num_users, ratios)


def temporal_split_per_user(edge_index: Tensor, time: Tensor,
                            num_users: int,
                            ratios: Sequence[float] = (0.8, 0.1, 0.1)
                            ) -> Split:
    r"""Splits each user's interactions by time: the earliest go to
    training, the latest to test. Ties keep the edge order.

    Args:
        edge_index (torch.Tensor): Interactions of shape :obj:`[2, E]`.
        time (torch.Tensor): Timestamps of shape :obj:`[E]`.
        num_users (int): Number of users.
        ratios (tuple, optional): Train, validation, test fractions.
            (default: :obj:`(0.8, 0.1, 0.1)`)
    """
    ratios = _check_ratios(ratios)
    _check_edges(edge_index, num_users)
    if time.dim() != 1 or time.numel() != edge_index.size(1):
        raise ValueError(f"'time' must have one entry per edge "
                         f"({edge_index.size(1)}), got {list(time.shape)}")
    by_time = torch.sort(time, stable=True)[1]
    order = by_time[torch.sort(edge_index[0][by_time], stable=True)[1]]
    return _cut_per_user(order, edge_index[0], num_users, ratios)


def global_temporal_split(time: Tensor,
                          ratios: Sequence[float] = (0.8, 0.1, 0.1)
                          ) -> Split:
    r"""Splits all interactions at two global time points: the earliest
    :obj:`ratios[0]` fraction trains, the latest :obj:`ratios[2]` tests.
    Users first seen after the training period become cold users
    (see :func:`drop_cold_users`).

    Args:
        time (torch.Tensor): Timestamps of shape :obj:`[E]`.
        ratios (tuple, optional): Train, validation, test fractions.
            (default: :obj:`(0.8, 0.1, 0.1)`)
    """
    ratios = _check_ratios(ratios)
    if time.dim() != 1:
        raise ValueError(f"'time' must be 1-D (got {list(time.shape)})")
    n = time.numel()
    order = torch.sort(time, stable=True)[1]
    b1 = int(_round_half_up(torch.tensor(n * ratios[0])))
    b2 = max(b1, int(_round_half_up(torch.tensor(n * (ratios[0] +
                                                       ratios[1])))))
    return (order[:b1].sort()[0], order[b1:b2].sort()[0],
            order[b2:].sort()[0])


def drop_cold_users(train_edge_index: Tensor, val_edge_index: Tensor,
                    test_edge_index: Optional[Tensor] = None
                    ) -> Tuple[Tensor, Tensor, int]:
    r"""Removes validation / test interactions of users without any training
    interaction (they cannot be scored).

    Returns:
        The filtered validation and test edges, and the number of distinct
        users dropped.
    """
    if test_edge_index is None:
        test_edge_index = torch.empty(2, 0, dtype=torch.long)
    keep_val = torch.isin(val_edge_index[0], train_edge_index[0])
    keep_test = torch.isin(test_edge_index[0], train_edge_index[0])
    dropped = torch.cat([val_edge_index[0][~keep_val],
                         test_edge_index[0][~keep_test]]).unique().numel()
    return val_edge_index[:, keep_val], test_edge_index[:, keep_test], dropped
