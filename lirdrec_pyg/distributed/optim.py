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
        self._adam_params = [self.views.get(i, p)
                             for i, p in enumerate(self.params)]
        self.adam = make_adam(self._adam_params)

    @property
    def param_groups(self) -> List[Dict[str, Any]]:
        return self.adam.param_groups

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            p.grad = None
        for v in self.views.values():
            v.grad = None

    def step(self) -> None:
        r"""Sums the shared parameters' gradients over the ranks and updates
        them and this rank's owned rows."""
        self.sharding.all_reduce_gradients(self.shared)
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


__all__ = ['ShardedAdam']
