"""The symmetrically normalised user-item adjacency used by LightGCN-style propagation."""
import warnings
from typing import Any, Optional, Sequence, Tuple

import torch
from torch import Tensor
from torch_geometric.data import HeteroData
from torch_geometric.transforms import BaseTransform

from lirdrec_pyg.data.hetero import user_item_edge_type

UI = ('user', 'interacts', 'item')

# Marks a library adjacency carries (plain attributes on the tensor object;
# a moved or converted tensor is a new object without them).
NORMALIZED_MARK = '_lirdrec_normalized'
SYMMETRIC_MARK = '_lirdrec_symmetric'
MARKS = (NORMALIZED_MARK, SYMMETRIC_MARK)


def mark_adjacency(adj: Tensor, normalized: Optional[bool] = None,
                   symmetric: Optional[bool] = None) -> Tensor:
    r"""Records on the sparse tensor :obj:`adj` that it is already
    normalised and/or symmetric, so that propagation uses it as it is and
    takes the symmetric backward pass without a check. Returns :obj:`adj`.

    Only mark what is true by construction: a wrong mark gives wrong
    gradients. Marks live on the tensor object; :meth:`torch.Tensor.to`
    returns a new tensor without them (see :func:`copy_marks`).
    """
    if normalized is not None:
        setattr(adj, NORMALIZED_MARK, bool(normalized))
    if symmetric is not None:
        setattr(adj, SYMMETRIC_MARK, bool(symmetric))
    return adj


def copy_marks(src: Any, dst: Any) -> Any:
    r"""Copies the marks of :func:`mark_adjacency` from :obj:`src` to
    :obj:`dst` (e.g. after :obj:`dst = src.to(device)`) and returns
    :obj:`dst`."""
    if dst is not src and isinstance(dst, Tensor):
        for mark in MARKS:
            if hasattr(src, mark):
                setattr(dst, mark, getattr(src, mark))
    return dst


def csr_from_coo(row: Tensor, col: Tensor, value: Tensor, num_rows: int,
                 num_cols: int) -> Tensor:
    r"""Builds a ``torch.sparse_csr_tensor`` from (unsorted, duplicate-free)
    coordinates without going through autograd or a COO coalesce."""
    key = row * num_cols + col
    perm = torch.argsort(key)
    row, col, value = row[perm], col[perm], value[perm]
    # Row r starts at the first entry not below r; unlike bincount, this
    # needs no host read of the largest row id on a GPU.
    crow = torch.searchsorted(row, torch.arange(num_rows + 1,
                                                device=row.device))
    with warnings.catch_warnings():
        # CSR support is flagged "beta" by torch; it is what we measured fastest.
        warnings.simplefilter('ignore', UserWarning)
        return torch.sparse_csr_tensor(crow, col, value, (num_rows, num_cols))


def add_identity(adj: Tensor) -> Tensor:
    r"""Returns :math:`\mathbf{I} + \mathbf{A}` for a square sparse
    :obj:`adj` (CSR or COO), as a CSR tensor; existing diagonal entries are
    increased by one."""
    if adj.dim() != 2 or adj.size(0) != adj.size(1):
        raise ValueError(f"'adj' must be a square matrix (got shape "
                         f"{list(adj.shape)})")
    n = adj.size(0)
    coo = adj.to_sparse_coo().coalesce()
    diag = torch.arange(n, device=coo.device)
    row = torch.cat([coo.indices()[0], diag])
    col = torch.cat([coo.indices()[1], diag])
    value = torch.cat([coo.values(), coo.values().new_ones(n)])
    out = torch.sparse_coo_tensor(torch.stack([row, col]), value,
                                  (n, n)).coalesce()
    return csr_from_coo(out.indices()[0], out.indices()[1], out.values(), n,
                        n)


def check_edge_index(edge_index: Tensor, num_users: int,
                     num_items: int) -> None:
    r"""Raises a :class:`ValueError` unless :obj:`edge_index` has shape
    :obj:`[2, num_edges]` with user ids (row 0) in :obj:`[0, num_users)` and
    item ids (row 1) in :obj:`[0, num_items)`."""
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(f"'edge_index' must have shape [2, num_edges] "
                         f"(got {tuple(edge_index.shape)})")
    if edge_index.numel() == 0:
        return
    for row, n, what in ((edge_index[0], num_users, 'user'),
                         (edge_index[1], num_items, 'item')):
        if int(row.min()) < 0 or int(row.max()) >= n:
            raise ValueError(f"{what} ids must lie in [0, {n}) (got range "
                             f"[{int(row.min())}, {int(row.max())}])")


def interaction_degrees(edge_index: Tensor, num_users: int,
                        num_items: int) -> Tuple[Tensor, Tensor]:
    r"""The float degrees :math:`(d_u)_{u}` and :math:`(d_i)_{i}` of the
    users and items of the interactions :obj:`edge_index` (every column
    counted once)."""
    user, item = edge_index[0], edge_index[1]
    ones = torch.ones(user.numel(), device=user.device)
    deg_u = torch.zeros(num_users, device=user.device).index_add_(0, user,
                                                                 ones)
    deg_i = torch.zeros(num_items, device=user.device).index_add_(0, item,
                                                                 ones)
    return deg_u, deg_i


def interaction_matrix(edge_index: Tensor, num_users: int, num_items: int,
                       normalization: str = 'none') -> Tensor:
    r"""The :obj:`[num_users, num_items]` interaction matrix
    :math:`\mathbf{R}` as a CSR tensor, optionally normalised as the
    user-item block of the symmetric bipartite adjacency,

    .. math::
        \mathbf{D}_U^{-1/2} \mathbf{R} \mathbf{D}_I^{-1/2}.

    Args:
        edge_index (torch.Tensor): Interactions :obj:`[2, num_edges]` (row 0
            users, row 1 items), without duplicates.
        num_users (int): The number of users.
        num_items (int): The number of items.
        normalization (str, optional): :obj:`"none"` (binary entries) or
            :obj:`"sym"` (the formula above). (default: :obj:`"none"`)
    """
    if normalization not in ('none', 'sym'):
        raise ValueError(f"'normalization' must be 'none' or 'sym' "
                         f"(got '{normalization}')")
    check_edge_index(edge_index, num_users, num_items)
    user, item = edge_index[0], edge_index[1]
    if normalization == 'sym':
        deg_u, deg_i = interaction_degrees(edge_index, num_users, num_items)
        value = (deg_u[user] * deg_i[item]).pow(-0.5)
    else:
        value = torch.ones(user.numel(), device=user.device)
    return csr_from_coo(user, item, value, num_users, num_items)


def _bipartite_coo(edge_index: Tensor, num_users: int,
                   num_items: int) -> Tuple[Tensor, Tensor]:
    r"""The checked user-item edges in both directions on one node numbering
    (users first, then items): :obj:`(row, col)` of
    :math:`\begin{pmatrix} \mathbf{0} & \mathbf{R} \\ \mathbf{R}^{\top}
    & \mathbf{0} \end{pmatrix}`."""
    check_edge_index(edge_index, num_users, num_items)
    user, item = edge_index[0].long(), edge_index[1].long() + num_users
    return torch.cat([user, item]), torch.cat([item, user])


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
    row, col = _bipartite_coo(edge_index, num_users, num_items)
    if edge_weight is None:
        edge_weight = torch.ones(edge_index.size(1), device=row.device)
    num_nodes = num_users + num_items
    value = torch.cat([edge_weight, edge_weight]).float()
    deg = torch.zeros(num_nodes, device=row.device).index_add_(0, row, value)
    deg_inv_sqrt = (deg + eps).pow(-0.5)
    value = deg_inv_sqrt[row] * value * deg_inv_sqrt[col]
    # Symmetric by construction: propagation uses it as it is and takes the
    # cheap symmetric backward pass without a check.
    return mark_adjacency(csr_from_coo(row, col, value, num_nodes,
                                       num_nodes),
                          normalized=True, symmetric=True)


def _source_key(data: HeteroData, edge_type: Tuple[str, str, str],
                eps: float) -> Tuple[Any, ...]:
    store = data[edge_type]
    edge_index = getattr(store, 'edge_index', None)
    if edge_index is None:
        raise ValueError(f"data[{edge_type}].edge_index is missing: the "
                         f"user-item adjacency needs the training edges")
    return (edge_type, edge_index, edge_index._version,
            data[edge_type[0]].num_nodes, data[edge_type[2]].num_nodes, eps)


def _same_source(a: Tuple[Any, ...], b: Tuple[Any, ...]) -> bool:
    # The edge tensor is compared by identity plus its in-place version.
    return a[0] == b[0] and a[1] is b[1] and a[2:] == b[2:]


def bipartite_self_loop_adjacency(edge_index: Tensor, num_users: int,
                                  num_items: int) -> Tensor:
    r"""The random-walk normalised user-item adjacency with self-loops of
    the LATTICE reference code,

    .. math::
        \hat{\mathbf{A}} = (\mathbf{D} + \mathbf{I})^{-1} \left(
        \begin{pmatrix} \mathbf{0} & \mathbf{R} \\ \mathbf{R}^{\top} &
        \mathbf{0} \end{pmatrix} + \mathbf{I} \right),

    each row an average over the node and its neighbours (not symmetric), over
    ``num_users + num_items`` nodes (users first), as a CSR tensor.

    Args:
        edge_index (torch.Tensor): User-item interactions of shape
            :obj:`[2, num_edges]` (row 0 users, row 1 items), without
            duplicates.
        num_users (int): The number of users.
        num_items (int): The number of items.
    """
    row, col = _bipartite_coo(edge_index, num_users, num_items)
    num_nodes = num_users + num_items
    loops = torch.arange(num_nodes, device=row.device)
    row, col = torch.cat([row, loops]), torch.cat([col, loops])
    deg = torch.zeros(num_nodes, device=row.device).index_add_(
        0, row, torch.ones(row.numel(), device=row.device))
    return csr_from_coo(row, col, 1.0 / deg[row], num_nodes, num_nodes)


class UserItemAdjacency(BaseTransform):
    r"""Stores the normalised bipartite adjacency of the training interactions
    (see :func:`bipartite_normalized_adjacency`) as :obj:`data.ui_adj`, so that
    every model built from the same :class:`HeteroData` shares one copy.
    The stored tensor remembers which edges it was built from, so
    :func:`get_ui_adjacency` rebuilds it when they change.

    Args:
        eps (float, optional): Degree guard. (default: :obj:`1e-7`)
        edge_type (tuple[str, str, str], optional): The user-item relation
            (default: :obj:`None`:
            :func:`~lirdrec_pyg.data.hetero.user_item_edge_type`, i.e.
            :obj:`('user', 'interacts', 'item')` or the only user-to-item
            relation).
    """
    def __init__(self, eps: float = 1e-7,
                 edge_type: Optional[Sequence[str]] = None) -> None:
        self.eps = eps
        self.edge_type = None if edge_type is None else tuple(edge_type)

    def forward(self, data: HeteroData) -> HeteroData:
        edge_type = user_item_edge_type(data, self.edge_type)
        key = _source_key(data, edge_type, self.eps)
        adj = bipartite_normalized_adjacency(
            key[1], int(key[3]), int(key[4]), eps=self.eps)
        adj._lirdrec_source = key
        data.ui_adj = adj
        return data

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(eps={self.eps})'


def get_ui_adjacency(data: HeteroData,
                     edge_type: Optional[Sequence[str]] = None) -> Tensor:
    r"""Returns :obj:`data.ui_adj`, the normalised adjacency of the
    training interactions (see :func:`bipartite_normalized_adjacency`),
    computing and caching it on first use. The cache is rebuilt when the
    training :obj:`edge_index` was replaced or changed in place, the node
    counts or the relation differ, or it cannot tell what it was built from
    (e.g. after :meth:`data.to`).

    Args:
        data (HeteroData): The graph.
        edge_type (tuple[str, str, str], optional): The user-item relation
            (default: :obj:`None`, see
            :func:`~lirdrec_pyg.data.hetero.user_item_edge_type`).
    """
    edge_type_ = user_item_edge_type(data, edge_type)
    adj = getattr(data, 'ui_adj', None)
    source = getattr(adj, '_lirdrec_source', None)
    if adj is None or source is None or not _same_source(
            source, _source_key(data, edge_type_, source[5])):
        # In place (a transform call would work on a shallow copy).
        adj = UserItemAdjacency(edge_type=edge_type_).forward(data).ui_adj
    return adj
