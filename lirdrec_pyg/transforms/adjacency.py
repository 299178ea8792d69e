"""The symmetrically normalised user-item adjacency used by LightGCN-style propagation."""
import warnings
from typing import Optional

import torch
from torch import Tensor
from torch_geometric.data import HeteroData
from torch_geometric.transforms import BaseTransform

UI = ('user', 'interacts', 'item')


def csr_from_coo(row: Tensor, col: Tensor, value: Tensor, num_rows: int,
                 num_cols: int) -> Tensor:
    r"""Builds a ``torch.sparse_csr_tensor`` from (unsorted, duplicate-free)
    coordinates without going through autograd or a COO coalesce."""
    key = row * num_cols + col
    perm = torch.argsort(key)
    row, col, value = row[perm], col[perm], value[perm]
    crow = torch.zeros(num_rows + 1, dtype=torch.long, device=row.device)
    crow[1:] = torch.cumsum(torch.bincount(row, minlength=num_rows), 0)
    with warnings.catch_warnings():
        # CSR support is flagged "beta" by torch; it is what we measured fastest.
        warnings.simplefilter('ignore', UserWarning)
        return torch.sparse_csr_tensor(crow, col, value, (num_rows, num_cols))


def bipartite_normalized_adjacency(
    edge_index: Tensor,
    num_users: int,
    num_items: int,
    edge_weight: Optional[Tensor] = None,
    eps: float = 1e-7,
) -> Tensor:
    r"""The symmetric normalised adjacency of a user-item bipartite graph,

    .. math::
        \hat{\mathbf{A}} = \mathbf{D}^{-1/2} \begin{pmatrix} \mathbf{0} &
        \mathbf{R} \\ \mathbf{R}^{\top} & \mathbf{0} \end{pmatrix}
        \mathbf{D}^{-1/2},

    over ``num_users + num_items`` nodes (users first, then items), returned as
    a CSR tensor. Isolated nodes get an all-zero row (the degree is guarded by
    :obj:`eps`, as the reference toolbox does).

    Args:
        edge_index (torch.Tensor): User-item interactions of shape
            :obj:`[2, num_edges]` (row 0 users, row 1 items), without
            duplicates.
        num_users (int): The number of users.
        num_items (int): The number of items.
        edge_weight (torch.Tensor, optional): Weights of the interactions
            (default: :obj:`None`, all ones).
        eps (float, optional): Added to the degree before the inverse square
            root. (default: :obj:`1e-7`)
    """
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(f"'edge_index' must have shape [2, num_edges] "
                         f"(got {tuple(edge_index.shape)})")
    user, item = edge_index[0].long(), edge_index[1].long()
    if user.numel() > 0:
        if int(user.min()) < 0 or int(user.max()) >= num_users:
            raise ValueError(f"user ids must lie in [0, {num_users}) "
                             f"(got range [{int(user.min())}, "
                             f"{int(user.max())}])")
        if int(item.min()) < 0 or int(item.max()) >= num_items:
            raise ValueError(f"item ids must lie in [0, {num_items}) "
                             f"(got range [{int(item.min())}, "
                             f"{int(item.max())}])")
    if edge_weight is None:
        edge_weight = torch.ones(user.numel(), device=user.device)
    num_nodes = num_users + num_items
    row = torch.cat([user, item + num_users])
    col = torch.cat([item + num_users, user])
    value = torch.cat([edge_weight, edge_weight]).float()
    deg = torch.zeros(num_nodes, device=user.device).index_add_(0, row, value)
    deg_inv_sqrt = (deg + eps).pow(-0.5)
    value = deg_inv_sqrt[row] * value * deg_inv_sqrt[col]
    return csr_from_coo(row, col, value, num_nodes, num_nodes)


class UserItemAdjacency(BaseTransform):
    r"""Stores the normalised bipartite adjacency of the training interactions
    (see :func:`bipartite_normalized_adjacency`) as :obj:`data.ui_adj`, so that
    every model built from the same :class:`HeteroData` shares one copy.

    Args:
        eps (float, optional): Degree guard. (default: :obj:`1e-7`)
    """
    def __init__(self, eps: float = 1e-7) -> None:
        self.eps = eps

    def forward(self, data: HeteroData) -> HeteroData:
        data.ui_adj = bipartite_normalized_adjacency(
            data[UI].edge_index, data['user'].num_nodes,
            data['item'].num_nodes, eps=self.eps)
        return data

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(eps={self.eps})'


def get_ui_adjacency(data: HeteroData) -> Tensor:
    r"""Returns :obj:`data.ui_adj`, computing and caching it on first use."""
    adj = getattr(data, 'ui_adj', None)
    if adj is None:
        # In place (a transform call would work on a shallow copy).
        adj = UserItemAdjacency().forward(data).ui_adj
    return adj
