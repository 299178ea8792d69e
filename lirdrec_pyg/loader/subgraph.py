r"""Sampled-subgraph mini-batches of BPR triples.

A batch of :math:`(u, i^+, i^-)` triples needs the :math:`L`-layer
representations of its users and items only. Their :math:`L`-hop
neighbourhood is sampled on the bipartite graph in one index space (users
first, then items) by :func:`~lirdrec_pyg.loader.sample_subgraph` (the
scheme of PyG's :class:`~torch_geometric.sampler.NeighborSampler`, the
sampler of :class:`~torch_geometric.loader.NeighborLoader`, vectorised in
pure PyTorch), and the propagation runs on that subgraph, with the **full
graph's** normalisation

.. math::
    \tilde{a}_{vw} = \frac{1}{\sqrt{d_v d_w}} \cdot \frac{d_v}{s_v},

for a sampled edge :math:`w \to v`, where :math:`d` are the degrees in the
training graph and :math:`s_v` the number of neighbours sampled for
:math:`v`. The factor :math:`d_v / s_v` makes the sampled sum an unbiased
estimate of the full one; with every neighbour kept it is one, and the seed
nodes' outputs equal full-graph propagation exactly. A step costs
:math:`O(B \prod_l k_l)` whatever the size of the graph, so an epoch of
:math:`E / B` steps is linear in the number of interactions :math:`E`.
"""
import warnings
from typing import Iterator, List, NamedTuple, Optional, Sequence, Union

import torch
from torch import Tensor

from lirdrec_pyg.loader.neighbor import sample_subgraph
from lirdrec_pyg.transforms.adjacency import check_edge_index

__all__ = ['SubgraphBatch', 'BPRSubgraphSampler', 'BPRSubgraphLoader',
           'resolve_num_neighbors']


class SubgraphBatch(NamedTuple):
    r"""A mini-batch of BPR triples with the subgraph it needs: :obj:`node`
    holds the global ids of the subgraph's nodes (users :math:`< U`, items
    :math:`U + i`), the :obj:`num_seeds` seeds first; :obj:`adj` is the
    subgraph's propagation matrix, CSR of shape :obj:`[n, n]`, row :math:`v`
    holding :math:`\tilde{a}_{vw}` of its sampled neighbours :math:`w` (not
    symmetric); :obj:`users`, :obj:`pos_items`, :obj:`neg_items` are the
    triples as positions in :obj:`node`, and :obj:`user_ids`,
    :obj:`pos_item_ids`, :obj:`neg_item_ids` the same triples as global user
    and item ids.
    """
    node: Tensor
    adj: Tensor
    num_seeds: int
    users: Tensor
    pos_items: Tensor
    neg_items: Tensor
    user_ids: Tensor
    pos_item_ids: Tensor
    neg_item_ids: Tensor

    def local(self, ids: Tensor, offset: int = 0) -> Tensor:
        r"""Positions in :obj:`node` of the global ids :obj:`ids + offset`
        (e.g. :obj:`offset=num_users` for item ids), which must be seeds."""
        seeds = self.node[:self.num_seeds]
        order = torch.argsort(seeds)
        query = ids + offset
        pos = torch.searchsorted(seeds[order], query).clamp_(
            max=self.num_seeds - 1)
        found = order[pos]
        if not bool((seeds[found] == query).all()):
            raise ValueError("'ids' holds nodes that are not seeds of the "
                             "batch")
        return found


def resolve_num_neighbors(num_neighbors: Union[int, Sequence[int]],
                          num_layers: int) -> List[int]:
    r"""The per-hop fan-outs for a model of :obj:`num_layers` layers: an int
    is repeated for every layer, a list must have one entry per layer;
    :obj:`-1` keeps every neighbour."""
    if isinstance(num_neighbors, int) and not isinstance(num_neighbors, bool):
        fanouts = [num_neighbors] * num_layers
    else:
        fanouts = list(num_neighbors)
        if len(fanouts) != num_layers:
            raise ValueError(f"train.num_neighbors has {len(fanouts)} hop(s) "
                             f"but the model propagates {num_layers} "
                             f"layer(s); give one fan-out per layer or one "
                             f"int")
    for k in fanouts:
        if isinstance(k, bool) or not isinstance(k, int) or not (
                k == -1 or k > 0):
            raise ValueError(f"train.num_neighbors entries must be positive "
                             f"integers or -1 (all neighbours) (got {k!r})")
    return fanouts


class BPRSubgraphSampler:
    r"""Builds the :class:`SubgraphBatch` of a batch of BPR triples (see the
    module docstring).

    Args:
        edge_index (torch.Tensor): Training interactions :obj:`[2, E]` (row
            0 users, row 1 items), without duplicates.
        num_users (int): The number of users :math:`U`.
        num_items (int): The number of items :math:`I`.
        num_neighbors (list of int): Neighbours sampled per node at each
            hop, :obj:`-1` for all; one entry per propagation layer.
        eps (float, optional): Degree guard of the normalisation, as in
            :func:`~lirdrec_pyg.transforms.bipartite_normalized_adjacency`.
            (default: :obj:`1e-7`)
        generator (torch.Generator, optional): The random source of the
            neighbour draws, on :obj:`device` (default: torch's global one
            of that device).
        device (torch.device, optional): Where the graph is held and the
            batches are sampled, e.g. the model's device (default: the
            device of :obj:`edge_index`).
    """
    def __init__(self, edge_index: Tensor, num_users: int, num_items: int,
                 num_neighbors: Sequence[int], eps: float = 1e-7,
                 generator: Optional[torch.Generator] = None,
                 device: Optional[Union[str, torch.device]] = None) -> None:
        check_edge_index(edge_index, num_users, num_items)
        self.device = torch.device(device if device is not None
                                   else edge_index.device)
        if generator is not None and \
                generator.device.type != self.device.type:
            raise ValueError(f"'generator' is on {generator.device} but the "
                             f"sampler on {self.device}; pass a generator "
                             f"of the sampler's device")
        self.num_users, self.num_items = int(num_users), int(num_items)
        self.num_neighbors = resolve_num_neighbors(list(num_neighbors),
                                                   len(num_neighbors))
        self.generator = generator
        edge_index = edge_index.to(self.device)
        user = edge_index[0].long()
        item = edge_index[1].long() + self.num_users
        num_nodes = self.num_users + self.num_items
        # CSR of the symmetric bipartite graph: row v lists v's neighbours.
        src = torch.cat([user, item])
        dst = torch.cat([item, user])
        perm = torch.argsort(src * num_nodes + dst)
        self.col = dst[perm]
        count = torch.bincount(src, minlength=num_nodes)
        self.rowptr = torch.zeros(num_nodes + 1, dtype=torch.long,
                                  device=self.device)
        self.rowptr[1:] = torch.cumsum(count, 0)
        self.degree = count.float()
        self.deg_inv_sqrt = (self.degree + eps).pow(-0.5)
        # Global -> local ids of a batch's subgraph, reset after each batch
        # so that a step never touches all nodes.
        self.node_map = torch.full((num_nodes, ), -1, dtype=torch.long,
                                   device=self.device)

    def sample(self, users: Tensor, pos_items: Tensor, neg_items: Tensor,
               extra_items: Optional[Tensor] = None) -> SubgraphBatch:
        r"""The subgraph of the triples :obj:`(users, pos_items,
        neg_items)` (global ids); :obj:`extra_items` are further item seeds
        a model needs (e.g. item-graph neighbours). The ids are moved to
        the sampler's device (no copy if they are there already)."""
        U = self.num_users
        users, pos_items, neg_items = (users.to(self.device),
                                       pos_items.to(self.device),
                                       neg_items.to(self.device))
        parts = [users, pos_items + U, neg_items + U]
        if extra_items is not None:
            parts.append(extra_items.to(self.device) + U)
        # The number of distinct seeds sizes the batch (a host read).
        seeds, inverse = torch.unique(torch.cat(parts), return_inverse=True)
        sub = sample_subgraph(self.rowptr, self.col, seeds,
                              self.num_neighbors, self.generator,
                              self.node_map, check_seeds=False)
        node, dst, src = sub.node, sub.row, sub.col
        n = node.numel()
        # The factors per subgraph node first, then per edge from these
        # small tables (not from the graph's: fewer scattered reads).
        deg_inv_sqrt = self.deg_inv_sqrt[node]
        # d_v / s_v: every neighbour of v is kept with probability s_v / d_v.
        scale = self.degree[node] / sub.num_sampled
        value = deg_inv_sqrt[src] * deg_inv_sqrt[dst] * scale[dst]
        # The edges come grouped by their row (the node sampled for), in
        # the order of 'node', so the CSR needs no sort.
        crow = torch.zeros(n + 1, dtype=torch.long, device=self.device)
        crow[1:] = torch.cumsum(sub.num_sampled, 0)
        with warnings.catch_warnings():
            # CSR support is flagged "beta" by torch.
            warnings.simplefilter('ignore', UserWarning)
            adj = torch.sparse_csr_tensor(crow, src, value, (n, n))
        b = users.numel()
        return SubgraphBatch(node, adj, seeds.numel(), inverse[:b],
                             inverse[b:2 * b], inverse[2 * b:3 * b], users,
                             pos_items, neg_items)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num_users={self.num_users}, '
                f'num_items={self.num_items}, '
                f'num_neighbors={self.num_neighbors})')


class BPRSubgraphLoader:
    r"""Iterates over an epoch's BPR triples in mini-batches of
    :obj:`batch_size`, each with its sampled subgraph.

    Args:
        sampler (BPRSubgraphSampler): Builds each batch's subgraph.
        users, pos_items, neg_items (torch.Tensor): The epoch's triples
            (e.g. from :meth:`lirdrec_pyg.data.BPRSampler.sample`).
        batch_size (int): Triples per batch.
        item_seeds (callable, optional): Maps a batch's distinct items to
            the item ids whose representations the model needs (see
            :meth:`~lirdrec_pyg.models.Recommender.subgraph_item_seeds`).
    """
    def __init__(self, sampler: BPRSubgraphSampler, users: Tensor,
                 pos_items: Tensor, neg_items: Tensor, batch_size: int,
                 item_seeds=None) -> None:
        if batch_size <= 0:
            raise ValueError(f"'batch_size' must be positive "
                             f"(got {batch_size})")
        self.sampler = sampler
        self.triples = (users, pos_items, neg_items)
        self.batch_size = batch_size
        self.item_seeds = item_seeds

    def __len__(self) -> int:
        return -(-self.triples[0].numel() // self.batch_size)

    def __iter__(self) -> Iterator[SubgraphBatch]:
        users, pos, neg = self.triples
        bs = self.batch_size
        for start in range(0, users.numel(), bs):
            u, p, q = (users[start:start + bs], pos[start:start + bs],
                       neg[start:start + bs])
            extra = None
            if self.item_seeds is not None:
                extra = self.item_seeds(torch.unique(torch.cat([p, q])))
            yield self.sampler.sample(u, p, q, extra)
