"""LightGCN propagation over row shards."""
from typing import Callable, Dict, List, Optional, Tuple

import torch

from torch import Tensor

from lirdrec_pyg.distributed.sharding import (Sharding, _coo_of_csr,
                                              _sorted_csr)
from lirdrec_pyg.nn.propagation import LightGCNPropagation, sparse_propagate


def sharded_propagation(propagation: LightGCNPropagation, x_local: Tensor,
                        adj_rows: Tensor, sharding: Sharding,
                        x_full: Optional[Tensor] = None) -> Tensor:
    r"""This rank's rows of :obj:`propagation(x, adj)`: every layer
    :math:`\mathbf{E}^{(l+1)}_R = \hat{\mathbf{A}}_{R,:}\,\mathbf{E}^{(l)}`
    takes the rows :math:`R` of the adjacency that the rank owns
    (:func:`~lirdrec_pyg.distributed.sharded_adjacency`) times all rows of
    the previous layer, gathered with
    :meth:`~lirdrec_pyg.distributed.Sharding.gather_nodes` (differentiable),
    and the layers are combined as :obj:`propagation.combine` says.

    Args:
        propagation (LightGCNPropagation): The layer (its number of layers
            and combination).
        x_local (torch.Tensor): The rank's rows of :math:`\mathbf{E}^{(0)}`
            (its users, then its items), :obj:`[|R|, F]`.
        adj_rows (torch.Tensor): The rank's rows of the adjacency, CSR
            :obj:`[|R|, U + I]`.
        sharding (Sharding): The rank's share.
        x_full (torch.Tensor, optional): All rows of
            :math:`\mathbf{E}^{(0)}` if every rank has them already (e.g. a
            replicated embedding table), which spares the first gather.
    """
    def gather(h: Tensor, layer: int) -> Tensor:
        if layer == 0 and x_full is not None:
            return x_full
        return sharding.gather_nodes(h)

    return _propagate_rows(propagation, x_local, adj_rows, gather)


def _propagate_rows(propagation: LightGCNPropagation, x_local: Tensor,
                    adj_rows: Tensor,
                    gather: Callable[[Tensor, int], Tensor]) -> Tensor:
    # Every layer: the rank's rows of the adjacency times the gathered
    # previous layer, combined as propagation.combine says. The rows are a
    # rectangular block: its transpose serves the backward pass (built
    # once, cached on the block).
    combine = propagation.combine
    h = x_local
    total = x_local
    for layer in range(propagation.num_layers):
        h = sparse_propagate(gather(h, layer), adj_rows, normalize=False,
                             symmetric=False)
        if combine != 'last':
            total = total + h
    if combine == 'last':
        return h
    if combine == 'mean':
        total = total / (propagation.num_layers + 1)
    return total


def _layer_weights(propagation: LightGCNPropagation) -> List[float]:
    # The weight of A^l x in the combination, l = 0..L.
    L, combine = propagation.num_layers, propagation.combine
    if combine == 'last':
        return [0.0] * L + [1.0]
    return [1.0 / (L + 1) if combine == 'mean' else 1.0] * (L + 1)


def bipartite_blocks(adj: Tensor, sharding: Sharding
                     ) -> Tuple[Tensor, Tensor]:
    r"""The two blocks of a user-item adjacency :obj:`[U + I, U + I]`
    (users first, no user-user or item-item entries) that
    :func:`bipartite_propagation` multiplies on :obj:`sharding`'s rank: the
    rows of its users restricted to the item columns, CSR
    :obj:`[num_local_users, I]`, and the item rows restricted to the columns
    of its users, CSR :obj:`[I, num_local_users]`."""
    if adj.layout != torch.sparse_csr:
        raise ValueError(f"'adj' must be a CSR tensor (got {adj.layout})")
    U, I = sharding.num_users, sharding.num_items
    if tuple(adj.shape) != (U + I, U + I):
        raise ValueError(f"'adj' must have shape [{U + I}, {U + I}] (got "
                         f"{list(adj.shape)})")
    row, col, value = _coo_of_csr(adj)
    if bool(((row < U) == (col < U)).any()):
        raise ValueError("'adj' must be bipartite (no user-user or "
                         "item-item entries) for the sharded propagation")
    start, end = sharding.user_range
    nu = end - start
    mine = (row >= start) & (row < end)
    user_item = _sorted_csr(row[mine] - start, col[mine] - U, value[mine],
                            (nu, I))
    mine = (col >= start) & (col < end)
    item_user = _sorted_csr(row[mine] - U, col[mine] - start, value[mine],
                            (I, nu))
    return user_item, item_user


def bipartite_propagation(propagation: LightGCNPropagation, users: Tensor,
                          items: Tensor, user_item: Tensor,
                          item_user: Tensor, sharding: Sharding
                          ) -> Tuple[Tensor, Tensor]:
    r"""The propagation of a bipartite user-item graph with the **users**
    split over the ranks and the (fewer) items whole on every rank: every
    layer computes the rank's users from all items,
    :math:`\mathbf{U}^{(l)}_R = \mathbf{A}_{R,I}\,\mathbf{I}^{(l-1)}`, and
    every item from the users of all ranks,
    :math:`\mathbf{I}^{(l)} = \sum_r \mathbf{A}_{I,R_r}\,
    \mathbf{U}^{(l-1)}_{R_r}`, each rank adding its users' part in an
    all-reduce (:meth:`~lirdrec_pyg.distributed.Sharding.all_reduce_sum`,
    whose backward pass sums the gradient the same way). Only item-sized
    tensors cross between the ranks, and the layers of the two parity
    chains (from the users and from the items) share their all-reduces:
    :math:`\lceil L / 2 \rceil` per direction.

    Args:
        propagation (LightGCNPropagation): The layer (its number of layers
            and combination).
        users (torch.Tensor): The rank's users' rows of
            :math:`\mathbf{E}^{(0)}`, :obj:`[num_local_users, F]`.
        items (torch.Tensor): Every item's row of :math:`\mathbf{E}^{(0)}`,
            :obj:`[I, F]`, the same on every rank.
        user_item (torch.Tensor): The rank's users' rows of the item
            columns, from :func:`bipartite_blocks`.
        item_user (torch.Tensor): The item rows of the rank's users'
            columns, from :func:`bipartite_blocks`.
        sharding (Sharding): The rank's share.

    Returns:
        The rank's users' propagated rows and every item's, the latter the
        same on every rank.
    """
    weights = _layer_weights(propagation)
    L = propagation.num_layers
    user_layers, item_layers = {0: users}, {0: items}
    while len(item_layers) <= L:
        for layer in range(1, L + 1):
            if layer not in user_layers and layer - 1 in item_layers:
                user_layers[layer] = sparse_propagate(
                    item_layers[layer - 1], user_item, normalize=False,
                    symmetric=False)
        pending = [layer for layer in range(1, L + 1)
                   if layer not in item_layers and layer - 1 in user_layers]
        parts = [sparse_propagate(user_layers[layer - 1], item_user,
                                  normalize=False, symmetric=False)
                 for layer in pending]
        # Stacked by rows, so that every layer is a contiguous block.
        summed = sharding.all_reduce_sum(torch.cat(parts)
                                         if len(parts) > 1 else parts[0])
        item_layers.update(zip(pending, summed.split(items.size(0))))
    for layer in range(1, L + 1):
        if layer not in user_layers:
            user_layers[layer] = sparse_propagate(
                item_layers[layer - 1], user_item, normalize=False,
                symmetric=False)
    return (_combine(user_layers, weights), _combine(item_layers, weights))


def _combine(layers: Dict[int, Tensor], weights: List[float]) -> Tensor:
    total: Optional[Tensor] = None
    for layer, weight in enumerate(weights):
        if weight:
            term = layers[layer] if weight == 1.0 else layers[layer] * weight
            total = term if total is None else total + term
    assert total is not None
    return total


__all__ = ['sharded_propagation', 'bipartite_blocks',
           'bipartite_propagation']
