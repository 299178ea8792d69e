r"""Full-ranking evaluation: every evaluated user against all items."""
from typing import (Callable, Dict, Iterator, List, Optional, Sequence,
                    Tuple, Union)

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from lirdrec_pyg.data.hetero import UI, user_item_edge_type
from lirdrec_pyg.train.metrics import (
    RankingMetricAccumulator,
    check_ks,
    isin_sorted,
    ranking_metrics,
)

ScoreFn = Callable[[Tensor], Tensor]

EDGE_TYPE = UI  # the default relation
SPLIT_ATTRS = {'valid': 'val_edge_index', 'test': 'test_edge_index'}


def _check_edge_index(edge_index: Tensor, name: str, num_users: int,
                      num_items: int) -> None:
    if not isinstance(edge_index, Tensor):
        raise ValueError(f"'{name}' must be a tensor of shape [2, E] "
                         f"(got {type(edge_index).__name__})")
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(f"'{name}' must have shape [2, E] "
                         f"(got {list(edge_index.shape)})")
    if edge_index.dtype.is_floating_point or edge_index.dtype == torch.bool:
        raise ValueError(f"'{name}' must hold integer ids "
                         f"(got {edge_index.dtype})")
    if edge_index.numel() == 0:
        return
    for row, what, size in ((0, 'user', num_users), (1, 'item', num_items)):
        lo, hi = int(edge_index[row].min()), int(edge_index[row].max())
        if lo < 0 or hi >= size:
            raise ValueError(f"'{name}[{row}]' holds {what} ids that must lie "
                             f"in [0, {size}) (got min {lo}, max {hi})")


def _sorted_keys(edge_index: Tensor, num_items: int) -> Tensor:
    # One int64 key per distinct (user, item) pair, ascending: user-major,
    # items ascending within a user.
    edge_index = edge_index.to(torch.long)
    return torch.unique(edge_index[0] * num_items + edge_index[1])


class FullRankingEvaluator:
    r"""Full-ranking top-:math:`K` evaluator for implicit-feedback
    recommendation, following the protocol of ``docs/evaluation.md`` (which
    also lists where it differs from the reference toolbox, MMRec).

    Every user with at least one edge in :obj:`eval_edge_index` is scored
    against **all** :obj:`num_items` items; the user's items in
    :obj:`mask_edge_index` (typically the training edges) are set to
    :math:`-\infty` before the top-:math:`K_{\max}` items are taken, and
    Recall, NDCG, Precision, MAP and Hit at every :math:`K` are averaged
    over users with equal weight (see
    :func:`~lirdrec_pyg.train.metrics.ranking_metrics`).

    Users are processed in batches of :obj:`batch_size`, so only a
    :obj:`[batch_size, num_items]` score block exists at a time. Relevant and
    masked items are stored once as CSR-like sorted arrays; hits are found by
    binary search on :math:`\text{user} \cdot I + \text{item}` keys, masking
    is a single :meth:`index_put_`, and no Python loop runs over users. The
    device of the returned scores decides where the work happens; the index
    arrays are copied to it once and cached.

    .. note::
        Ties between equal scores are broken by :meth:`torch.topk`, whose
        order among equal values is implementation-defined (it may differ
        between CPU and CUDA). Masked items never count as hits, even if the
        user has fewer than :math:`K` unmasked items.

    .. note::
        The score block returned by :obj:`score_fn` is masked **in place**:
        return a fresh tensor (such as :obj:`user_emb[users] @ item_emb.t()`),
        not a view of a tensor you still need.

    Args:
        eval_edge_index (torch.Tensor): The evaluated split as
            :obj:`[2, E]` (user, item) pairs; duplicates are ignored.
        num_users (int): The number of users.
        num_items (int): The number of items :math:`I`.
        mask_edge_index (torch.Tensor or Sequence[torch.Tensor], optional):
            One or several :obj:`[2, E]` edge sets whose items are excluded
            from each user's ranking (the training edges, and the validation
            edges when testing if so desired). (default: :obj:`None`)
        ks (Sequence[int], optional): The cut-offs :math:`K`.
            (default: :obj:`(5, 10, 20, 50)`)
        batch_size (int, optional): Users scored per call of
            :obj:`score_fn`. (default: :obj:`4096`)
    """
    def __init__(
        self,
        eval_edge_index: Tensor,
        num_users: int,
        num_items: int,
        mask_edge_index: Optional[Union[Tensor, Sequence[Tensor]]] = None,
        ks: Sequence[int] = (5, 10, 20, 50),
        batch_size: int = 4096,
    ) -> None:
        for name, value in (('num_users', num_users),
                            ('num_items', num_items),
                            ('batch_size', batch_size)):
            if isinstance(value, bool) or not isinstance(value, int) \
                    or value <= 0:
                raise ValueError(f"'{name}' must be a positive integer "
                                 f"(got {value!r})")
        self.ks = check_ks(ks)
        if self.ks[-1] > num_items:
            fit = [k for k in self.ks if k <= num_items] or [num_items]
            raise ValueError(f"The largest cut-off in 'ks' ({self.ks[-1]}) "
                             f"exceeds 'num_items' ({num_items}); set "
                             f"cut-offs that fit, e.g. --set 'train.ks="
                             f"{fit}' (with train.valid_metric at one of "
                             f"them)")
        self.num_users = num_users
        self.num_items = num_items
        self.batch_size = batch_size

        _check_edge_index(eval_edge_index, 'eval_edge_index', num_users,
                          num_items)
        if eval_edge_index.size(1) == 0:
            raise ValueError("'eval_edge_index' is empty: the evaluated "
                             "split has no (user, item) pair")

        if mask_edge_index is None:
            masks: List[Tensor] = []
        elif isinstance(mask_edge_index, Tensor):
            masks = [mask_edge_index]
        else:
            masks = list(mask_edge_index)
        for i, mask in enumerate(masks):
            _check_edge_index(mask, f'mask_edge_index[{i}]', num_users,
                              num_items)
        self.num_masks = len(masks)

        cpu = torch.device('cpu')
        eval_keys = _sorted_keys(eval_edge_index.to(cpu), num_items)
        eval_user = eval_keys.div(num_items, rounding_mode='floor')
        users, num_relevant = torch.unique_consecutive(eval_user,
                                                       return_counts=True)
        rel_ptr = torch.zeros(users.numel() + 1, dtype=torch.long)
        rel_ptr[1:] = num_relevant.cumsum(0)
        # Re-key relevant pairs by the user's *position* among evaluated users
        # so a batch is a contiguous slice and a batch-local key is cheap.
        rel_pos = torch.repeat_interleave(
            torch.arange(users.numel()), num_relevant)
        rel_keys = rel_pos * num_items + eval_keys % num_items

        if len(masks) > 0:
            mask_keys = _sorted_keys(
                torch.cat([m.to(cpu, torch.long) for m in masks], dim=1),
                num_items)
            mask_user = mask_keys.div(num_items, rounding_mode='floor')
            keep = isin_sorted(mask_user, users)
            mask_keys, mask_user = mask_keys[keep], mask_user[keep]
            mask_pos = torch.searchsorted(users, mask_user)
            mask_item = mask_keys % num_items
            mask_ptr = torch.searchsorted(
                mask_pos, torch.arange(users.numel() + 1))
        else:
            mask_pos = mask_item = torch.empty(0, dtype=torch.long)
            mask_ptr = torch.zeros(users.numel() + 1, dtype=torch.long)

        # Pointers are only used to slice on the host: keep them as lists.
        self._rel_ptr: List[int] = rel_ptr.tolist()
        self._mask_ptr: List[int] = mask_ptr.tolist()
        self._tensors: Dict[str, Tensor] = {
            'users': users,
            'num_relevant': num_relevant,
            'rel_keys': rel_keys,
            'mask_pos': mask_pos,
            'mask_item': mask_item,
        }
        self._cache: Dict[torch.device, Dict[str, Tensor]] = {cpu: {
            **self._tensors
        }}

    @classmethod
    def from_data(
        cls,
        data: HeteroData,
        split: str = 'valid',
        ks: Sequence[int] = (5, 10, 20, 50),
        batch_size: int = 4096,
        mask_valid_in_test: bool = False,
        edge_type: Optional[Sequence[str]] = None,
    ) -> 'FullRankingEvaluator':
        r"""Builds the evaluator of a split of a recommendation graph.

        Two layouts of the user-item relation :obj:`data[edge_type]` are
        read, with the node counts of its source and target node types:

        * the library's (:func:`~lirdrec_pyg.data.build_hetero_data`):
          training edges in :obj:`edge_index` (always masked), validation
          edges in :obj:`val_edge_index`, test edges in
          :obj:`test_edge_index`;
        * the output of :class:`torch_geometric.transforms.RandomLinkSplit`
          (pass its validation or test data): the evaluated pairs in
          :obj:`edge_label_index` with :obj:`edge_label > 0` (sampled
          negatives, label 0, are dropped) or in
          :obj:`pos_edge_label_index`, and the message-passing edges of that
          split in :obj:`edge_index` masked (training edges for the
          validation data, training and validation edges for the test data).
          :obj:`split` then only names the evaluation.

        Args:
            data (torch_geometric.data.HeteroData): The graph.
            split (str, optional): :obj:`'valid'` or :obj:`'test'`.
                (default: :obj:`'valid'`)
            ks (Sequence[int], optional): The cut-offs :math:`K`.
                (default: :obj:`(5, 10, 20, 50)`)
            batch_size (int, optional): Users per score block.
                (default: :obj:`4096`)
            mask_valid_in_test (bool, optional): If :obj:`True` and
                :obj:`split='test'`, also mask the validation items (library
                layout). The reference protocol does not.
                (default: :obj:`False`)
            edge_type (tuple[str, str, str], optional): The user-item
                relation. (default: :obj:`None`:
                :obj:`('user', 'interacts', 'item')` or the only relation
                from :obj:`'user'` to :obj:`'item'`, see
                :func:`~lirdrec_pyg.data.hetero.user_item_edge_type`)
        """
        if split not in SPLIT_ATTRS:
            raise ValueError(f"'split' must be one of {list(SPLIT_ATTRS)} "
                             f"(got {split!r})")
        edge_type = user_item_edge_type(data, edge_type)
        store = data[edge_type]

        def get(attr: str) -> Tensor:
            value = getattr(store, attr, None)
            if value is None:
                raise ValueError(f"'data[{edge_type}].{attr}' is missing")
            return value

        num_users = data[edge_type[0]].num_nodes
        num_items = data[edge_type[2]].num_nodes
        if num_users is None or num_items is None:
            raise ValueError(f"'data['{edge_type[0]}'].num_nodes' and "
                             f"'data['{edge_type[2]}'].num_nodes' must be set")
        masks = [get('edge_index')]
        if SPLIT_ATTRS[split] in store:
            eval_edge_index = get(SPLIT_ATTRS[split])
            if split == 'test' and mask_valid_in_test:
                masks.append(get('val_edge_index'))
        elif 'pos_edge_label_index' in store:
            eval_edge_index = get('pos_edge_label_index')
        elif 'edge_label_index' in store:
            eval_edge_index = get('edge_label_index')
            label = getattr(store, 'edge_label', None)
            if label is not None:
                if label.dim() != 1 or label.numel() != \
                        eval_edge_index.size(1):
                    raise ValueError(f"'data[{edge_type}].edge_label' must "
                                     f"have one entry per column of "
                                     f"'edge_label_index' "
                                     f"({eval_edge_index.size(1)}), got "
                                     f"{list(label.shape)}")
                eval_edge_index = eval_edge_index[:, label > 0]
        else:
            raise ValueError(f"'data[{edge_type}]' has neither "
                             f"'{SPLIT_ATTRS[split]}' nor 'edge_label_index' "
                             f"(the output of RandomLinkSplit)")
        return cls(eval_edge_index, int(num_users), int(num_items),
                   mask_edge_index=masks, ks=ks, batch_size=batch_size)

    @property
    def users(self) -> Tensor:
        r"""The evaluated users (those with a relevant item), ascending."""
        return self._tensors['users']

    @property
    def num_relevant(self) -> Tensor:
        r"""The number of relevant items of each user in :obj:`users`."""
        return self._tensors['num_relevant']

    def _on(self, device: torch.device) -> Dict[str, Tensor]:
        if device not in self._cache:
            self._cache[device] = {
                key: value.to(device)
                for key, value in self._tensors.items()
            }
        return self._cache[device]

    def _masked_scores(self, score_fn: ScoreFn, start: int,
                       end: int) -> Tuple[Tensor, Dict[str, Tensor]]:
        users = self.users[start:end]
        scores = score_fn(users)
        expected = (end - start, self.num_items)
        if not isinstance(scores, Tensor) or tuple(scores.shape) != expected:
            got = (list(scores.shape) if isinstance(scores, Tensor) else
                   type(scores).__name__)
            raise ValueError(f"'score_fn' must return scores of shape "
                             f"{list(expected)} for a batch of "
                             f"{end - start} users (got {got})")
        if not scores.is_floating_point():
            raise ValueError(f"'score_fn' must return floating-point scores "
                             f"(got {scores.dtype})")
        cache = self._on(scores.device)
        lo, hi = self._mask_ptr[start], self._mask_ptr[end]
        if hi > lo:
            rows = cache['mask_pos'][lo:hi] - start
            cols = cache['mask_item'][lo:hi]
            scores.index_put_((rows, cols),
                              scores.new_full((1, ), float('-inf')))
        return scores, cache

    def _batches(self) -> range:
        return range(0, self.users.numel(), self.batch_size)

    @torch.no_grad()
    def evaluate(self, score_fn: ScoreFn) -> Dict[str, float]:
        r"""Scores every evaluated user and returns the averaged metrics.

        Args:
            score_fn (Callable[[torch.Tensor], torch.Tensor]): Maps a batch
                of user ids of shape :obj:`[B]` (on the CPU) to scores of
                shape :obj:`[B, num_items]` on any device.

        Returns:
            A dictionary such as :obj:`{'Recall@20': 0.07, 'NDCG@20': ...}`
            with the keys of
            :func:`~lirdrec_pyg.train.metrics.ranking_metrics`.
        """
        return self.accumulate(score_fn).compute()

    @torch.no_grad()
    def accumulate(self, score_fn: ScoreFn, start: int = 0,
                   end: Optional[int] = None) -> RankingMetricAccumulator:
        r"""The metric sums of the evaluated users at positions
        :obj:`start` to :obj:`end` of :obj:`users` (default: all), so that
        several processes can each score a block of users and add up their
        accumulators (see :meth:`RankingMetricAccumulator.all_reduce_`)."""
        num_users = self.users.numel()
        end = num_users if end is None else end
        if not 0 <= start <= end <= num_users:
            raise ValueError(f"'start' and 'end' must satisfy 0 <= start <= "
                             f"end <= {num_users} (got {start}, {end})")
        acc = RankingMetricAccumulator(self.ks)
        for hits, num_relevant in self._hits(score_fn, start, end):
            acc.update(hits, num_relevant)
        return acc

    def _hits(self, score_fn: ScoreFn, start: int,
              end: int) -> Iterator[Tuple[Tensor, Tensor]]:
        # (hit matrix, relevant counts) of every batch of users, in order.
        k_max = self.ks[-1]
        num_items = self.num_items
        for first in range(start, end, self.batch_size):
            last = min(first + self.batch_size, end)
            scores, cache = self._masked_scores(score_fn, first, last)
            top_scores, top_items = scores.topk(k_max, dim=1)

            lo, hi = self._rel_ptr[first], self._rel_ptr[last]
            pos = torch.arange(first, last, device=scores.device).view(-1, 1)
            hits = isin_sorted(pos * num_items + top_items,
                               cache['rel_keys'][lo:hi])
            # A masked item only reaches the top K when fewer than K items
            # are unmasked; it must never count.
            hits &= top_scores != float('-inf')
            yield hits, cache['num_relevant'][first:last]

    @torch.no_grad()
    def evaluate_per_user(self, score_fn: ScoreFn) -> Dict[str, Tensor]:
        r"""Like :meth:`evaluate`, but returns every evaluated user's metric
        values (for paired significance tests between models) instead of
        their mean.

        Returns:
            A dictionary with :obj:`'user'` (the ids of :attr:`users`) and
            one :obj:`torch.float64` tensor of shape :obj:`[U]` per metric,
            on the CPU; the mean of each equals :meth:`evaluate`'s value.
        """
        parts: Dict[str, List[Tensor]] = {}
        for hits, num_relevant in self._hits(score_fn, 0, self.users.numel()):
            for key, value in ranking_metrics(hits, num_relevant,
                                              self.ks).items():
                parts.setdefault(key, []).append(value.cpu())
        out = {'user': self.users.clone()}
        out.update({key: torch.cat(values) for key, values in parts.items()})
        return out

    @torch.no_grad()
    def topk(self, score_fn: ScoreFn, k: int) -> Tuple[Tensor, Tensor]:
        r"""Returns the top-:math:`k` unmasked items of every evaluated user.

        Args:
            score_fn (Callable[[torch.Tensor], torch.Tensor]): As in
                :meth:`evaluate`.
            k (int): The number of items per user.

        Returns:
            :obj:`(users, items)`: the evaluated users of shape :obj:`[U]`
            and their items, best first, of shape :obj:`[U, k]`, both on the
            device of the scores. Users with fewer than :math:`k` unmasked
            items get masked items in their last columns.
        """
        if isinstance(k, bool) or not isinstance(k, int) or not \
                0 < k <= self.num_items:
            raise ValueError(f"'k' must be an integer in "
                             f"[1, {self.num_items}] (got {k!r})")
        out: List[Tensor] = []
        device = torch.device('cpu')
        for start in self._batches():
            end = min(start + self.batch_size, self.users.numel())
            scores, _ = self._masked_scores(score_fn, start, end)
            out.append(scores.topk(k, dim=1)[1])
            device = scores.device
        return self._on(device)['users'], torch.cat(out, dim=0)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num_users={self.num_users}, '
                f'num_items={self.num_items}, '
                f'num_eval_users={self.users.numel()}, '
                f'num_masks={self.num_masks}, ks={self.ks}, '
                f'batch_size={self.batch_size})')


__all__ = ['FullRankingEvaluator']
