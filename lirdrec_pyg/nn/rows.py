r"""Row lookups with row-sparse gradients, for mini-batch training of large
tables (user and item embeddings, per-user parameters).

Indexing a table of :math:`N` rows with :obj:`table[index]` gives a dense
gradient of the table's full shape, so every optimisation step costs
:math:`O(N)` however small the batch. :func:`gather_rows` returns the same
rows with a sparse COO gradient holding only the looked-up rows (like
:class:`torch.nn.Embedding` with :obj:`sparse=True`, for tables of any
number of dimensions), which :class:`torch.optim.SparseAdam` (or the
sampled mode's :class:`~lirdrec_pyg.train.row_adam.RowAdam`) applies in
:math:`O(|\text{index}|)`.
"""
from typing import Any, Tuple

import torch
from torch import Tensor


class _GatherRows(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, weight: Tensor, index: Tensor) -> Tensor:
        ctx.shape = weight.shape
        ctx.save_for_backward(index)
        return weight.index_select(0, index)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tuple[Tensor, None]:
        index, = ctx.saved_tensors
        out = torch.sparse_coo_tensor(index.view(1, -1), grad.contiguous(),
                                      ctx.shape)
        return out, None


def gather_rows(weight: Tensor, index: Tensor, sparse: bool = True) -> Tensor:
    r"""Returns :obj:`weight[index]` (rows along the first dimension); with
    :obj:`sparse=True` the gradient for :obj:`weight` is a sparse COO tensor
    of its shape holding the rows of :obj:`index` only (repeated rows are
    summed when it is coalesced).

    Args:
        weight (torch.Tensor): A table of shape :obj:`[N, *]`.
        index (torch.Tensor): Row ids of shape :obj:`[B]`.
        sparse (bool, optional): Row-sparse gradient.
            (default: :obj:`True`)
    """
    if index.dim() != 1:
        raise ValueError(f"'index' must be 1-D (got shape "
                         f"{list(index.shape)})")
    if not sparse or not weight.requires_grad:
        return weight.index_select(0, index)
    return _GatherRows.apply(weight, index.long())
