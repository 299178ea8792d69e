"""Weight-free LightGCN-style propagation over a precomputed adjacency."""
from typing import Any, List, Optional, Tuple

import torch
from torch import Tensor

from lirdrec_pyg.checks import check_non_negative, check_one_of
from lirdrec_pyg.nn.kernels import spmm as _spmm
from lirdrec_pyg.typing import WITH_TORCH_SPARSE, Adj, SparseTensor

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


def transpose_csr(adj: Tensor) -> Tensor:
    r"""The transpose of a CSR tensor as a CSR tensor, cached on :obj:`adj`
    (a graph that moves or changes is a new tensor, with its own cache)."""
    cached = getattr(adj, '_lirdrec_transpose', None)
    if cached is not None:
        return cached
    from lirdrec_pyg.transforms.adjacency import csr_from_coo
    row = torch.arange(adj.size(0), device=adj.device)
    row = row.repeat_interleave(adj.crow_indices().diff())
    out = csr_from_coo(adj.col_indices(), row, adj.values(), adj.size(1),
                       adj.size(0))
    adj._lirdrec_transpose = out
    return out


def _edge_index_to_csr(edge_index: Tensor, edge_weight: Optional[Tensor],
                       num_nodes: int) -> Tensor:
    from lirdrec_pyg.transforms.adjacency import csr_from_coo
    if edge_weight is None:
        edge_weight = torch.ones(edge_index.size(1), device=edge_index.device)
    return csr_from_coo(edge_index[0], edge_index[1], edge_weight, num_nodes,
                        num_nodes)


def sparse_propagate(adj: Adj, x: Tensor, symmetric: bool = True,
                     edge_weight: Optional[Tensor] = None) -> Tensor:
    r"""One propagation step :math:`\hat{\mathbf{A}} \mathbf{X}`.

    Args:
        adj (torch.Tensor or SparseTensor): A sparse (CSR or COO) tensor, a
            :class:`torch_sparse.SparseTensor`, or an :obj:`edge_index` of
            shape :obj:`[2, num_edges]` (converted on every call; precompute a
            CSR tensor for speed).
        x (torch.Tensor): Node features of shape :obj:`[num_nodes, F]`.
        symmetric (bool, optional): If :obj:`True`, :obj:`adj` is taken to be
            symmetric and the backward pass reuses it; otherwise a CSR
            :obj:`adj` gets a cached transpose for the backward pass.
            (default: :obj:`True`)
        edge_weight (torch.Tensor, optional): Edge weights for an
            :obj:`edge_index` input. (default: :obj:`None`)
    """
    if WITH_TORCH_SPARSE and isinstance(adj, SparseTensor):
        import torch_sparse
        return torch_sparse.matmul(adj, x, reduce='sum')
    if not isinstance(adj, Tensor):
        raise TypeError(f"'adj' must be a torch.Tensor or SparseTensor "
                        f"(got {type(adj).__name__})")
    if not adj.is_sparse and adj.layout != torch.sparse_csr:
        if adj.dtype == torch.long and adj.dim() == 2 and adj.size(0) == 2:
            adj = _edge_index_to_csr(adj, edge_weight, x.size(0))
        else:
            raise ValueError("'adj' must be sparse, a SparseTensor or an "
                             "edge_index of shape [2, num_edges]")
    if adj.size(1) != x.size(0):
        raise ValueError(f"'adj' has {adj.size(1)} columns but 'x' has "
                         f"{x.size(0)} rows")
    if not x.requires_grad:
        return _spmm(adj, x)
    if adj.requires_grad:  # e.g. a learned graph: autograd handles both
        return adj @ x
    if symmetric or adj.layout == torch.sparse_csr:
        return _FixedSpMM.apply(adj, x, symmetric)
    return adj @ x


def _fusable(adj: Adj, x: Tensor) -> bool:
    # A fixed sparse torch adjacency and a differentiable input; everything
    # else (SparseTensor, edge_index, learned graphs) goes layer by layer.
    return (isinstance(adj, Tensor) and x.requires_grad
            and not adj.requires_grad
            and (adj.is_sparse or adj.layout == torch.sparse_csr)
            and adj.size(1) == x.size(0))


class LightGCNPropagation(torch.nn.Module):
    r"""The weight-free propagation of `"LightGCN: Simplifying and Powering
    Graph Convolution Network for Recommendation"
    <https://arxiv.org/abs/2002.02126>`_, over a precomputed normalised
    adjacency:

    .. math::
        \mathbf{E}^{(l+1)} = \hat{\mathbf{A}} \mathbf{E}^{(l)}, \qquad
        \mathbf{E} = \mathrm{combine}_{l=0}^{L} \mathbf{E}^{(l)},

    where :math:`\mathrm{combine}` is the mean (LightGCN), the sum (LIRDRec,
    FREEDOM) or the last layer only.

    Args:
        num_layers (int): The number of propagation steps :math:`L \geq 0`.
        combine (str, optional): :obj:`"mean"`, :obj:`"sum"` or :obj:`"last"`.
            (default: :obj:`"mean"`)
        symmetric (bool, optional): Whether the adjacency is symmetric, which
            enables the cheaper backward pass. (default: :obj:`True`)

    Shapes:
        - **input:** node features :math:`(|\mathcal{V}|, F)`, adjacency
          :math:`(|\mathcal{V}|, |\mathcal{V}|)`
        - **output:** node features :math:`(|\mathcal{V}|, F)`
    """
    def __init__(self, num_layers: int, combine: str = 'mean',
                 symmetric: bool = True) -> None:
        super().__init__()
        check_non_negative('num_layers', num_layers)
        check_one_of('combine', combine, COMBINES)
        self.num_layers = num_layers
        self.combine = combine
        self.symmetric = symmetric

    def reset_parameters(self) -> None:
        r"""There are no parameters; kept for the PyG module protocol."""

    def layers(self, x: Tensor, adj: Adj) -> List[Tensor]:
        r"""Returns :math:`[\mathbf{E}^{(0)}, \ldots, \mathbf{E}^{(L)}]`."""
        out = [x]
        for _ in range(self.num_layers):
            out.append(sparse_propagate(adj, out[-1], self.symmetric))
        return out

    def forward(self, x: Tensor, adj: Adj) -> Tensor:
        if (self.combine != 'last' and self.symmetric
                and _fusable(adj, x)):
            scale = 1.0 / (self.num_layers + 1) if self.combine == 'mean' \
                else 1.0
            return _SymmetricPowerSum.apply(adj, x, self.num_layers, scale)
        if self.combine == 'last':
            for _ in range(self.num_layers):
                x = sparse_propagate(adj, x, self.symmetric)
            return x
        out = self.layers(x, adj)
        total = out[0]
        for h in out[1:]:
            total = total + h
        if self.combine == 'mean':
            total = total / len(out)
        return total

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num_layers={self.num_layers}, '
                f'combine={self.combine})')
