"""The frozen item-item kNN graph of LIRDRec, built from modality features."""
import math
import warnings
from typing import Any, Dict, List, Mapping, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import HeteroData
from torch_geometric.transforms import BaseTransform

from lirdrec_pyg.checks import check_one_of
from lirdrec_pyg.transforms.adjacency import csr_from_coo

II = ('item', 'similar', 'item')
NORMALIZATIONS = ('sym', 'rw', 'none')
METHODS = ('exact', 'faiss')


#: Similarity entries per block when the block size is automatic (128 MiB
#: in float32), which bounds the peak memory for any number of items.
AUTO_BLOCK_ENTRIES = 2**25

#: Query rows per faiss call: bounds the normalised copy of the features
#: that is handed to faiss at any time (24 MiB at 384 dimensions).
FAISS_CHUNK_ROWS = 2**14

#: Links per node of the faiss HNSW graph (faiss' default is 32; 16 builds
#: faster and, at k=10 on clustered items, loses little recall).
FAISS_HNSW_M = 16

#: Candidates kept while searching the HNSW graph (at least :obj:`k` are
#: always kept): more is slower and closer to exact.
FAISS_DEFAULT_EF_SEARCH = 32

FAISS_INSTALL_HINT = ("install the 'ann' extra: pip install "
                      "'lirdrec-pyg[ann]' (or: pip install faiss-cpu)")


def auto_block_size(num_ref: int, block_size: Optional[int]) -> int:
    r""":obj:`block_size`, or rows such that a block holds about
    :data:`AUTO_BLOCK_ENTRIES` similarities (between 1 and 4096)."""
    if block_size is None:
        return max(1, min(4096, AUTO_BLOCK_ENTRIES // max(num_ref, 1)))
    if block_size < 1:
        raise ValueError(f"'block_size' must be positive (got {block_size})")
    return block_size


def import_faiss() -> Any:
    r"""Imports :obj:`faiss`, or raises an :class:`ImportError` that says
    how to install it."""
    try:
        import faiss
    except ImportError as e:
        raise ImportError(f"method='faiss' needs the 'faiss' package, which "
                          f"is not installed ({e}); {FAISS_INSTALL_HINT}") \
            from e
    return faiss


def exact_topk(query: Tensor, ref: Tensor, k: int, block_size: int,
               self_cols: Optional[Tensor] = None,
               self_fill: float = -math.inf) -> Tensor:
    r"""The indices of the :obj:`k` largest entries of every row of
    :obj:`query @ ref.t()`, computed :obj:`block_size` rows at a time into
    one reused buffer. If :obj:`self_cols` is given, entry
    :obj:`self_cols[r]` of row :obj:`r` is replaced by :obj:`self_fill`
    first. The inputs are used as they are (normalise them for cosine)."""
    num_query = query.size(0)
    out = torch.empty(num_query, k, dtype=torch.long, device=query.device)
    if num_query == 0:
        return out
    block_size = min(block_size, num_query)
    # One buffer for every block: a fresh [block, M] result per block costs
    # an allocation and page faults as large as the product's output.
    sim_buf = query.new_empty(block_size, ref.size(0))
    val_buf = query.new_empty(block_size, k)
    ref_t = ref.t()
    for start in range(0, num_query, block_size):
        end = min(start + block_size, num_query)
        sim = torch.mm(query[start:end], ref_t, out=sim_buf[:end - start])
        if self_cols is not None:
            local = torch.arange(end - start, device=sim.device)
            sim[local, self_cols[start:end]] = self_fill
        torch.topk(sim, k, dim=-1, out=(val_buf[:end - start],
                                         out[start:end]))
    return out


def faiss_topk(query: Tensor, ref: Tensor, k: int,
               ef_search: Optional[int] = None) -> Tensor:
    r"""Approximate :func:`exact_topk` by cosine similarity through a faiss
    (`"The Faiss library" <https://arxiv.org/abs/2401.08281>`_) HNSW index
    (`"Efficient and robust approximate nearest neighbor search using
    Hierarchical Navigable Small World graphs"
    <https://arxiv.org/abs/1603.09320>`_) of :obj:`ref`: no training, and a
    cost per row that grows with :math:`\log M` rather than :math:`M`.
    The rows are normalised a chunk at a time on their way into faiss, so
    that the index holds the only normalised copy of :obj:`ref`. Entries the index could not fill are :obj:`-1`. Runs on as many threads
    as torch (with more than one, faiss builds the graph in a
    non-deterministic order); faiss works on the CPU, and the result comes
    back to :obj:`query`'s device."""
    faiss = import_faiss()
    ef_search = FAISS_DEFAULT_EF_SEARCH if ef_search is None else ef_search
    if ef_search < 1:
        raise ValueError(f"'ef_search' must be positive (got {ef_search})")

    def as_numpy(x: Tensor) -> Any:
        x = F.normalize(x.detach().to('cpu', torch.float32), p=2, dim=-1)
        return x.contiguous().numpy()

    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(torch.get_num_threads())
    try:
        # Vectors stored in float16: half the memory of the features, and
        # the same neighbours up to near-ties (cosines lie in [-1, 1]).
        index = faiss.IndexHNSWSQ(ref.size(1),
                                  faiss.ScalarQuantizer.QT_fp16,
                                  FAISS_HNSW_M, faiss.METRIC_INNER_PRODUCT)
        # Added in chunks, so that faiss' copy is the only full one made.
        for chunk in ref.split(FAISS_CHUNK_ROWS):
            index.add(as_numpy(chunk))
        index.hnsw.efSearch = max(ef_search, k)
        out = torch.empty(query.size(0), k, dtype=torch.long)
        for start in range(0, query.size(0), FAISS_CHUNK_ROWS):
            chunk = query[start:start + FAISS_CHUNK_ROWS]
            _, found = index.search(as_numpy(chunk), k)
            out[start:start + chunk.size(0)] = torch.from_numpy(found)
    finally:
        faiss.omp_set_num_threads(threads)
    return out.to(query.device)


def place_self(candidates: Tensor, k: int, force: bool) -> Tensor:
    r"""Turns ranked candidates :obj:`[N, C]` for the rows of a matrix
    queried against itself into :obj:`k` neighbours per row: row :math:`i`
    first if :obj:`force`, never otherwise; the order of the other
    candidates is kept."""
    own = torch.arange(candidates.size(0),
                       device=candidates.device).unsqueeze(1)
    if force:
        candidates = torch.cat([own, candidates], dim=1)
    is_self = candidates == own
    if force:
        is_self[:, 0] = False
    # A stable sort on the 0/1 flags moves the unwanted entries to the end.
    order = torch.sort(is_self.to(torch.uint8), dim=1, stable=True).indices
    return candidates.gather(1, order)[:, :k].contiguous()


def knn_indices(query: Tensor, ref: Tensor, k: int,
                block_size: Optional[int] = None,
                exclude_self: bool = False,
                force_self: bool = False,
                method: str = 'exact',
                ef_search: Optional[int] = None) -> Tensor:
    r"""The indices of the :obj:`k` rows of :obj:`ref` with the largest
    cosine similarity to every row of :obj:`query`, shape
    :obj:`[len(query), k]`, ordered from the most similar.

    With :obj:`method="exact"`, the similarities are computed
    :obj:`block_size` query rows at a time (one matrix product and one
    :func:`torch.topk` per block, memory :math:`O(\text{block\_size} \cdot
    M)`); ties between equal similarities are broken as :func:`torch.topk`
    breaks them (the products of different block sizes may round
    differently in the last bit, which can decide near-ties). With
    :obj:`method="faiss"`, a faiss HNSW index of the normalised :obj:`ref`
    answers the queries approximately (see :func:`faiss_topk`; rows it
    cannot fill are computed exactly).

    Args:
        query (torch.Tensor): Query features :obj:`[N, F]`.
        ref (torch.Tensor): Reference features :obj:`[M, F]`.
        k (int): Neighbours per query row (:math:`\leq M`).
        block_size (int, optional): Query rows per exact block; :obj:`None`
            picks it from the number of reference rows (see
            :func:`auto_block_size`). (default: :obj:`None`)
        exclude_self (bool, optional): For :obj:`query` equal to
            :obj:`ref`: never return row :math:`i` for query :math:`i`.
            (default: :obj:`False`)
        force_self (bool, optional): For :obj:`query` equal to :obj:`ref`:
            always return row :math:`i` for query :math:`i` (first).
            (default: :obj:`False`)
        method (str, optional): :obj:`"exact"` or :obj:`"faiss"`
            (approximate; needs the :obj:`ann` extra).
            (default: :obj:`"exact"`)
        ef_search (int, optional): Candidates the HNSW search keeps with
            :obj:`method="faiss"`: more is slower and closer to exact.
            (default: :obj:`None`, :data:`FAISS_DEFAULT_EF_SEARCH`)
    """
    if query.dim() != 2 or ref.dim() != 2 or query.size(1) != ref.size(1):
        raise ValueError(f"'query' and 'ref' must have shapes [N, F] and "
                         f"[M, F] (got {list(query.shape)} and "
                         f"{list(ref.shape)})")
    check_one_of('method', method, METHODS)
    if exclude_self and force_self:
        raise ValueError("'exclude_self' and 'force_self' cannot both be "
                         "True")
    with_self = exclude_self or force_self
    if with_self and query.size(0) > ref.size(0):
        raise ValueError(f"'exclude_self'/'force_self' need the query rows "
                         f"to be the first rows of 'ref' (got "
                         f"{query.size(0)} query and {ref.size(0)} "
                         f"reference rows)")
    max_k = ref.size(0) - 1 if exclude_self else ref.size(0)
    if not 1 <= k <= max_k:
        raise ValueError(f"'k' must lie in [1, {max_k}] (got {k})")
    block_size = auto_block_size(ref.size(0), block_size)
    self_cols = (torch.arange(query.size(0), device=query.device)
                 if with_self else None)
    self_fill = math.inf if force_self else -math.inf
    if method == 'exact':
        same = query is ref
        ref = F.normalize(ref.detach(), p=2, dim=-1)
        query = ref if same else F.normalize(query.detach(), p=2, dim=-1)
        return exact_topk(query, ref, k, block_size, self_cols, self_fill)

    candidates = faiss_topk(query, ref, k + int(exclude_self), ef_search)
    if with_self:
        candidates = place_self(candidates, k, force_self)
    unfilled = (candidates < 0).any(dim=1).nonzero().view(-1)
    if unfilled.numel() > 0:
        candidates[unfilled] = exact_topk(
            F.normalize(query[unfilled].detach(), p=2, dim=-1),
            F.normalize(ref.detach(), p=2, dim=-1), k, block_size,
            None if self_cols is None else self_cols[unfilled], self_fill)
    return candidates


def knn_graph(x: Tensor, k: int, block_size: Optional[int] = None,
              include_self: bool = True,
              normalization: str = 'sym',
              method: str = 'exact',
              ef_search: Optional[int] = None) -> Tensor:
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
    :math:`1/k`). The result is the matrix :math:`\mathbf{S}`, row
    :math:`i` holding the neighbours of :math:`i`, so that
    :obj:`S @ h` averages every row's neighbours; its
    :obj:`edge_index` in PyG's orientation is
    :obj:`[S.col_indices(), row]` (see :class:`ItemKNNGraph`).
    Similarities are computed for :obj:`block_size` rows at a time, so
    memory is :math:`O(\text{block\_size} \cdot N)`, never
    :math:`O(N^2)`; :obj:`method="faiss"` finds the neighbours
    approximately for catalogues too large for the exact search (see
    :func:`knn_indices`).

    Args:
        x (torch.Tensor): Features of shape :obj:`[N, F]` (any device).
        k (int): Neighbours per row, :math:`1 \leq k \leq N` (:math:`N-1`
            without self-loops).
        block_size (int, optional): Rows per similarity block; :obj:`None`
            keeps a block near 128 MiB (see :func:`auto_block_size`).
            (default: :obj:`None`)
        include_self (bool, optional): If :obj:`True`, every row counts
            itself among its :math:`k` neighbours (a self-loop; it has the
            largest cosine similarity anyway, forcing it only decides ties
            between duplicate rows). If :obj:`False`, self-similarity is
            excluded and there are no self-loops. (default: :obj:`True`)
        normalization (str, optional): :obj:`"sym"`
            (:math:`\mathbf{D}^{-1/2}\mathbf{A}\mathbf{D}^{-1/2}`), :obj:`"rw"`
            (:math:`\mathbf{D}^{-1}\mathbf{A}`) or :obj:`"none"` (binary).
            (default: :obj:`"sym"`)
        method (str, optional): :obj:`"exact"` or :obj:`"faiss"`
            (approximate, needs the :obj:`ann` extra).
            (default: :obj:`"exact"`)
        ef_search (int, optional): HNSW search breadth of
            :obj:`method="faiss"` (see :func:`knn_indices`).
            (default: :obj:`None`)

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
                      force_self=include_self, method=method,
                      ef_search=ef_search)
    # Every row holds k distinct columns: the CSR structure is known, and
    # sorting within rows is all that is left (no [N k] row or key arrays,
    # which matter at a million items).
    col = col.sort(dim=1).values
    crow = torch.arange(0, n * k + 1, k, device=x.device)
    deg = torch.full((n, ), k, dtype=x.dtype, device=x.device)
    if normalization == 'sym':
        deg_inv_sqrt = deg.clamp(min=1).pow(-0.5)
        value = deg_inv_sqrt.unsqueeze(1) * deg_inv_sqrt[col]
    elif normalization == 'rw':
        value = deg.clamp(min=1).reciprocal().unsqueeze(1).expand(n, k)
    else:
        value = torch.ones(n, k, dtype=x.dtype, device=x.device)
    with warnings.catch_warnings():
        # CSR support is flagged "beta" by torch; it is what we measured fastest.
        warnings.simplefilter('ignore', UserWarning)
        return torch.sparse_csr_tensor(crow, col.view(-1),
                                       value.reshape(-1), (n, n))


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
    (:obj:`edge_index`, :obj:`edge_weight`, plus :obj:`knn_k`,
    :obj:`modality_weights`, :obj:`knn_include_self` and :obj:`knn_method`
    describing how it was built). The edges follow PyG's
    :obj:`"source_to_target"` flow: :obj:`edge_index[0]` is the neighbour
    :math:`j` and :obj:`edge_index[1]` the item :math:`i` it is a neighbour
    of, with weight :math:`\mathbf{S}_{ij}`, so that
    :obj:`LGConv(normalize=False)(h, edge_index, edge_weight)` computes
    :math:`\mathbf{S}\mathbf{h}`.

    Args:
        k (int, optional): Neighbours per item (the item itself included
            when :obj:`include_self`). (default: :obj:`10`)
        modality_weights (dict[str, float], optional): Weight per modality;
            non-negative, summing to one; an absent modality weighs zero.
            (default: :obj:`None`: see :func:`default_modality_weights`)
        block_size (int, optional): Rows per similarity block
            (default: :obj:`None`, automatic).
        modalities (list[str], optional): The modalities to use (default:
            :obj:`None`, all of :obj:`data.modalities`).
        include_self (bool, optional): Whether every item is one of its own
            :math:`k` neighbours, *i.e.*, the graph has self-loops (the
            reference models' graph). (default: :obj:`True`)
        method (str, optional): :obj:`"exact"` or :obj:`"faiss"` (approximate
            neighbours for large catalogues, see :func:`knn_indices`).
            (default: :obj:`"exact"`)
        ef_search (int, optional): HNSW search breadth of
            :obj:`method="faiss"`. (default: :obj:`None`, automatic)
    """
    def __init__(self, k: int = 10,
                 modality_weights: Optional[Mapping[str, float]] = None,
                 block_size: Optional[int] = None,
                 modalities: Optional[Sequence[str]] = None,
                 include_self: bool = True,
                 method: str = 'exact',
                 ef_search: Optional[int] = None) -> None:
        if k < 1:
            raise ValueError(f"'k' must be positive (got {k})")
        check_one_of('method', method, METHODS)
        self.k = k
        self.modality_weights = (dict(modality_weights)
                                 if modality_weights is not None else None)
        self.block_size = block_size
        self.modalities = list(modalities) if modalities is not None else None
        self.include_self = include_self
        self.method = method
        self.ef_search = ef_search

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
        r"""Returns the mixed matrix :math:`\mathbf{S}` as a CSR tensor (row
        :math:`i` holding the neighbours of item :math:`i`) without storing
        it."""
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
            graph = knn_graph(x.float(), self.k, self.block_size,
                              self.include_self, method=self.method,
                              ef_search=self.ef_search).to_sparse_coo()
            graph = graph * w
            mixed = graph if mixed is None else mixed + graph
        assert mixed is not None
        mixed = mixed.coalesce()
        row, col = mixed.indices()
        return csr_from_coo(row, col, mixed.values(), num_items, num_items)

    def forward(self, data: HeteroData) -> HeteroData:
        graph = self.build(data)
        target = torch.arange(graph.size(0), device=graph.device)
        target = target.repeat_interleave(graph.crow_indices().diff())
        store = data[II]
        # Row 0 sends, row 1 receives: the neighbour j flows into item i.
        store.edge_index = torch.stack([graph.col_indices(), target])
        store.edge_weight = graph.values()
        store.knn_k = self.k
        store.modality_weights = self.resolve_weights(data)
        store.knn_include_self = self.include_self
        store.knn_method = self.method
        return data

    def __repr__(self) -> str:
        extra = ''
        if not self.include_self:
            extra += ', include_self=False'
        if self.method != 'exact':
            extra += f", method='{self.method}'"
        return (f'{self.__class__.__name__}(k={self.k}, '
                f'modality_weights={self.modality_weights}{extra})')


def get_item_graph(data: HeteroData, k: Optional[int] = None,
                   modality_weights: Optional[Mapping[str, float]] = None,
                   modalities: Optional[Sequence[str]] = None,
                   block_size: Optional[int] = None,
                   include_self: Optional[bool] = None,
                   method: Optional[str] = None) -> Tensor:
    r"""The item-item matrix :math:`\mathbf{S}` of :obj:`data` as an
    :obj:`[I, I]` CSR tensor, row :math:`i` holding the neighbours of item
    :math:`i` (so :obj:`S @ h` aggregates them).

    Uses the stored :obj:`('item', 'similar', 'item')` relation when present
    and built with the requested settings (:obj:`None` accepts whatever is
    stored); its :obj:`edge_index` is read in PyG's orientation (row 0 the
    neighbour, row 1 the item). Otherwise builds the graph with
    :class:`ItemKNNGraph`, caching it on :obj:`data` only when no relation
    was stored.

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
        include_self (bool, optional): Self-loops (default: :obj:`None`, the
            stored value, or :obj:`True` when building).
        method (str, optional): :obj:`"exact"` or :obj:`"faiss"`
            (default: :obj:`None`, the stored value, or :obj:`"exact"` when
            building).
    """
    num_items = int(data['item'].num_nodes)
    transform = ItemKNNGraph(10 if k is None else k, modality_weights,
                             block_size, modalities,
                             True if include_self is None else include_self,
                             'exact' if method is None else method)
    stored = II in data.edge_types and 'edge_index' in data[II]
    if stored:
        store = data[II]
        same = ((k is None or getattr(store, 'knn_k', None) == k)
                and (include_self is None or getattr(
                    store, 'knn_include_self', None) == include_self)
                and (method is None
                     or getattr(store, 'knn_method', None) == method)
                and ((modality_weights is None and modalities is None)
                     or getattr(store, 'modality_weights', None)
                     == transform.resolve_weights(data)))
        if same:
            edge_index = store.edge_index
            weight = getattr(store, 'edge_weight', None)
            if weight is None:
                weight = torch.ones(edge_index.size(1),
                                    device=edge_index.device)
            return csr_from_coo(edge_index[1], edge_index[0], weight,
                                num_items, num_items)
        return transform.build(data)
    transform.forward(data)
    return get_item_graph(data)
