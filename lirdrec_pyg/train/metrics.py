r"""Top-:math:`K` ranking metrics for full-ranking recommendation.

The functions here work on one batch of users at a time and are fully
vectorised: :func:`hits_matrix` turns the top-:math:`K` item lists into a
boolean relevance matrix, :func:`ranking_metrics` turns that matrix into
per-user metric values, and :class:`RankingMetricAccumulator` averages them
over batches with equal weight per user (the protocol of
``docs/evaluation.md``).
"""
from typing import Callable, Dict, List, Sequence, Tuple, Union

import torch
from torch import Tensor

#: Metric names in the order :func:`ranking_metrics` reports them.
METRIC_NAMES: Tuple[str, ...] = ('Recall', 'NDCG', 'Precision', 'MAP', 'Hit')


def check_ks(ks: Union[int, Sequence[int]]) -> List[int]:
    r"""Validates the cut-offs :obj:`ks` and returns them sorted and unique.

    Args:
        ks (int or Sequence[int]): One or several positive cut-offs :math:`K`.
    """
    if isinstance(ks, int):
        ks = [ks]
    ks = list(ks)
    if len(ks) == 0:
        raise ValueError("'ks' must hold at least one cut-off (got [])")
    for k in ks:
        if isinstance(k, bool) or not isinstance(k, int) or k <= 0:
            raise ValueError(f"'ks' must hold positive integers "
                             f"(got {k!r} in {ks!r})")
    return sorted(set(ks))


def isin_sorted(query: Tensor, sorted_keys: Tensor) -> Tensor:
    r"""Returns a boolean tensor of :obj:`query`'s shape telling whether each
    entry occurs in the ascending 1-D tensor :obj:`sorted_keys` (a binary
    search, :math:`O(|q| \log |k|)`, no dense matrix).

    Args:
        query (torch.Tensor): Integer keys of any shape.
        sorted_keys (torch.Tensor): Ascending integer keys of shape
            :obj:`[N]`.
    """
    if sorted_keys.numel() == 0:
        return torch.zeros_like(query, dtype=torch.bool)
    pos = torch.searchsorted(sorted_keys, query.contiguous())
    pos = pos.clamp_(max=sorted_keys.numel() - 1)
    return sorted_keys[pos] == query


def hits_matrix(
    topk_items: Tensor,
    relevant: Tensor,
) -> Tensor:
    r"""Returns the boolean matrix :obj:`hits[b, r]` telling whether the
    :math:`r`-th recommended item of user :math:`b` is relevant.

    Args:
        topk_items (torch.Tensor): Recommended items, best first, of shape
            :obj:`[B, K]`.
        relevant (torch.Tensor): The relevant items of the batch, either as a
            dense boolean matrix of shape :obj:`[B, num_items]`, or as COO
            pairs of shape :obj:`[2, E]` whose first row is the position of
            the user in the batch (:obj:`0 <= row < B`) and whose second row
            is the item. Duplicate pairs are allowed.

    Shapes:
        - **output:** :obj:`[B, K]` (:obj:`torch.bool`)
    """
    if topk_items.dim() != 2:
        raise ValueError(f"'topk_items' must have shape [B, K] "
                         f"(got {list(topk_items.shape)})")
    B = topk_items.size(0)

    if relevant.dtype == torch.bool:
        if relevant.dim() != 2 or relevant.size(0) != B:
            raise ValueError(f"A dense 'relevant' must have shape "
                             f"[{B}, num_items] (got {list(relevant.shape)})")
        return relevant.gather(1, topk_items)

    if relevant.dim() != 2 or relevant.size(0) != 2:
        raise ValueError(f"'relevant' must be a boolean [B, num_items] matrix "
                         f"or COO pairs of shape [2, E] "
                         f"(got {list(relevant.shape)}, {relevant.dtype})")
    if relevant.numel() > 0 and (int(relevant[0].min()) < 0
                                 or int(relevant[0].max()) >= B):
        raise ValueError(f"'relevant[0]' holds batch positions and must lie "
                         f"in [0, {B})")

    # Flatten (row, item) into one integer key per pair; one sort of the
    # relevant keys then answers every lookup by binary search.
    num_items = 1 + max(
        int(topk_items.max()) if topk_items.numel() > 0 else 0,
        int(relevant[1].max()) if relevant.numel() > 0 else 0,
    )
    keys = (relevant[0] * num_items + relevant[1]).sort()[0]
    row = torch.arange(B, device=topk_items.device).view(-1, 1)
    return isin_sorted(row * num_items + topk_items, keys)


def _discounts(k: int, device: torch.device) -> Tensor:
    # 1 / log2(rank + 1) for rank = 1, ..., k.
    rank = torch.arange(1, k + 1, device=device, dtype=torch.float64)
    return 1.0 / torch.log2(rank + 1.0)


def ranking_metrics(
    hits: Tensor,
    num_relevant: Tensor,
    ks: Sequence[int],
) -> Dict[str, Tensor]:
    r"""Computes per-user Recall, NDCG, Precision, MAP and Hit at every
    cut-off in :obj:`ks` from a top-:math:`K_{\max}` hit matrix.

    With :math:`h_r \in \{0, 1\}` the relevance of the item at rank
    :math:`r` (from 1), :math:`R` the number of relevant items and
    :math:`m = \min(R, K)`:

    .. math::
        \mathrm{Recall@}K &= \frac{1}{R} \sum_{r=1}^{K} h_r, \qquad
        \mathrm{Precision@}K = \frac{1}{K} \sum_{r=1}^{K} h_r, \qquad
        \mathrm{Hit@}K = \mathbb{1}\Big[\sum_{r=1}^{K} h_r > 0\Big],

        \mathrm{NDCG@}K &= \frac{\sum_{r=1}^{K} h_r / \log_2(r + 1)}
        {\sum_{r=1}^{m} 1 / \log_2(r + 1)}, \qquad
        \mathrm{MAP@}K = \frac{1}{m} \sum_{r=1}^{K} h_r \,
        \frac{\sum_{s=1}^{r} h_s}{r}.

    Users with :math:`R = 0` get 0 for every metric (and are skipped by
    :class:`RankingMetricAccumulator`).

    Args:
        hits (torch.Tensor): Boolean hit matrix of shape :obj:`[B, K_max]`,
            best-ranked item first, with :obj:`K_max >= max(ks)`.
        num_relevant (torch.Tensor): Number of relevant items per user, of
            shape :obj:`[B]`.
        ks (Sequence[int]): The cut-offs :math:`K`.

    Returns:
        A dictionary mapping :obj:`'Recall@K'`, :obj:`'NDCG@K'`,
        :obj:`'Precision@K'`, :obj:`'MAP@K'` and :obj:`'Hit@K'` to
        :obj:`torch.float64` tensors of shape :obj:`[B]`.
    """
    ks = check_ks(ks)
    if hits.dim() != 2:
        raise ValueError(f"'hits' must have shape [B, K_max] "
                         f"(got {list(hits.shape)})")
    if hits.size(1) < ks[-1]:
        raise ValueError(f"'hits' has {hits.size(1)} columns but the largest "
                         f"cut-off in 'ks' is {ks[-1]}")
    if num_relevant.shape != (hits.size(0), ):
        raise ValueError(f"'num_relevant' must have shape [{hits.size(0)}] "
                         f"(got {list(num_relevant.shape)})")

    device = hits.device
    k_max = ks[-1]
    h = hits[:, :k_max].to(torch.float64)
    num_rel = num_relevant.to(device=device, dtype=torch.float64)
    valid = num_rel > 0
    safe_rel = num_rel.clamp(min=1.0)

    # Shared intermediates, computed once for K_max and sliced per K.
    rank = torch.arange(1, k_max + 1, device=device, dtype=torch.float64)
    disc = _discounts(k_max, device)
    num_hits = h.cumsum(dim=1)  # hits within the first r ranks
    dcg = (h * disc).cumsum(dim=1)
    ap_sum = (h * num_hits / rank).cumsum(dim=1)
    idcg_table = disc.cumsum(dim=0)

    per_k: Dict[int, Dict[str, Tensor]] = {}
    for k in ks:
        n = num_hits[:, k - 1]
        m = safe_rel.clamp(max=float(k))
        per_k[k] = {
            'Recall': n / safe_rel,
            'NDCG': dcg[:, k - 1] / idcg_table[m.long() - 1],
            'Precision': n / k,
            'MAP': ap_sum[:, k - 1] / m,
            'Hit': (n > 0).to(torch.float64),
        }
    zero = torch.zeros_like(num_rel)
    return {
        f'{name}@{k}': per_k[k][name].where(valid, zero)
        for name in METRIC_NAMES for k in ks
    }


class RankingMetricAccumulator:
    r"""Averages :func:`ranking_metrics` over batches of users, each user with
    equal weight; users without relevant items are skipped.

    Follows the :obj:`update` / :obj:`compute` / :obj:`reset` protocol of
    :class:`torch_geometric.metrics.LinkPredMetric`. Sums stay on the device
    of the hits (no host synchronisation per batch) in :obj:`torch.float64`.

    Args:
        ks (Sequence[int]): The cut-offs :math:`K`.
            (default: :obj:`(5, 10, 20, 50)`)
    """
    def __init__(self, ks: Sequence[int] = (5, 10, 20, 50)) -> None:
        self.ks = check_ks(ks)
        self.reset()

    def reset(self) -> None:
        r"""Forgets everything seen so far."""
        self._sums: Dict[str, Tensor] = {}
        self._count: Union[int, Tensor] = 0

    @property
    def num_users(self) -> int:
        r"""The number of users accumulated so far."""
        return int(self._count)

    def update(self, hits: Tensor, num_relevant: Tensor) -> None:
        r"""Adds a batch of users.

        Args:
            hits (torch.Tensor): Boolean hit matrix of shape
                :obj:`[B, K_max]`, see :func:`ranking_metrics`.
            num_relevant (torch.Tensor): Relevant items per user, of shape
                :obj:`[B]`.
        """
        values = ranking_metrics(hits, num_relevant, self.ks)
        valid = num_relevant.to(hits.device) > 0
        # Per-user values of skipped users are 0, so a plain sum is right.
        for key, value in values.items():
            total = value.sum()
            self._sums[key] = (total if key not in self._sums else
                               self._sums[key] + total)
        self._count = self._count + valid.sum()

    def all_reduce_(self, all_reduce: Callable[[Tensor], Tensor],
                    device: Union[str, torch.device, None] = None) -> None:
        r"""Replaces the sums and the user count by their totals over
        several accumulators, e.g. one per process of a group that split
        the users: :obj:`all_reduce` sums a :obj:`torch.float64` tensor over
        them in place (such as
        :meth:`lirdrec_pyg.distributed.Sharding.all_reduce_`). Every
        accumulator must have the same :obj:`ks`; one that has seen no user
        takes part with zeros, on :obj:`device` (default: the CPU)."""
        keys = [f'{name}@{k}' for name in METRIC_NAMES for k in self.ks]
        if self._sums:
            device = next(iter(self._sums.values())).device
        zero = torch.zeros((), dtype=torch.float64, device=device)
        flat = torch.stack(
            [zero + self._count] + [self._sums.get(key, zero)
                                    for key in keys])
        all_reduce(flat)
        self._count = flat[0]
        self._sums = dict(zip(keys, flat[1:].unbind()))

    def compute(self) -> Dict[str, float]:
        r"""Returns the mean of every metric over the users seen so far."""
        count = int(self._count)
        if count == 0:
            raise ValueError(f"'{self.__class__.__name__}.compute()' needs at "
                             f"least one user with a relevant item; call "
                             f"'update()' first")
        return {key: float(total) / count
                for key, total in self._sums.items()}

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(ks={self.ks}, '
                f'num_users={self.num_users})')


__all__ = [
    'METRIC_NAMES',
    'check_ks',
    'isin_sorted',
    'hits_matrix',
    'ranking_metrics',
    'RankingMetricAccumulator',
]
