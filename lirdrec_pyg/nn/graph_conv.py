r"""Message passing with (learnable) edge weights over a fixed graph structure,
as needed by MMGCN (mean aggregation), GRCN (refined, learned edge weights)
and DualGNN."""
import warnings
from typing import Any, Optional, Tuple

import torch
from torch import Tensor
from torch_geometric.utils import softmax as edge_softmax

# EdgeGraph range-checks its edges once, so its products skip the kernel's
# structure check.
from lirdrec_pyg.nn.kernels import spmm as _spmm


def _csr(crow: Tensor, col: Tensor, value: Tensor,
         size: Tuple[int, int]) -> Tensor:
    with warnings.catch_warnings():
        # CSR is flagged "beta" by torch; it is what we measured fastest.
        warnings.simplefilter('ignore', UserWarning)
        return torch.sparse_csr_tensor(crow, col, value, size)


def _sddmm(graph: 'EdgeGraph', x_dst: Tensor, x_src: Tensor) -> Tensor:
    r"""Per-edge dot products :math:`\mathbf{a}_v^{\top} \mathbf{b}_u` in
    stored edge order, without gathering :math:`|\mathcal{E}| \times F`
    rows (which is ~30x slower on CPU)."""
    pattern = _csr(graph.crow, graph.col,
                   x_dst.new_zeros(graph.num_edges),
                   (graph.num_dst, graph.num_src))
    return torch.sparse.sampled_addmm(pattern, x_dst, x_src.t(),
                                      beta=0.0).values()


class _EdgeDot(torch.autograd.Function):
    r"""Per-edge scores :math:`s_{u \to v} = \mathbf{a}_v^{\top}
    \mathbf{b}_u` (SDDMM), differentiable in both inputs."""

    @staticmethod
    def forward(ctx: Any, graph: 'EdgeGraph', x_dst: Tensor,
                x_src: Tensor) -> Tensor:
        ctx.graph = graph
        ctx.save_for_backward(x_dst, x_src)
        return _sddmm(graph, x_dst.contiguous(), x_src.contiguous())

    @staticmethod
    def backward(ctx: Any, grad_out: Tensor) -> Tuple[None, Optional[Tensor],
                                                      Optional[Tensor]]:
        graph: EdgeGraph = ctx.graph
        x_dst, x_src = ctx.saved_tensors
        grad_dst = grad_src = None
        grad_out = grad_out.to(x_dst.dtype)
        if ctx.needs_input_grad[1]:
            adj = _csr(graph.crow, graph.col, grad_out,
                       (graph.num_dst, graph.num_src))
            grad_dst = _spmm(adj, x_src, validated=True)
        if ctx.needs_input_grad[2]:
            adj_t = _csr(graph.crow_t, graph.col_t, grad_out[graph.perm_t],
                         (graph.num_src, graph.num_dst))
            grad_src = _spmm(adj_t, x_dst, validated=True)
        return None, grad_dst, grad_src


class _WeightedSpMM(torch.autograd.Function):
    r"""``out[dst] += w * x[src]`` as one CSR product; the backward pass uses
    the cached transposed structure for :obj:`x` and a gathered dot product
    for the edge weights, so neither needs autograd through sparse ops."""

    @staticmethod
    def forward(ctx: Any, graph: 'EdgeGraph', weight: Tensor,
                x: Tensor) -> Tensor:
        ctx.graph = graph
        ctx.save_for_backward(weight, x)
        adj = _csr(graph.crow, graph.col, weight.to(x.dtype),
                   (graph.num_dst, graph.num_src))
        return _spmm(adj, x, validated=True)

    @staticmethod
    def backward(ctx: Any, grad_out: Tensor) -> Tuple[None, Optional[Tensor],
                                                      Optional[Tensor]]:
        graph: EdgeGraph = ctx.graph
        weight, x = ctx.saved_tensors
        grad_weight = grad_x = None
        grad_out = grad_out.contiguous()
        if ctx.needs_input_grad[1]:
            grad_weight = _sddmm(graph, grad_out, x).to(weight.dtype)
        if ctx.needs_input_grad[2]:
            adj_t = _csr(graph.crow_t, graph.col_t,
                         weight[graph.perm_t].to(x.dtype),
                         (graph.num_src, graph.num_dst))
            grad_x = _spmm(adj_t, grad_out, validated=True)
        return None, grad_weight, grad_x


class EdgeGraph(torch.nn.Module):
    r"""A fixed directed graph from :obj:`num_src` source nodes to
    :obj:`num_dst` target nodes that aggregates messages with per-edge
    weights,

    .. math::
        \mathbf{x}'_v = \sum_{u \in \mathcal{N}(v)} w_{u \to v}\,
        \mathbf{x}_u,

    as one CSR product (rows are targets). The weights may be computed from
    parameters (attention, graph refinement): gradients flow to both
    :obj:`edge_weight` and :obj:`x` without a dense :math:`N \times N` matrix
    and without autograd through sparse tensors.

    Edges are stored sorted by (target, source); :attr:`edge_index` gives that
    order, to which every :obj:`edge_weight` must be aligned. The structure is
    kept in non-persistent buffers: it moves with :meth:`to` and stays out of
    the :meth:`state_dict` (it is rebuilt from the data).

    Args:
        edge_index (torch.Tensor): Edges of shape :obj:`[2, num_edges]`, row
            0 the sources, row 1 the targets, without duplicates.
        num_src (int): The number of source nodes.
        num_dst (int, optional): The number of target nodes.
            (default: :obj:`num_src`)

    Shapes:
        - **input:** source features :math:`(|\mathcal{V}_s|, F)`, edge
          weights :math:`(|\mathcal{E}|)`
        - **output:** target features :math:`(|\mathcal{V}_t|, F)`
    """
    def __init__(self, edge_index: Tensor, num_src: int,
                 num_dst: Optional[int] = None) -> None:
        super().__init__()
        num_dst = num_src if num_dst is None else num_dst
        if edge_index.dim() != 2 or edge_index.size(0) != 2:
            raise ValueError(f"'edge_index' must have shape [2, num_edges] "
                             f"(got {tuple(edge_index.shape)})")
        src, dst = edge_index[0].long(), edge_index[1].long()
        for ids, n, what in ((src, num_src, 'source'),
                             (dst, num_dst, 'target')):
            if ids.numel() > 0 and (int(ids.min()) < 0
                                    or int(ids.max()) >= n):
                raise ValueError(f"{what} ids must lie in [0, {n}) (got "
                                 f"range [{int(ids.min())}, "
                                 f"{int(ids.max())}])")
        self.num_src, self.num_dst = int(num_src), int(num_dst)
        perm = torch.argsort(dst * self.num_src + src)
        src, dst = src[perm], dst[perm]
        key_t = src * self.num_dst + dst
        if key_t.numel() > 1 and bool((key_t.sort().values.diff() == 0).any()):
            raise ValueError("'edge_index' must not contain duplicate edges")
        perm_t = torch.argsort(key_t)
        self.register_buffer('src', src, persistent=False)
        self.register_buffer('dst', dst, persistent=False)
        self.register_buffer('crow', self._ptr(dst, self.num_dst),
                             persistent=False)
        self.register_buffer('col', src.clone(), persistent=False)
        self.register_buffer('perm_t', perm_t, persistent=False)
        self.register_buffer('crow_t', self._ptr(src, self.num_src),
                             persistent=False)
        self.register_buffer('col_t', dst[perm_t], persistent=False)

    @staticmethod
    def _ptr(index: Tensor, n: int) -> Tensor:
        ptr = torch.zeros(n + 1, dtype=torch.long, device=index.device)
        ptr[1:] = torch.cumsum(torch.bincount(index, minlength=n), 0)
        return ptr

    @property
    def edge_index(self) -> Tensor:
        r"""The edges in stored order, :obj:`[2, num_edges]`."""
        return torch.stack([self.src, self.dst])

    @property
    def num_edges(self) -> int:
        return self.src.numel()

    def in_degree(self) -> Tensor:
        r"""The number of incoming edges of every target node."""
        return self.crow.diff().to(torch.float)

    def softmax(self, score: Tensor) -> Tensor:
        r"""Normalises per-edge scores over the incoming edges of every
        target, :math:`\alpha_{u \to v} = \exp s_{u \to v} / \sum_{u'}
        \exp s_{u' \to v}`."""
        return edge_softmax(score, self.dst, num_nodes=self.num_dst)

    def edge_dot(self, x_dst: Tensor, x_src: Tensor) -> Tensor:
        r"""Per-edge scores :math:`s_{u \to v} = \mathbf{a}_v^{\top}
        \mathbf{b}_u` (in stored order) of target features :obj:`x_dst` and
        source features :obj:`x_src`."""
        if x_dst.size(0) != self.num_dst or x_src.size(0) != self.num_src:
            raise ValueError(f"'x_dst' and 'x_src' must have {self.num_dst} "
                             f"and {self.num_src} rows (got {x_dst.size(0)} "
                             f"and {x_src.size(0)})")
        return _EdgeDot.apply(self, x_dst, x_src)

    def forward(self, x: Tensor, edge_weight: Optional[Tensor] = None
                ) -> Tensor:
        if x.size(0) != self.num_src:
            raise ValueError(f"'x' has {x.size(0)} rows but the graph has "
                             f"{self.num_src} source nodes")
        if edge_weight is None:
            edge_weight = x.new_ones(self.num_edges)
        elif edge_weight.dim() == 2 and edge_weight.size(1) == 1:
            edge_weight = edge_weight.view(-1)
        if edge_weight.shape != (self.num_edges, ):
            raise ValueError(f"'edge_weight' must have shape "
                             f"[{self.num_edges}] (got "
                             f"{list(edge_weight.shape)})")
        return _WeightedSpMM.apply(self, edge_weight, x)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num_src={self.num_src}, '
                f'num_dst={self.num_dst}, num_edges={self.num_edges})')


def bipartite_edge_index(edge_index: Tensor, num_users: int) -> Tensor:
    r"""Both directions of the user-item interactions :obj:`edge_index` in
    the joint node numbering (users first, item :math:`i` is node
    :math:`U + i`): shape :obj:`[2, 2 * num_edges]`."""
    user, item = edge_index[0].long(), edge_index[1].long() + num_users
    return torch.stack([torch.cat([user, item]), torch.cat([item, user])])
