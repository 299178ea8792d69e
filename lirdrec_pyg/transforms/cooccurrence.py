r"""The user-user co-occurrence graph of DualGNN and DRAGON: every user is
linked to the :math:`k` users with whom it shares the most training items."""
from typing import Tuple

import torch
from torch import Tensor
from torch_geometric.data import HeteroData
from torch_geometric.transforms import BaseTransform

from lirdrec_pyg.checks import check_one_of, check_positive
from lirdrec_pyg.data.hetero import split_edge_index
from lirdrec_pyg.transforms.adjacency import check_edge_index, csr_from_coo

UI = ('user', 'interacts', 'item')
UU = ('user', 'cooccurs', 'user')
NORMALIZATIONS = ('softmax', 'mean', 'none')


def user_cooccurrence_graph(
    edge_index: Tensor,
    num_users: int,
    num_items: int,
    k: int = 40,
    block_size: int = 1024,
) -> Tuple[Tensor, Tensor]:
    r"""The top-:math:`k` user co-occurrence graph of `"DualGNN: Dual Graph
    Neural Network for Multimedia Recommendation"
    <https://doi.org/10.1109/TMM.2021.3138298>`_, also used by DRAGON.
    With :math:`\mathbf{R}` the binary user-item matrix,

    .. math::
        \mathbf{C} = \mathbf{R}\mathbf{R}^{\top}, \qquad
        \mathcal{N}_k(u) = \operatorname{top-}k_{v \neq u,\,
        C_{uv} > 0} \; C_{uv},

    i.e. user :math:`u` is linked to the (at most) :math:`k` other users with
    the largest number :math:`C_{uv}` of co-interacted items; users sharing
    no item are never linked. Ties are broken towards the smaller user id.
    The counts are computed in blocks of :obj:`block_size` users (memory
    :math:`O(|\mathcal{U}| \cdot \text{block\_size})`).

    Returns :obj:`(edge_index, edge_weight)`: row 0 the centre user
    :math:`u`, row 1 the neighbour :math:`v`, grouped by :math:`u` and by
    decreasing count within a group; :obj:`edge_weight` holds :math:`C_{uv}`
    as floats. The graph is not symmetric in general.

    Args:
        edge_index (torch.Tensor): Training interactions of shape
            :obj:`[2, num_edges]` (row 0 users, row 1 items). Duplicates are
            counted once.
        num_users (int): The number of users.
        num_items (int): The number of items.
        k (int, optional): Neighbours per user. (default: :obj:`40`, as in
            the reference DRAGON code)
        block_size (int, optional): Users per block. (default: :obj:`1024`)
    """
    check_positive('k', k)
    check_positive('block_size', block_size)
    check_edge_index(edge_index, num_users, num_items)
    device = edge_index.device
    edge_index = torch.unique(edge_index.long(), dim=1)  # sorted by user
    user, item = edge_index[0], edge_index[1]
    ones = torch.ones(user.numel(), device=device)
    rmat = csr_from_coo(user, item, ones, num_users, num_items)
    ptr = torch.zeros(num_users + 1, dtype=torch.long, device=device)
    ptr[1:] = torch.cumsum(torch.bincount(user, minlength=num_users), 0)

    k_eff = min(k, num_users - 1)
    rows, cols, vals = [], [], []
    if k_eff <= 0 or user.numel() == 0:
        empty = torch.empty(0, dtype=torch.long, device=device)
        return torch.stack([empty, empty]), ones.new_empty(0)
    # Larger key = more shared items, then smaller neighbour id: exact in
    # int64, so the selection is deterministic.
    tie = num_users - 1 - torch.arange(num_users, device=device)
    for start in range(0, num_users, block_size):
        end = min(start + block_size, num_users)
        lo, hi = int(ptr[start]), int(ptr[end])
        block_t = torch.zeros(num_items, end - start, device=device)
        block_t[item[lo:hi], user[lo:hi] - start] = 1.0
        # Row-major before topk: on a transposed view it is ~20x slower.
        key = torch.sparse.mm(rmat, block_t).t().round().long().contiguous()
        centre = torch.arange(start, end, device=device)
        key[centre - start, centre] = 0
        key.mul_(num_users).add_(tie)
        top_key, top_idx = key.topk(k_eff, dim=1)
        top_count = torch.div(top_key, num_users, rounding_mode='floor')
        mask = top_count > 0
        rows.append(centre.view(-1, 1).expand_as(top_idx)[mask])
        cols.append(top_idx[mask])
        vals.append(top_count[mask].float())
    return torch.stack([torch.cat(rows), torch.cat(cols)]), torch.cat(vals)


def user_graph_adjacency(edge_index: Tensor, edge_weight: Tensor,
                         num_users: int,
                         normalization: str = 'softmax') -> Tensor:
    r"""Turns a user co-occurrence graph into the :obj:`num_users x
    num_users` CSR aggregation matrix :math:`\mathbf{S}` with
    :math:`\mathbf{h}_u = \sum_v S_{uv}\, \mathbf{e}_v`:

    .. math::
        S_{uv} = \frac{\exp C_{uv}}{\sum_{w \in \mathcal{N}_k(u)} \exp C_{uw}}
        \; (\text{softmax}), \qquad
        S_{uv} = \frac{1}{|\mathcal{N}_k(u)|} \; (\text{mean}), \qquad
        S_{uv} = C_{uv} \; (\text{none}),

    the softmax being the user aggregation of DualGNN and DRAGON. Users
    without neighbours get an empty row. :math:`\mathbf{S}` is not symmetric:
    propagate with :obj:`symmetric=False`.

    Args:
        edge_index (torch.Tensor): Centre users in row 0, neighbours in row 1.
        edge_weight (torch.Tensor): The co-occurrence counts :math:`C_{uv}`.
        num_users (int): The number of users.
        normalization (str, optional): :obj:`"softmax"`, :obj:`"mean"` or
            :obj:`"none"`. (default: :obj:`"softmax"`)
    """
    check_one_of('normalization', normalization, NORMALIZATIONS)
    if edge_weight.numel() != edge_index.size(1):
        raise ValueError(f"'edge_weight' has {edge_weight.numel()} entries "
                         f"but 'edge_index' has {edge_index.size(1)} edges")
    row, col = edge_index[0], edge_index[1]
    value = edge_weight.float()
    if normalization == 'softmax':
        # Shift by the row maximum for a stable exponential.
        row_max = torch.full((num_users,), float('-inf'), device=value.device)
        row_max = row_max.scatter_reduce(0, row, value, 'amax')
        value = (value - row_max[row]).exp()
    elif normalization == 'mean':
        value = torch.ones_like(value)
    if normalization != 'none':
        total = torch.zeros(num_users, device=value.device)
        total = total.index_add_(0, row, value)
        value = value / total[row]
    return csr_from_coo(row, col, value, num_users, num_users)


class UserCooccurrenceGraph(BaseTransform):
    r"""Stores the top-:math:`k` user co-occurrence graph of the training
    interactions (see :func:`user_cooccurrence_graph`) as
    :obj:`data['user', 'cooccurs', 'user'].edge_index` with the counts in
    :obj:`.edge_weight` and :math:`k` in :obj:`.k`.

    Args:
        k (int, optional): Neighbours per user. (default: :obj:`40`)
        block_size (int, optional): Users per block. (default: :obj:`1024`)
    """
    def __init__(self, k: int = 40, block_size: int = 1024) -> None:
        check_positive('k', k)
        self.k = k
        self.block_size = block_size

    def forward(self, data: HeteroData) -> HeteroData:
        edge_index, edge_weight = user_cooccurrence_graph(
            split_edge_index(data, 'train'), data['user'].num_nodes,
            data['item'].num_nodes, self.k, self.block_size)
        data[UU].edge_index = edge_index
        data[UU].edge_weight = edge_weight
        data[UU].k = self.k
        return data

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(k={self.k})'


def get_user_graph(data: HeteroData, k: int = 40) -> Tuple[Tensor, Tensor]:
    r"""Returns :obj:`(edge_index, edge_weight)` of
    :obj:`data['user', 'cooccurs', 'user']`, (re)computing and caching it in
    place when it is missing or was built with another :math:`k`."""
    if UU not in data.edge_types or getattr(data[UU], 'k', None) != k:
        UserCooccurrenceGraph(k).forward(data)
    return data[UU].edge_index, data[UU].edge_weight
