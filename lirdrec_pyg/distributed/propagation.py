"""LightGCN propagation over row shards."""
from typing import Optional

from torch import Tensor

from lirdrec_pyg.distributed.sharding import Sharding
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
    combine = propagation.combine
    h = x_local
    total = x_local
    for layer in range(propagation.num_layers):
        full = x_full if layer == 0 and x_full is not None else \
            sharding.gather_nodes(h)
        # The rows are a rectangular block: its transpose serves the
        # backward pass (built once, cached on the block).
        h = sparse_propagate(full, adj_rows, normalize=False,
                             symmetric=False)
        if combine != 'last':
            total = total + h
    if combine == 'last':
        return h
    if combine == 'mean':
        total = total / (propagation.num_layers + 1)
    return total


def padded_propagation(propagation: LightGCNPropagation, x_local: Tensor,
                       adj_rows: Tensor, sharding: Sharding) -> Tensor:
    r"""This rank's rows of :obj:`propagation(x, adj)` in its padded local
    layout (see :func:`~lirdrec_pyg.distributed.padded_adjacency`): every
    layer multiplies the rank's rows of the adjacency by the gathered padded
    rows of the previous layer
    (:meth:`~lirdrec_pyg.distributed.Sharding.gather_padded`), with no
    reordering in between; the padding rows stay zero.

    Args:
        propagation (LightGCNPropagation): The layer (its number of layers
            and combination).
        x_local (torch.Tensor): The rank's padded rows of
            :math:`\mathbf{E}^{(0)}`, :obj:`[padded_users + padded_items, F]`
            (zero in the padding).
        adj_rows (torch.Tensor): The rank's padded rows of the adjacency,
            columns in the layout of :meth:`Sharding.gather_padded`.
        sharding (Sharding): The rank's share.
    """
    combine = propagation.combine
    h = x_local
    total = x_local
    for _ in range(propagation.num_layers):
        h = sparse_propagate(sharding.gather_padded(h), adj_rows,
                             normalize=False, symmetric=False)
        if combine != 'last':
            total = total + h
    if combine == 'last':
        return h
    if combine == 'mean':
        total = total / (propagation.num_layers + 1)
    return total


__all__ = ['sharded_propagation', 'padded_propagation']
