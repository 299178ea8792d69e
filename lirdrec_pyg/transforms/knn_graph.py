"""The frozen item-item kNN graph of LIRDRec, built from modality features."""
import math
from typing import Dict, List, Mapping, Optional, Sequence

import torch
from torch import Tensor
from torch_geometric.data import HeteroData
from torch_geometric.transforms import BaseTransform

from lirdrec_pyg.checks import check_one_of
from lirdrec_pyg.transforms.adjacency import csr_from_coo

II = ('item', 'similar', 'item')
NORMALIZATIONS = ('sym', 'rw', 'none')


#: Similarity entries per block when the block size is automatic (128 MiB
#: in float32), which bounds the peak memory for any number of items.
AUTO_BLOCK_ENTRIES = 2**25


def auto_block_size(num_ref: int, block_size: Optional[int]) -> int:
    r""":obj:`block_size`, or rows such that a block holds about
    :data:`AUTO_BLOCK_ENTRIES` similarities (between 1 and 4096)."""
    if block_size is None:
        return max(1, min(4096, AUTO_BLOCK_ENTRIES // max(num_ref, 1)))
    if block_size < 1:
        raise ValueError(f"'block_size' must be positive (got {block_size})")
    return block_size


def knn_indices(query: Tensor, ref: Tensor, k: int,
                block_size: Optional[int] = None,
                exclude_self: bool = False,
                force_self: bool = False) -> Tensor:
    r"""The indices of the :obj:`k` rows of :obj:`ref` with the largest
    cosine similarity to every row of :obj:`query`, shape
    :obj:`[len(query), k]`, computed :obj:`block_size` query rows at a time.

    Args:
        query (torch.Tensor): Query features :obj:`[N, F]`.
        ref (torch.Tensor): Reference features :obj:`[M, F]`.
        k (int): Neighbours per query row (:math:`\leq M`).
        block_size (int, optional): Query rows per block; :obj:`None` picks
            it from the number of reference rows (see
            :func:`auto_block_size`). (default: :obj:`None`)
        exclude_self (bool, optional): For :obj:`query` equal to
            :obj:`ref`: never return row :math:`i` for query :math:`i`.
            (default: :obj:`False`)
        force_self (bool, optional): For :obj:`query` equal to :obj:`ref`:
            always return row :math:`i` for query :math:`i` (first).
            (default: :obj:`False`)
    """
    if query.dim() != 2 or ref.dim() != 2 or query.size(1) != ref.size(1):
        raise ValueError(f"'query' and 'ref' must have shapes [N, F] and "
                         f"[M, F] (got {list(query.shape)} and "
                         f"{list(ref.shape)})")
    if not 1 <= k <= ref.size(0):
        raise ValueError(f"'k' must lie in [1, {ref.size(0)}] (got {k})")
    block_size = auto_block_size(ref.size(0), block_size)
    same = query is ref
    ref = torch.nn.functional.normalize(ref.detach(), p=2, dim=-1)
    query = ref if same else torch.nn.functional.normalize(query.detach(),
                                                           p=2, dim=-1)
    self_fill = math.inf if force_self else -math.inf
    out: List[Tensor] = []
    for start in range(0, query.size(0), block_size):
        end = min(start + block_size, query.size(0))
        sim = query[start:end] @ ref.t()
        if exclude_self or force_self:
            local = torch.arange(end - start, device=sim.device)
            sim[local, local + start] = self_fill
        out.append(sim.topk(k, dim=-1).indices)
    if not out:
        return torch.empty(0, k, dtype=torch.long, device=query.device)
    return torch.cat(out)


def knn_graph(x: Tensor, k: int, block_size: Optional[int] = None,
              include_self: bool = True,
              normalization: str = 'sym') -> Tensor:
    r"""The cosine-similarity :math:`k`-nearest-neighbour graph of the rows
    of :obj:`x`, as used by `"Learning Item Representations Directly From
    Multimodal Features For Effective Recommendation"
    <https://arxiv.org/abs/2505.04960>`_ (and FREEDOM/LATTICE):

    .. math::
        \mathbf{A}_{ij} = \mathbb{1}\left[j \in \mathrm{top}\text{-}k_{j'}
        \; \frac{\mathbf{x}_i^{\top}\mathbf{x}_{j'}}
        {\lVert\mathbf{x}_i\rVert \lVert\mathbf{x}_{j'}\rVert}\right],
        \qquad \mathbf{S} = \mathbf{D}^{-1/2} \mathbf{A} \mathbf{D}^{-1/2},

    with :math:`\mathbf{D}` the row sums of the binary, directed
    :math:`\mathbf{A}` (every row has :math:`k` entries, so every weight is
    :math:`1/k`). Similarities are computed for :obj:`block_size` rows at a
    time, so memory is :math:`O(\text{block\_size} \cdot N)`, never
    :math:`O(N^2)`.

    Args:
        x (torch.Tensor): Features of shape :obj:`[N, F]` (any device).
        k (int): Neighbours per row, :math:`1 \leq k \leq N` (:math:`N-1`
            without self-loops).
        block_size (int, optional): Rows per similarity block; :obj:`None`
            keeps a block near 128 MiB (see :func:`auto_block_size`).
            (default: :obj:`None`)
        include_self (bool, optional): If :obj:`True`, every row counts
            itself among its :math:`k` neighbours (it has the largest cosine
            similarity anyway; forcing it only decides ties between duplicate
            rows). If :obj:`False`, self-similarity is excluded.
            (default: :obj:`True`)
        normalization (str, optional): :obj:`"sym"`
            (:math:`\mathbf{D}^{-1/2}\mathbf{A}\mathbf{D}^{-1/2}`), :obj:`"rw"`
            (:math:`\mathbf{D}^{-1}\mathbf{A}`) or :obj:`"none"` (binary).
            (default: :obj:`"sym"`)

    Returns:
        A sparse CSR tensor of shape :obj:`[N, N]`, row :math:`i` holding the
        neighbours of row :math:`i`.
    """
    if x.dim() != 2:
        raise ValueError(f"'x' must have shape [N, F] (got "
                         f"{list(x.shape)})")
    if not x.is_floating_point():
        raise ValueError(f"'x' must be a floating point tensor "
                         f"(got dtype {x.dtype})")
    n = x.size(0)
    max_k = n if include_self else n - 1
    if not 1 <= k <= max_k:
        raise ValueError(f"'k' must lie in [1, {max_k}] for {n} rows "
                         f"(include_self={include_self}) (got {k})")
    block_size = auto_block_size(n, block_size)
    check_one_of('normalization', normalization, NORMALIZATIONS)

    col = knn_indices(x, x, k, block_size, exclude_self=not include_self,
                      force_self=include_self).view(-1)
    row = torch.arange(n, device=x.device).repeat_interleave(k)
    value = torch.ones(row.numel(), dtype=x.dtype, device=x.device)
    if normalization != 'none':
        deg = torch.zeros(n, dtype=x.dtype, device=x.device)
        deg.index_add_(0, row, value)
        if normalization == 'sym':
            deg_inv_sqrt = deg.clamp(min=1).pow(-0.5)
            value = deg_inv_sqrt[row] * deg_inv_sqrt[col]
        else:
            value = deg.clamp(min=1).reciprocal()[row]
    return csr_from_coo(row, col, value, n, n)


def default_modality_weights(modalities: Sequence[str]) -> Dict[str, float]:
    r"""The reference mixture: with exactly two modalities one of which is
    :obj:`"text"`, text weighs :obj:`0.9` and the other (the reference's
    image) :obj:`0.1`; otherwise all modalities weigh the same."""
    modalities = list(modalities)
    if len(modalities) == 2 and 'text' in modalities:
        return {m: (0.9 if m == 'text' else 0.1) for m in modalities}
    return {m: 1.0 / len(modalities) for m in modalities}


def check_modality_weights(weights: Mapping[str, float],
                           modalities: Sequence[str]) -> Dict[str, float]:
    r"""Validates a modality mixture: known names, non-negative weights that
    sum to one. Modalities missing from :obj:`weights` weigh zero."""
    unknown = sorted(set(weights) - set(modalities))
    if unknown:
        raise ValueError(f"'modality_weights' names unknown modalities "
                         f"{unknown}; available: {list(modalities)}")
    negative = {m: w for m, w in weights.items() if w < 0}
    if negative:
        raise ValueError(f"'modality_weights' must be non-negative "
                         f"(got {negative})")
    total = float(sum(weights.values()))
    if abs(total - 1.0) > 1e-6:
        raise ValueError(f"'modality_weights' must sum to 1 (got {total} "
                         f"for {dict(weights)})")
    return {m: float(weights.get(m, 0.0)) for m in modalities}


def _modalities_of(data: HeteroData) -> List[str]:
    modalities = getattr(data, 'modalities', None)
    if not modalities:
        raise ValueError("the data has no item modalities ('data.modalities' "
                         "is empty or missing); the item kNN graph needs "
                         "item features")
    return list(modalities)


class ItemKNNGraph(BaseTransform):
    r"""Builds LIRDRec's frozen item-item graph (`"Learning Item
    Representations Directly From Multimodal Features For Effective
    Recommendation" <https://arxiv.org/abs/2505.04960>`_): one
    :func:`knn_graph` per modality, mixed with fixed weights,

    .. math::
        \mathbf{S} = \sum_{m \in \mathcal{M}} w_m \mathbf{S}_m, \qquad
        \sum_m w_m = 1,

    stored as the :obj:`('item', 'similar', 'item')` relation
    (:obj:`edge_index`, :obj:`edge_weight`, plus :obj:`knn_k` and
    :obj:`modality_weights` describing how it was built).

    Args:
        k (int, optional): Neighbours per item (the item itself included).
            (default: :obj:`10`)
        modality_weights (dict[str, float], optional): Weight per modality;
            non-negative, summing to one; an absent modality weighs zero.
            (default: :obj:`None`: see :func:`default_modality_weights`)
        block_size (int, optional): Rows per similarity block
            (default: :obj:`None`, automatic).
        modalities (list[str], optional): The modalities to use (default:
            :obj:`None`, all of :obj:`data.modalities`).
    """
    def __init__(self, k: int = 10,
                 modality_weights: Optional[Mapping[str, float]] = None,
                 block_size: Optional[int] = None,
                 modalities: Optional[Sequence[str]] = None) -> None:
        if k < 1:
            raise ValueError(f"'k' must be positive (got {k})")
        self.k = k
        self.modality_weights = (dict(modality_weights)
                                 if modality_weights is not None else None)
        self.block_size = block_size
        self.modalities = list(modalities) if modalities is not None else None

    def resolve_weights(self, data: HeteroData) -> Dict[str, float]:
        r"""The validated weight of every modality used on :obj:`data`."""
        available = _modalities_of(data)
        modalities = available
        if self.modalities is not None:
            unknown = sorted(set(self.modalities) - set(available))
            if unknown or not self.modalities:
                raise ValueError(f"'modalities' must be a non-empty subset "
                                 f"of {available} (got {self.modalities})")
            modalities = self.modalities
        if self.modality_weights is None:
            return default_modality_weights(modalities)
        return check_modality_weights(self.modality_weights, modalities)

    def build(self, data: HeteroData) -> Tensor:
        r"""Returns the mixed graph as a CSR tensor without storing it."""
        weights = self.resolve_weights(data)
        num_items = int(data['item'].num_nodes)
        mixed: Optional[Tensor] = None
        for m, w in weights.items():
            if w == 0:
                continue
            x = data['item'][m]
            if x.size(0) != num_items:
                raise ValueError(f"data['item']['{m}'] has {x.size(0)} rows "
                                 f"but there are {num_items} items")
            graph = knn_graph(x.float(), self.k, self.block_size).to_sparse_coo()
            graph = graph * w
            mixed = graph if mixed is None else mixed + graph
        assert mixed is not None
        mixed = mixed.coalesce()
        row, col = mixed.indices()
        return csr_from_coo(row, col, mixed.values(), num_items, num_items)

    def forward(self, data: HeteroData) -> HeteroData:
        graph = self.build(data)
        row = torch.arange(graph.size(0), device=graph.device)
        row = row.repeat_interleave(graph.crow_indices().diff())
        store = data[II]
        store.edge_index = torch.stack([row, graph.col_indices()])
        store.edge_weight = graph.values()
        store.knn_k = self.k
        store.modality_weights = self.resolve_weights(data)
        return data

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(k={self.k}, '
                f'modality_weights={self.modality_weights})')


def get_item_graph(data: HeteroData, k: Optional[int] = None,
                   modality_weights: Optional[Mapping[str, float]] = None,
                   modalities: Optional[Sequence[str]] = None,
                   block_size: Optional[int] = None) -> Tensor:
    r"""The item-item graph of :obj:`data` as an :obj:`[I, I]` CSR tensor.

    Uses the stored :obj:`('item', 'similar', 'item')` relation when present
    and built with the requested :obj:`k` and weights (:obj:`None` accepts
    whatever is stored); otherwise builds it with :class:`ItemKNNGraph`,
    caching it on :obj:`data` only when no relation was stored.

    Args:
        data (HeteroData): The dataset.
        k (int, optional): Neighbours per item (default: :obj:`None`, the
            stored value, or :obj:`10` when building).
        modality_weights (dict[str, float], optional): The mixture
            (default: :obj:`None`, the stored or the default one).
        modalities (list[str], optional): Modalities to use when building
            (default: :obj:`None`, all).
        block_size (int, optional): Rows per similarity block
            (default: :obj:`None`, automatic).
    """
    num_items = int(data['item'].num_nodes)
    transform = ItemKNNGraph(10 if k is None else k, modality_weights,
                             block_size, modalities)
    stored = II in data.edge_types and 'edge_index' in data[II]
    if stored:
        store = data[II]
        same_k = k is None or getattr(store, 'knn_k', None) == k
        same_w = ((modality_weights is None and modalities is None)
                  or getattr(store, 'modality_weights', None)
                  == transform.resolve_weights(data))
        if same_k and same_w:
            edge_index = store.edge_index
            weight = getattr(store, 'edge_weight', None)
            if weight is None:
                weight = torch.ones(edge_index.size(1),
                                    device=edge_index.device)
            return csr_from_coo(edge_index[0], edge_index[1], weight,
                                num_items, num_items)
        return transform.build(data)
    transform.forward(data)
    return get_item_graph(data)
