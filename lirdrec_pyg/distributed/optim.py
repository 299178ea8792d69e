r"""Adam over the processes of a sharded model: the gradients of shared
parameters are summed over the ranks, the rows of a per-user table (see
:meth:`~lirdrec_pyg.models.Recommender.owned_parameters`) are updated by
the rank that owns the row alone.

A rank that owns rows :math:`R` of a parameter (e.g. its users' preference
rows, or the rows of its block of hidden units of a tensor-parallel layer)
is the only one that reads them in the training step, so its gradient there
is already the whole gradient and the other rows' is zero: summing the table
over the ranks, as for a replicated parameter, would move
:math:`W \times` the table's size through the network and update every row
on every rank. Instead each rank keeps the Adam state of its rows only and
updates them in place (the other ranks' copies of these rows go stale until
the model exchanges them, e.g. at the end of an epoch); every other
parameter is replicated, its gradient summed in one flat all-reduce, and
updated identically everywhere. The update of every entry is the one of a
single :class:`torch.optim.Adam` over all parameters (Adam is elementwise).

:class:`torch.distributed.optim.ZeroRedundancyOptimizer` partitions whole
parameters between ranks after a full gradient all-reduce and broadcasts
them back; here the dominant tensor is the row-owned table, whose gradient
needs no reduction at all, so it does not fit.
"""
from typing import Any, Dict, List, Mapping, Sequence, Tuple

import torch
import torch.distributed as dist
from torch import Tensor

from lirdrec_pyg.distributed.sharding import Sharding, split_range


class ShardedAdam:
    r"""Adam for a sharded model (see the module docstring), with the
    interface the trainer uses of a :class:`torch.optim.Optimizer`
    (:obj:`param_groups`, :meth:`zero_grad`, :meth:`step`,
    :meth:`state_dict`, :meth:`load_state_dict`). :meth:`step` is a
    collective. :meth:`state_dict` gathers the state of the owned rows, so
    it is the state dict of one :class:`torch.optim.Adam` over
    :obj:`named_parameters`, and checkpoints move freely between process
    counts.

    Args:
        named_parameters (sequence of (str, Parameter)): The model's
            parameters, in the order of :meth:`torch.nn.Module.parameters`.
        owned (mapping of str to Tensor): The parameters of which this rank
            alone updates a block of rows (its :func:`split_range` block of
            the parameter's rows), each mapped to a leaf that aliases that
            block (see :meth:`~lirdrec_pyg.models.Recommender.owned_parameters`):
            the training step reads those rows through the leaf, so their
            gradient is complete on this rank and has only the block's rows.
            (If the leaf got no gradient, the block's rows of the
            parameter's gradient are used.)
        sharding (Sharding): This process's share.
        make_adam (callable): Builds the underlying
            :class:`torch.optim.Adam` from a list of tensors.
    """
    def __init__(self, named_parameters: Sequence[Tuple[str, Tensor]],
                 owned: Mapping[str, Tensor], sharding: Sharding,
                 make_adam: Any) -> None:
        named = [(n, p) for n, p in named_parameters if p.requires_grad]
        by_name = dict(named)
        for name, leaf in owned.items():
            p = by_name.get(name)
            if p is None or not _aliases_block(leaf, p, sharding):
                raise ValueError(f"owned parameter '{name}' must be a "
                                 f"trainable parameter mapped to a leaf "
                                 f"aliasing this rank's block of its rows")
        self.sharding = sharding
        self.params = [p for _, p in named]
        self.rows: List[Any] = [
            split_range(p.size(0), sharding.world_size, sharding.rank)
            if n in owned else None for n, p in named]
        self.shared = [p for p, r in zip(self.params, self.rows) if r is None]
        self.views = {i: owned[n] for i, (n, _) in enumerate(named)
                      if n in owned}
        self.buckets = GradientBuckets(self.shared, sharding)
        self._adam_params = [self.views.get(i, p)
                             for i, p in enumerate(self.params)]
        self.adam = make_adam(self._adam_params)

    @property
    def param_groups(self) -> List[Dict[str, Any]]:
        return self.adam.param_groups

    def zero_grad(self, set_to_none: bool = True) -> None:
        r"""Clears the gradients; the next backward pass sums the shared
        parameters' gradients over the ranks as they come
        (:class:`GradientBuckets`)."""
        for p in self.params:
            p.grad = None
        for v in self.views.values():
            v.grad = None
        self.buckets.arm()

    def step(self) -> None:
        r"""Completes the sums of the shared parameters' gradients over the
        ranks and updates them and this rank's owned rows."""
        self.buckets.wait()
        for i, view in self.views.items():
            if view.grad is not None:
                continue
            grad = self.params[i].grad
            start, end = self.rows[i]
            view.grad = (torch.zeros_like(view) if grad is None
                         else grad[start:end])
        self.adam.step()

    def state_dict(self) -> Dict[str, Any]:
        r"""The state dict of one Adam over all parameters (a collective:
        the owned rows' state is gathered from their owners)."""
        inner = self.adam.state_dict()
        state = {}
        for i, p in enumerate(self.params):
            entry = inner['state'].get(i)
            if i in self.views:
                entry = self._gather_rows(i, entry)
            if entry is not None:
                state[i] = entry
        return {'state': state, 'param_groups': inner['param_groups']}

    def _gather_rows(self, i: int, entry: Any) -> Any:
        # Every rank takes part, with zeros for a state not yet created.
        view = self.views[i]
        full = {}
        for key in ('exp_avg', 'exp_avg_sq'):
            local = view.new_zeros(view.shape) if entry is None \
                else entry[key]
            full[key] = self.sharding.gather_blocks(
                local.contiguous(), self.params[i].size(0))
        if entry is None:
            return None
        return dict(entry, **full)

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        r"""Loads the state dict of one Adam over all parameters (as
        :meth:`state_dict` or a one-process run writes it), keeping this
        rank's rows of the owned parameters."""
        state = {}
        for key, entry in state_dict['state'].items():
            i = int(key)
            if i in self.views and i < len(self.params):
                start, end = self.rows[i]
                entry = dict(entry, **{
                    k: entry[k][start:end].clone()
                    for k in ('exp_avg', 'exp_avg_sq') if k in entry})
            state[i] = entry
        self.adam.load_state_dict({'state': state,
                                   'param_groups':
                                       state_dict['param_groups']})


class GradientBuckets:
    r"""Sums the gradients of replicated parameters over the ranks while the
    backward pass still runs, as DDP's buckets do: the parameters are
    grouped, in the reverse of their order (about the order in which the
    backward pass produces their gradients), into buckets of about
    :obj:`cap` entries; when every gradient of a bucket is there, the
    bucket is flattened and its all-reduce launched asynchronously, so it
    travels while the backward pass of the earlier layers computes.
    Buckets are launched strictly in order (so every rank issues the same
    collectives in the same order); :meth:`wait` launches the rest (zeros
    for a parameter without gradient), waits for all and writes the sums
    back into the gradients. Only a backward pass after :meth:`arm` launches
    anything.

    Args:
        params (sequence of Tensor): The replicated parameters.
        sharding (Sharding): This process's share.
        cap (int, optional): Entries per bucket. (default: :obj:`2**20`)
    """
    def __init__(self, params: Sequence[Tensor], sharding: Sharding,
                 cap: int = 2**20) -> None:
        self.sharding = sharding
        self.buckets: List[List[Tensor]] = []
        size = cap
        for p in reversed(list(params)):
            if size >= cap:
                self.buckets.append([])
                size = 0
            self.buckets[-1].append(p)
            size += p.numel()
        self._bucket_of = {id(p): b for b, bucket in enumerate(self.buckets)
                           for p in bucket}
        self._armed = False
        self._ready = [0] * len(self.buckets)
        self._works: List[Any] = []
        self._flats: List[Tensor] = []
        if sharding.world_size > 1:
            for p in params:
                p.register_post_accumulate_grad_hook(self._on_grad)

    def arm(self) -> None:
        r"""Makes the next backward pass launch the buckets."""
        self._armed = True
        self._ready = [0] * len(self.buckets)
        self._works, self._flats = [], []

    def _on_grad(self, p: Tensor) -> None:
        if not self._armed:
            return
        self._ready[self._bucket_of[id(p)]] += 1
        while (len(self._works) < len(self.buckets) and
               self._ready[len(self._works)] ==
               len(self.buckets[len(self._works)])):
            self._launch(len(self._works))

    def _launch(self, b: int) -> None:
        flat = torch.cat([(p.grad if p.grad is not None
                           else torch.zeros_like(p)).reshape(-1)
                          for p in self.buckets[b]])
        self._flats.append(flat)
        self._works.append(dist.all_reduce(flat, group=self.sharding.group,
                                           async_op=True))

    def wait(self) -> None:
        r"""Launches the buckets not launched yet, waits for every bucket
        and sets the parameters' gradients to the sums."""
        if self.sharding.world_size == 1:
            return
        while len(self._works) < len(self.buckets):
            self._launch(len(self._works))
        for bucket, flat, work in zip(self.buckets, self._flats,
                                      self._works):
            work.wait()
            offset = 0
            for p in bucket:
                n = p.numel()
                p.grad = flat[offset:offset + n].view_as(p)
                offset += n
        self._armed = False
        self._works, self._flats = [], []


def _aliases_block(leaf: Tensor, param: Tensor, sharding: Sharding) -> bool:
    # Whether 'leaf' is a leaf viewing exactly this rank's block of rows of
    # 'param' (same storage, same row layout).
    if not isinstance(leaf, Tensor) or not leaf.is_leaf or \
            not leaf.requires_grad or param.dim() == 0:
        return False
    start, end = split_range(param.size(0), sharding.world_size,
                             sharding.rank)
    block = param.data[start:end]
    return (leaf.shape == block.shape and leaf.stride() == block.stride()
            and leaf.data_ptr() == block.data_ptr())


__all__ = ['ShardedAdam', 'GradientBuckets']
