r"""Vectorised neighbour sampling on a CSR graph, in pure PyTorch.

Every operation runs over all nodes of a hop at once (no Python loop over
nodes): a node of degree :math:`d_v \le k` keeps all its neighbours, a node
with :math:`d_v > k` gets a uniform random :math:`k`-subset of them, drawn
without replacement by `Floyd's algorithm
<https://doi.org/10.1145/30401.315746>`_ vectorised over the nodes (:math:`k`
rounds of one uniform draw per node, :math:`O(k^2)` comparisons per node,
whatever its degree). Each neighbour is then kept with probability
:math:`s_v / d_v`, :math:`s_v = \min(d_v, k)`, so weighting a kept edge by

.. math::
    \frac{d_v}{s_v}

makes the sampled sum :math:`\frac{d_v}{s_v} \sum_{w \in S_v} a_{vw}
\mathbf{x}_w` an unbiased estimate of :math:`\sum_{w} a_{vw} \mathbf{x}_w`.
A hop's cost is :math:`O(\sum_v \min(d_v, k)^2)` over its frontier, bounded
by the fan-outs, not by the graph.

Everything runs on the device of the CSR (and of the generator), so on a
GPU a batch is sampled there, with no host copy. The host waits for the
device only where a size decides an allocation: the number of neighbours
a hop samples (with the number of nodes above the fan-out, read together),
and the number of nodes a hop reaches first.
"""
from typing import List, NamedTuple, Optional, Sequence, Tuple

import torch
from torch import Tensor

__all__ = ['csr_segments', 'sample_neighbors', 'NeighborSubgraph',
           'sample_subgraph']


def csr_segments(rowptr: Tensor, nodes: Tensor) -> Tuple[Tensor, Tensor]:
    r"""The positions in :obj:`col` of every neighbour of :obj:`nodes`,
    grouped by node, and the number of neighbours of each node."""
    start = rowptr[nodes]
    count = rowptr[nodes + 1] - start
    return _blocks(start, count), count


def _blocks(start: Tensor, count: Tensor,
            total: Optional[int] = None) -> Tensor:
    # The positions start_v, ..., start_v + count_v - 1 of every block, in
    # order: flat position j of block v is start_v + (j - the number of
    # positions before block v). 'total' is count.sum() if known already
    # (otherwise the host reads it: it sizes the output).
    if total is None:
        total = int(count.sum())
    offset = torch.repeat_interleave(start - (count.cumsum(0) - count), count,
                                     output_size=total)
    return offset + torch.arange(total, device=start.device)


def _floyd(degree: Tensor, k: int,
           generator: Optional[torch.Generator]) -> Tensor:
    # Floyd's algorithm for all rows at once: a uniform k-subset of
    # range(d) per row (every d > k), returned as a [n, k] matrix.
    n = degree.numel()
    out = torch.empty(n, k, dtype=torch.long, device=degree.device)
    for i in range(k):
        j = degree - k + i
        # float64 keeps the draw uniform for degrees up to 2^53.
        t = (torch.rand(n, dtype=torch.float64, generator=generator,
                        device=degree.device) * (j + 1)).long()
        t = torch.minimum(t, j)
        seen = (out[:, :i] == t.unsqueeze(1)).any(dim=1)
        out[:, i] = torch.where(seen, j, t)
    return out


def sample_neighbors(rowptr: Tensor, nodes: Tensor, num_neighbors: int,
                     generator: Optional[torch.Generator] = None
                     ) -> Tuple[Tensor, Tensor]:
    r"""Samples at most :obj:`num_neighbors` neighbours of every node of
    :obj:`nodes`, without replacement (:obj:`-1` keeps them all).

    Args:
        rowptr (torch.Tensor): CSR row pointers of the graph, :obj:`[N + 1]`.
        nodes (torch.Tensor): The nodes to sample for.
        num_neighbors (int): The fan-out :math:`k`, or :obj:`-1`.
        generator (torch.Generator, optional): The random source.

    Returns:
        :obj:`(index, count)`: the positions in the graph's :obj:`col` of
        the sampled neighbours, grouped by node in the order of
        :obj:`nodes`, and the number :math:`s_v = \min(d_v, k)` sampled per
        node.
    """
    if num_neighbors != -1 and num_neighbors <= 0:
        raise ValueError(f"'num_neighbors' must be positive or -1 "
                         f"(got {num_neighbors})")
    nodes = nodes.long()
    if num_neighbors == -1:
        return csr_segments(rowptr, nodes)
    start = rowptr[nodes]
    degree = rowptr[nodes + 1] - start
    count = degree.clamp(max=num_neighbors)
    is_large = degree > num_neighbors
    # The output's size and the number of nodes above the fan-out size the
    # allocations below: one host read for both.
    total, num_large = torch.stack([count.sum(), is_large.sum()]).tolist()
    index = torch.empty(total, dtype=torch.long, device=rowptr.device)
    # Where each node's block starts in the output.
    out_start = count.cumsum(0) - count

    # Nodes within the fan-out keep their whole CSR row.
    small = torch.nonzero_static(~is_large,
                                 size=nodes.numel() - num_large).view(-1)
    small_count = count[small]
    small_total = total - num_large * num_neighbors
    index[_blocks(out_start[small], small_count, small_total)] = _blocks(
        start[small], small_count, small_total)

    large = torch.nonzero_static(is_large, size=num_large).view(-1)
    if num_large > 0:
        picked = _floyd(degree[large], num_neighbors, generator)
        picked = picked + start[large].unsqueeze(1)
        slots = out_start[large].unsqueeze(1) + torch.arange(
            num_neighbors, device=rowptr.device)
        index[slots.view(-1)] = picked.view(-1)
    return index, count



class NeighborSubgraph(NamedTuple):
    r"""The sampled :math:`L`-hop subgraph of a set of seed nodes.

    :obj:`node` holds the global ids of its nodes: the seeds first, then the
    nodes first reached at hop 1, 2, ... (each node once); :obj:`row` and
    :obj:`col` are local ids (positions in :obj:`node`) of every sampled
    edge, :obj:`row` the node a neighbour was sampled for and :obj:`col`
    the neighbour, and :obj:`edge` its position in the graph's
    :obj:`col`; :obj:`num_sampled` is :math:`s_v` per local node (zero for
    the last hop's nodes, which are not expanded); :obj:`hop_sizes` the
    number of nodes each hop added, the seeds first.
    """
    node: Tensor
    row: Tensor
    col: Tensor
    edge: Tensor
    num_sampled: Tensor
    hop_sizes: List[int]


def sample_subgraph(rowptr: Tensor, col: Tensor, seeds: Tensor,
                    num_neighbors: Sequence[int],
                    generator: Optional[torch.Generator] = None,
                    node_map: Optional[Tensor] = None,
                    check_seeds: bool = True) -> NeighborSubgraph:
    r"""Samples the :math:`L`-hop neighbourhood of :obj:`seeds` on the CSR
    graph :obj:`(rowptr, col)`, :obj:`num_neighbors[l]` neighbours per node
    at hop :math:`l` (see :func:`sample_neighbors`). As in PyG's
    :class:`~torch_geometric.sampler.NeighborSampler`, every node is
    expanded once, at the first hop that reaches it, so the nodes reached at
    hop :math:`l` get exact inputs for :math:`L - l` layers.

    Args:
        rowptr (torch.Tensor): CSR row pointers, :obj:`[N + 1]`.
        col (torch.Tensor): CSR column indices.
        seeds (torch.Tensor): Distinct seed nodes.
        num_neighbors (list of int): The fan-out of every hop.
        generator (torch.Generator, optional): The random source.
        node_map (torch.Tensor, optional): A scratch :obj:`[N]` long tensor
            filled with :obj:`-1`, restored before returning; pass one to
            keep the cost independent of :math:`N` (otherwise one is
            allocated).
        check_seeds (bool, optional): Checks that the seeds are distinct
            (the check makes the host wait for the device; skip it for
            seeds distinct by construction, e.g. from :func:`torch.unique`).
            (default: :obj:`True`)
    """
    if len(num_neighbors) == 0:
        raise ValueError("'num_neighbors' must hold at least one hop")
    num_nodes = rowptr.numel() - 1
    if node_map is None:
        node_map = torch.full((num_nodes, ), -1, dtype=torch.long,
                              device=rowptr.device)
    seeds = seeds.long()
    nodes = [seeds]
    rows, cols, edges, sampled = [], [], [], []
    n = seeds.numel()
    node_map[seeds] = torch.arange(n, device=seeds.device)
    try:
        # A repeated seed keeps the last of its positions only.
        if check_seeds and bool((node_map[seeds] != torch.arange(
                n, device=seeds.device)).any()):
            raise ValueError("'seeds' must be distinct")
        frontier, first = seeds, 0
        for k in num_neighbors:
            index, count = sample_neighbors(rowptr, frontier, k, generator)
            target = col[index]
            # The nodes reached first (sorted by id): their number sizes the
            # subgraph, so the host reads it.
            new = torch.unique(target[node_map[target] < 0])
            node_map[new] = torch.arange(n, n + new.numel(),
                                         device=new.device)
            rows.append(torch.repeat_interleave(
                torch.arange(first, first + frontier.numel(),
                             device=count.device), count,
                output_size=index.numel()))
            cols.append(node_map[target])
            edges.append(index)
            sampled.append(count)
            nodes.append(new)
            frontier, first, n = new, n, n + new.numel()
        node = torch.cat(nodes)
    finally:
        node_map[torch.cat(nodes)] = -1
    sampled.append(torch.zeros(frontier.numel(), dtype=torch.long,
                               device=rowptr.device))
    return NeighborSubgraph(node, torch.cat(rows), torch.cat(cols),
                            torch.cat(edges), torch.cat(sampled),
                            [t.numel() for t in nodes])
