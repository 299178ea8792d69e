r"""Weight-free LightGCN-style propagation over an :obj:`edge_index` or a
sparse adjacency.

The graph argument follows :class:`torch_geometric.nn.conv.LGConv`: an
:obj:`edge_index` of shape :obj:`[2, num_edges]` whose edges run from row 0
(source) to row 1 (target), with optional :obj:`edge_weight`, or a sparse
adjacency :math:`\mathbf{A}` (torch CSR/COO, or
:class:`torch_sparse.SparseTensor`) applied as :math:`\mathbf{A}\mathbf{X}`
(rows are targets, PyG's :obj:`adj_t`). Unless told :obj:`normalize=False`,
the graph is normalised as :obj:`LGConv` does,
:math:`\mathbf{D}^{-1/2}\mathbf{A}\mathbf{D}^{-1/2}` without self-loops.
Adjacencies built by the library
(:func:`~lirdrec_pyg.transforms.bipartite_normalized_adjacency`,
:func:`~lirdrec_pyg.transforms.get_ui_adjacency`) are marked as normalised
and symmetric and are used as they are.

The backward pass of :math:`\mathbf{A}\mathbf{X}` is
:math:`\mathbf{A}^{\top}\mathbf{G}`; for a symmetric :math:`\mathbf{A}` it
reuses :math:`\mathbf{A}` (and several layers fuse into one autograd node).
That shortcut is taken only when symmetry is known (the library's marked
adjacencies) or verified (once per tensor, the result is remembered on it).
"""
import warnings
from typing import Any, List, Optional, Tuple

import torch
from torch import Tensor

from lirdrec_pyg.checks import check_non_negative, check_one_of
from lirdrec_pyg.nn.kernels import spmm as _spmm
from lirdrec_pyg.transforms.adjacency import (NORMALIZED_MARK, SYMMETRIC_MARK,
                                              copy_marks, csr_from_coo)
from lirdrec_pyg.typing import WITH_TORCH_SPARSE, Adj, OptTensor, SparseTensor

COMBINES = ('mean', 'sum', 'last')

class _FixedSpMM(torch.autograd.Function):
    r"""``A @ X`` for a fixed sparse ``A`` (no gradient for ``A``). The
    backward pass is ``A @ grad`` again for a symmetric ``A``, which spares
    autograd the transpose, and ``A^T @ grad`` otherwise, with the transpose
    of a CSR ``A`` built once and cached on it (~2.5x faster than autograd's
    sparse backward here)."""

    @staticmethod
    def forward(ctx: Any, adj: Tensor, x: Tensor, symmetric: bool) -> Tensor:
        ctx.adj, ctx.symmetric = adj, symmetric
        return _spmm(adj, x)

    @staticmethod
    def backward(ctx: Any, grad_out: Tensor) -> Tuple[None, Tensor, None]:
        adj = ctx.adj if ctx.symmetric else transpose_csr(ctx.adj)
        return None, _spmm(adj, grad_out), None


class _SymmetricPowerSum(torch.autograd.Function):
    r"""``scale * sum_{l=0}^{L} A^l X`` for a fixed symmetric sparse ``A`` in
    one autograd node. The operator is symmetric, so the backward pass is the
    same sum applied to the gradient; no layer output is kept for it, and
    the sums are accumulated in place (fewer passes over the ``[N, F]``
    buffers than one node per layer and per addition)."""

    @staticmethod
    def forward(ctx: Any, adj: Tensor, x: Tensor, num_layers: int,
                scale: float) -> Tensor:
        ctx.adj, ctx.num_layers, ctx.scale = adj, num_layers, scale
        return _power_sum(adj, x, num_layers, scale)

    @staticmethod
    def backward(ctx: Any, grad_out: Tensor) -> Tuple[None, Tensor, None,
                                                      None]:
        return None, _power_sum(ctx.adj, grad_out, ctx.num_layers,
                                ctx.scale), None, None


def _power_sum(adj: Tensor, x: Tensor, num_layers: int,
               scale: float) -> Tensor:
    if num_layers == 0:
        total = x.clone()
    else:
        h = _spmm(adj, x)
        total = h + x
        for _ in range(num_layers - 1):
            h = _spmm(adj, h)
            total.add_(h)
    if scale != 1.0:
        total.mul_(scale)
    return total


_csr = csr_from_coo


def _csr_rows(adj: Tensor) -> Tensor:
    row = torch.arange(adj.size(0), device=adj.device)
    # The output size is known on the host: no wait for the device.
    return row.repeat_interleave(adj.crow_indices().diff(),
                                 output_size=adj._nnz())


def transpose_csr(adj: Tensor) -> Tensor:
    r"""The transpose of a CSR tensor as a CSR tensor, cached on :obj:`adj`
    (a graph that moves or changes is a new tensor, with its own cache)."""
    cached = getattr(adj, '_lirdrec_transpose', None)
    if cached is not None:
        return cached
    col = adj.col_indices()
    # The entries come row by row, so a stable sort by column alone gives
    # the transpose's (column, row) order; 32-bit keys sort about 1.8x
    # faster than the 64-bit (column, row) keys (sampled steps transpose a
    # new subgraph every step).
    key = col.int() if adj.size(1) < 2**31 else col
    perm = torch.sort(key, stable=True).indices
    row, col = _csr_rows(adj)[perm], col[perm]
    crow = torch.searchsorted(col, torch.arange(adj.size(1) + 1,
                                                device=col.device))
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', UserWarning)  # CSR is "beta"
        out = torch.sparse_csr_tensor(crow, row, adj.values()[perm],
                                      (adj.size(1), adj.size(0)))
    adj._lirdrec_transpose = out
    return out


def is_symmetric(adj: Tensor) -> bool:
    r"""Whether the CSR tensor :obj:`adj` equals its transpose (same
    structure, values equal up to float rounding). Marked adjacencies answer
    from their mark; otherwise the check runs once and its result is
    remembered on :obj:`adj`."""
    known = getattr(adj, SYMMETRIC_MARK, None)
    if known is not None:
        return known
    symmetric = False
    if adj.size(0) == adj.size(1):
        had_transpose = hasattr(adj, '_lirdrec_transpose')
        adj_t = transpose_csr(adj)
        symmetric = (torch.equal(adj.crow_indices(), adj_t.crow_indices())
                     and torch.equal(adj.col_indices(), adj_t.col_indices())
                     and torch.allclose(adj.values(), adj_t.values(),
                                        rtol=1e-6, atol=0.0))
        if symmetric and not had_transpose:
            del adj._lirdrec_transpose  # never needed: free its memory
    setattr(adj, SYMMETRIC_MARK, symmetric)
    return symmetric


def gcn_normalize_csr(adj: Tensor) -> Tensor:
    r"""The normalisation of :class:`torch_geometric.nn.conv.LGConv`
    (:func:`~torch_geometric.nn.conv.gcn_conv.gcn_norm` without self-loops)
    of a square CSR adjacency whose rows are targets,

    .. math::
        \hat{a}_{ij} = \frac{a_{ij}}{\sqrt{\deg(i)\deg(j)}}, \qquad
        \deg(i) = \sum_j a_{ij},

    with :math:`\deg(i)^{-1/2} = 0` for nodes without incoming weight."""
    row, col, value = _csr_rows(adj), adj.col_indices(), adj.values()
    deg = value.new_zeros(adj.size(0)).index_add_(0, row, value)
    deg_inv_sqrt = deg.pow(-0.5)
    deg_inv_sqrt.masked_fill_(deg_inv_sqrt == float('inf'), 0.0)
    value = deg_inv_sqrt[row] * value * deg_inv_sqrt[col]
    with warnings.catch_warnings():
        # CSR support is flagged "beta" by torch; measured fastest here.
        warnings.simplefilter('ignore', UserWarning)
        return torch.sparse_csr_tensor(adj.crow_indices(), col, value,
                                       adj.shape)


def _looks_normalized(adj: Tensor) -> bool:
    # A 0/1 graph after D^-1/2 A D^-1/2 has a_ij = (n_i n_j)^-1/2 with n the
    # number of entries per row: normalising it again is a mistake (e.g. a
    # library adjacency that lost its mark when moved).
    value = adj.values()
    if value.numel() == 0 or bool((value == value[0]).all()):
        return False
    count = adj.crow_indices().diff().to(value.dtype)
    expected = (count[_csr_rows(adj)] * count[adj.col_indices()]).pow(-0.5)
    return bool(torch.allclose(value, expected, rtol=1e-5, atol=0.0))


def _normalized(adj: Tensor) -> Tensor:
    cached = getattr(adj, '_lirdrec_gcn_normalized', None)
    if cached is not None:
        return cached
    if adj.size(0) != adj.size(1):
        raise ValueError(f"normalize=True needs a square adjacency (got "
                         f"shape {list(adj.shape)}); pass normalize=False "
                         f"for an adjacency that is already normalised")
    if _looks_normalized(adj):
        raise ValueError("the adjacency is already symmetrically normalised "
                         "(its values are 1/sqrt(deg_i deg_j)); pass "
                         "normalize=False to use it as it is")
    out = gcn_normalize_csr(adj)
    adj._lirdrec_gcn_normalized = out
    return out


def _check_x(x: Any) -> None:
    if not isinstance(x, Tensor) or x.layout != torch.strided \
            or not x.is_floating_point() or x.dim() != 2:
        what = (f'{x.dtype} tensor of shape {list(x.shape)}'
                if isinstance(x, Tensor) else type(x).__name__)
        raise TypeError(f"'x' must be a dense floating-point node feature "
                        f"matrix [num_nodes, F] (got {what})")


def _is_edge_index(graph: Any) -> bool:
    return (isinstance(graph, Tensor) and graph.layout == torch.strided
            and not graph.is_floating_point() and graph.dtype != torch.bool)


def _check_not_traced(*args: Any) -> None:
    # torch_geometric.nn.to_hetero calls a layer with a graph argument once
    # per edge type with x = (x_src, x_dst), the MessagePassing convention.
    if any(isinstance(a, (tuple, list, torch.fx.Proxy)) for a in args):
        raise TypeError(
            "lirdrec_pyg's propagation layers are not MessagePassing layers "
            "and cannot be converted by torch_geometric.nn.to_hetero; run "
            "them on one node numbering (users first, then items, e.g. "
            "data.to_homogeneous()) or use torch_geometric.nn.LGConv")


def _edge_index_matrix(edge_index: Tensor, edge_weight: OptTensor,
                       num_nodes: int, num_users: Optional[int],
                       normalize: bool, dtype: torch.dtype) -> Tensor:
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(f"'edge_index' must have shape [2, num_edges] "
                         f"(got {list(edge_index.shape)})")
    edge_index = edge_index.long()
    num_edges = edge_index.size(1)
    if edge_weight is not None:
        if edge_weight.shape != (num_edges, ):
            raise ValueError(f"'edge_weight' must have shape [{num_edges}] "
                             f"(got {list(edge_weight.shape)})")
        edge_weight = edge_weight.to(dtype)
    else:
        edge_weight = torch.ones(num_edges, dtype=dtype,
                                 device=edge_index.device)
    symmetric: Optional[bool] = None
    if num_users is not None:
        # (user, item) pairs with both id ranges from 0, as stored in
        # data['user', ..., 'item'].edge_index: both directions are added.
        num_items = num_nodes - num_users
        if num_items <= 0:
            raise ValueError(f"'num_users' ({num_users}) must be smaller "
                             f"than the number of rows of 'x' ({num_nodes}, "
                             f"users first, then items)")
        for ids, n, what in ((edge_index[0], num_users, 'user'),
                             (edge_index[1], num_items, 'item')):
            if num_edges and (int(ids.min()) < 0 or int(ids.max()) >= n):
                raise ValueError(
                    f"with 'num_users', 'edge_index' must hold (user, item) "
                    f"pairs with {what} ids in [0, {n}) (got "
                    f"[{int(ids.min())}, {int(ids.max())}]); items numbered "
                    f"after the users (joint numbering) go without "
                    f"'num_users', with both directions of every edge")
        user, item = edge_index[0], edge_index[1] + num_users
        row, col = torch.cat([item, user]), torch.cat([user, item])
        edge_weight = torch.cat([edge_weight, edge_weight])
        symmetric = True
    else:
        if num_edges and (int(edge_index.min()) < 0
                          or int(edge_index.max()) >= num_nodes):
            raise ValueError(f"'edge_index' holds node ids in "
                             f"[{int(edge_index.min())}, "
                             f"{int(edge_index.max())}] but 'x' has "
                             f"{num_nodes} rows")
        # Row 0 sends, row 1 receives: the target is the matrix row.
        row, col = edge_index[1], edge_index[0]
    key = row * num_nodes + col
    sorted_key = key.sort().values
    if num_edges > 1 and bool((sorted_key.diff() == 0).any()):
        raise ValueError("'edge_index' holds duplicate edges; remove them "
                         "(torch_geometric.utils.coalesce) or sum their "
                         "weights")
    # Every edge has its reverse (the weights may still differ).
    structure_symmetric = torch.equal(
        sorted_key, (col * num_nodes + row).sort().values)
    if edge_weight.requires_grad:
        # Learned weights: a differentiable COO matrix, handled by autograd.
        if normalize:
            deg = edge_weight.new_zeros(num_nodes).index_add(0, row,
                                                             edge_weight)
            dinv = deg.pow(-0.5).masked_fill(deg == 0, 0.0)
            edge_weight = dinv[row] * edge_weight * dinv[col]
        adj = torch.sparse_coo_tensor(torch.stack([row, col]), edge_weight,
                                      (num_nodes, num_nodes))
    else:
        adj = _csr(row, col, edge_weight, num_nodes, num_nodes)
        if normalize:
            adj = gcn_normalize_csr(adj)
            setattr(adj, NORMALIZED_MARK, True)
    if symmetric is not None:
        setattr(adj, SYMMETRIC_MARK, symmetric)
    adj._lirdrec_edges_symmetric = structure_symmetric
    return adj


def to_propagation_matrix(x: Tensor, edge_index: Adj,
                          edge_weight: OptTensor = None,
                          normalize: bool = True,
                          num_users: Optional[int] = None) -> Adj:
    r"""The matrix :math:`\hat{\mathbf{A}}` that
    :func:`sparse_propagate` multiplies with :obj:`x` (see there for the
    arguments). An :obj:`edge_index` result is cached on the
    :obj:`edge_index` tensor and rebuilt when the tensor, its weights or the
    arguments change. Library adjacencies are returned as they are."""
    if WITH_TORCH_SPARSE and isinstance(edge_index, SparseTensor):
        if num_users is not None:
            raise ValueError("'num_users' only applies to an edge_index of "
                             "(user, item) pairs; a SparseTensor must "
                             "already cover all nodes")
        if normalize and not getattr(edge_index, NORMALIZED_MARK, False):
            from torch_geometric.nn.conv.gcn_conv import gcn_norm
            edge_index = gcn_norm(edge_index, None, x.size(0),
                                  add_self_loops=False, dtype=x.dtype)
        return edge_index
    if not isinstance(edge_index, Tensor):
        raise TypeError(f"'edge_index' must be an edge_index tensor, a "
                        f"sparse tensor or a SparseTensor (got "
                        f"{type(edge_index).__name__})")
    if _is_edge_index(edge_index):
        num_nodes = x.size(0)
        weight_id = None if edge_weight is None else (
            edge_weight, edge_weight._version)
        key = (edge_index._version, num_nodes, num_users, bool(normalize),
               x.dtype)
        cached = getattr(edge_index, '_lirdrec_matrix', None)
        if (cached is not None and cached[0] == key
                and _same_weight(cached[1], weight_id)
                and not (edge_weight is not None
                         and edge_weight.requires_grad)):
            return cached[2]
        adj = _edge_index_matrix(edge_index, edge_weight, num_nodes,
                                 num_users, normalize, x.dtype)
        if not adj.requires_grad:
            edge_index._lirdrec_matrix = (key, weight_id, adj)
        return adj
    if num_users is not None:
        raise ValueError("'num_users' only applies to an edge_index of "
                         "(user, item) pairs; a sparse adjacency must "
                         "already cover all nodes")
    if edge_weight is not None:
        raise ValueError("'edge_weight' only applies to an edge_index; a "
                         "sparse adjacency carries its values")
    if not (edge_index.is_sparse or edge_index.layout == torch.sparse_csr):
        raise ValueError(f"'edge_index' must be an integer [2, num_edges] "
                         f"tensor or a sparse (CSR/COO) adjacency (got a "
                         f"dense {edge_index.dtype} tensor of shape "
                         f"{list(edge_index.shape)})")
    adj = edge_index
    if adj.dim() != 2 or adj.size(1) != x.size(0):
        raise ValueError(f"the adjacency has shape {list(adj.shape)} but "
                         f"'x' has {x.size(0)} rows")
    if adj.requires_grad:  # e.g. a learned graph: autograd handles it
        if normalize and not getattr(adj, NORMALIZED_MARK, False):
            raise ValueError("a differentiable adjacency is not normalised "
                             "here; normalise it yourself and pass "
                             "normalize=False")
        return adj
    if adj.is_sparse:  # COO: once to CSR, remembered on the tensor
        csr = getattr(adj, '_lirdrec_csr', None)
        if csr is None:
            coo = adj.coalesce()
            csr = copy_marks(adj, _csr(coo.indices()[0], coo.indices()[1],
                                       coo.values(), adj.size(0),
                                       adj.size(1)))
            adj._lirdrec_csr = csr
        adj = csr
    if normalize and not getattr(adj, NORMALIZED_MARK, False):
        normalized = _normalized(adj)
        if hasattr(adj, SYMMETRIC_MARK):
            # D^-1/2 A D^-1/2 keeps the symmetry of A.
            setattr(normalized, SYMMETRIC_MARK, getattr(adj, SYMMETRIC_MARK))
        adj = normalized
    return adj


def _same_weight(cached: Any, current: Any) -> bool:
    if cached is None or current is None:
        return cached is None and current is None
    return cached[0] is current[0] and cached[1] == current[1]


def _resolve_symmetric(adj: Tensor, symmetric: Optional[bool]) -> bool:
    if symmetric is False:
        return False
    if adj.layout != torch.sparse_csr:
        return False
    verified = is_symmetric(adj)
    if symmetric and not verified:
        raise ValueError("symmetric=True but the adjacency is not symmetric; "
                         "pass symmetric=None (detect) or symmetric=False")
    return verified


def _product(adj: Adj, x: Tensor, symmetric: bool) -> Tensor:
    if WITH_TORCH_SPARSE and isinstance(adj, SparseTensor):
        import torch_sparse
        return torch_sparse.matmul(adj, x, reduce='sum')
    if not x.requires_grad:
        return _spmm(adj, x)
    if adj.requires_grad or adj.layout != torch.sparse_csr:
        return adj @ x  # autograd handles learned or COO graphs
    return _FixedSpMM.apply(adj, x, symmetric)


def _prepare(x: Any, edge_index: Adj, edge_weight: OptTensor,
             normalize: bool, symmetric: Optional[bool],
             num_users: Optional[int]) -> Tuple[Tensor, Adj, bool]:
    # The older order (adj, x) is told apart by type: x is dense floating.
    if not isinstance(x, Tensor) or (not x.is_floating_point()
                                     or x.layout != torch.strided):
        if isinstance(edge_index, Tensor) and edge_index.is_floating_point() \
                and edge_index.layout == torch.strided:
            x, edge_index = edge_index, x
    _check_not_traced(x, edge_index)
    _check_x(x)
    adj = to_propagation_matrix(x, edge_index, edge_weight, normalize,
                                num_users)
    if WITH_TORCH_SPARSE and isinstance(adj, SparseTensor):
        return x, adj, False
    if symmetric is None and not getattr(adj, '_lirdrec_edges_symmetric',
                                         True):
        raise ValueError(
            "'edge_index' is not symmetric (some edges lack their reverse): "
            "for (user, item) pairs with items numbered from 0 pass "
            "num_users=...; for a graph directed on purpose pass "
            "symmetric=False")
    return x, adj, _resolve_symmetric(adj, symmetric)


def sparse_propagate(x: Tensor, edge_index: Adj,
                     edge_weight: OptTensor = None, normalize: bool = True,
                     symmetric: Optional[bool] = None,
                     num_users: Optional[int] = None) -> Tensor:
    r"""One propagation step :math:`\hat{\mathbf{A}} \mathbf{X}`, the
    computation of :class:`torch_geometric.nn.conv.LGConv`,

    .. math::
        \mathbf{x}^{\prime}_i = \sum_{j \in \mathcal{N}(i)}
        \frac{e_{j,i}}{\sqrt{\deg(i)\deg(j)}} \mathbf{x}_j.

    Args:
        x (torch.Tensor): Node features of shape :obj:`[num_nodes, F]`
            (with :obj:`num_users`: users first, then items).
        edge_index (torch.Tensor or SparseTensor): An :obj:`edge_index` of
            shape :obj:`[2, num_edges]` (row 0 sources, row 1 targets), a
            sparse CSR/COO adjacency applied as :obj:`adj @ x`, or a
            :class:`torch_sparse.SparseTensor` (PyG's :obj:`adj_t`). For
            speed pass a CSR tensor, or reuse the same :obj:`edge_index`
            tensor (its matrix is cached on it).
        edge_weight (torch.Tensor, optional): Weights :obj:`[num_edges]` of
            an :obj:`edge_index`; may require gradients.
            (default: :obj:`None`)
        normalize (bool, optional): If :obj:`True`, applies
            :math:`\mathbf{D}^{-1/2}\mathbf{A}\mathbf{D}^{-1/2}` (no
            self-loops) as :obj:`LGConv` does; adjacencies the library marked
            as normalised are used as they are, and an adjacency that is
            visibly normalised already is refused. Pass :obj:`False` for a
            graph you normalised yourself. (default: :obj:`True`)
        symmetric (bool, optional): :obj:`None` detects whether the matrix
            is symmetric (known for library adjacencies, else checked once
            per tensor), which allows the cheaper backward pass; an
            :obj:`edge_index` without :obj:`num_users` must then be
            symmetric. :obj:`False` uses the transpose in the backward pass
            (directed graphs); :obj:`True` requires symmetry.
            (default: :obj:`None`)
        num_users (int, optional): Marks :obj:`edge_index` as bipartite
            (user, item) pairs with both id ranges starting at 0 (as in
            :obj:`data['user', 'interacts', 'item'].edge_index`); the items
            are offset by :obj:`num_users` and both directions are used.
            (default: :obj:`None`)

    The older argument order :obj:`sparse_propagate(adj, x)` is accepted
    too (the two are told apart by type).
    """
    x, adj, sym = _prepare(x, edge_index, edge_weight, normalize, symmetric,
                           num_users)
    return _product(adj, x, sym)


class LightGCNPropagation(torch.nn.Module):
    r"""The weight-free propagation of `"LightGCN: Simplifying and Powering
    Graph Convolution Network for Recommendation"
    <https://arxiv.org/abs/2002.02126>`_: :math:`L` stacked
    :class:`torch_geometric.nn.conv.LGConv` steps and their combination,

    .. math::
        \mathbf{E}^{(l+1)} = \hat{\mathbf{A}} \mathbf{E}^{(l)}, \qquad
        \mathbf{E} = \mathrm{combine}_{l=0}^{L} \mathbf{E}^{(l)},

    where :math:`\mathrm{combine}` is the mean (LightGCN), the sum (LIRDRec,
    FREEDOM) or the last layer only, and :math:`\hat{\mathbf{A}}` the
    normalised graph (see :func:`sparse_propagate` for the accepted graphs,
    the normalisation and the symmetry check).

    .. code-block:: python

        prop = LightGCNPropagation(num_layers=2)
        out = prop(x, edge_index)                  # like stacked LGConv
        out = prop(x, data['user', 'rates', 'item'].edge_index,
                   num_users=data['user'].num_nodes)   # bipartite pairs
        out = prop(x, get_ui_adjacency(data))      # fastest: library CSR

    Args:
        num_layers (int): The number of propagation steps :math:`L \geq 0`.
        combine (str, optional): :obj:`"mean"`, :obj:`"sum"` or :obj:`"last"`.
            (default: :obj:`"mean"`)
        normalize (bool, optional): Whether to normalise the graph like
            :obj:`LGConv`; :obj:`False` for a graph normalised beforehand.
            (default: :obj:`True`)
        symmetric (bool, optional): :obj:`None` (detect), :obj:`False`
            (directed graph) or :obj:`True` (required), see
            :func:`sparse_propagate`. (default: :obj:`None`)

    Shapes:
        - **input:** node features :math:`(|\mathcal{V}|, F)`,
          edge indices :math:`(2, |\mathcal{E}|)` or a sparse adjacency
          :math:`(|\mathcal{V}|, |\mathcal{V}|)`,
          edge weights :math:`(|\mathcal{E}|)` *(optional)*
        - **output:** node features :math:`(|\mathcal{V}|, F)`
    """
    def __init__(self, num_layers: int, combine: str = 'mean',
                 normalize: bool = True,
                 symmetric: Optional[bool] = None) -> None:
        super().__init__()
        check_non_negative('num_layers', num_layers)
        check_one_of('combine', combine, COMBINES)
        self.num_layers = num_layers
        self.combine = combine
        self.normalize = normalize
        self.symmetric = symmetric

    def reset_parameters(self) -> None:
        r"""There are no parameters; kept for the PyG module protocol."""

    def _prepare(self, x: Tensor, edge_index: Adj, edge_weight: OptTensor,
                 num_users: Optional[int]) -> Tuple[Tensor, Adj, bool]:
        return _prepare(x, edge_index, edge_weight, self.normalize,
                        self.symmetric, num_users)

    def layers(self, x: Tensor, edge_index: Adj,
               edge_weight: OptTensor = None,
               num_users: Optional[int] = None) -> List[Tensor]:
        r"""Returns :math:`[\mathbf{E}^{(0)}, \ldots, \mathbf{E}^{(L)}]`."""
        x, adj, sym = self._prepare(x, edge_index, edge_weight, num_users)
        out = [x]
        for _ in range(self.num_layers):
            out.append(_product(adj, out[-1], sym))
        return out

    def forward(self, x: Tensor, edge_index: Adj,
                edge_weight: OptTensor = None,
                num_users: Optional[int] = None) -> Tensor:
        r"""Propagates :obj:`x` over the graph (see :func:`sparse_propagate`
        for the arguments)."""
        x, adj, sym = self._prepare(x, edge_index, edge_weight, num_users)
        if (self.combine != 'last' and sym and isinstance(adj, Tensor)
                and x.requires_grad and not adj.requires_grad):
            scale = 1.0 / (self.num_layers + 1) if self.combine == 'mean' \
                else 1.0
            return _SymmetricPowerSum.apply(adj, x, self.num_layers, scale)
        if self.combine == 'last':
            for _ in range(self.num_layers):
                x = _product(adj, x, sym)
            return x
        total = x
        h = x
        for _ in range(self.num_layers):
            h = _product(adj, h, sym)
            total = total + h
        if self.combine == 'mean':
            total = total / (self.num_layers + 1)
        return total

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num_layers={self.num_layers}, '
                f'combine={self.combine})')
