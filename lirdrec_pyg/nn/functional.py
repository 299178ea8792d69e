"""Memory-lean versions of two elementwise operations on large ``[N, F]``
buffers, with hand-written backward passes.

On a CPU, one pass over a buffer of a few MiB costs about as much as a small
matrix product, so the number of passes decides the step time of a model like
LIRDRec. These functions return what their ``torch`` counterparts return, in
fewer passes forward and backward.
"""
from typing import Any, Tuple

import torch
from torch import Tensor


class _L2Normalize(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, eps: float) -> Tensor:
        norm = torch.linalg.vector_norm(x, dim=-1, keepdim=True)
        clamped = norm.clamp_min(eps)
        out = x / clamped
        # Rows whose norm was clamped are divided by a constant: their
        # gradient has no projection term.
        ctx.save_for_backward(out, clamped, norm > eps)
        return out

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tuple[Tensor, None]:
        out, clamped, unclamped = ctx.saved_tensors
        dot = (grad * out).sum(-1, keepdim=True).mul_(unclamped)
        return torch.addcmul(grad, out, dot, value=-1.0).div_(clamped), None


def l2_normalize(x: Tensor, eps: float = 1e-12) -> Tensor:
    r"""Row-wise :math:`\ell_2` normalisation over the last dimension,

    .. math::
        \mathbf{y} = \frac{\mathbf{x}}{\max(\lVert\mathbf{x}\rVert_2,
        \epsilon)}, \qquad
        \frac{\partial \mathcal{L}}{\partial \mathbf{x}} =
        \frac{\mathbf{g} - \mathbf{y} \, (\mathbf{g}^{\top}\mathbf{y})}
        {\lVert\mathbf{x}\rVert_2},

    equal to :func:`torch.nn.functional.normalize` with :obj:`p=2,
    dim=-1`.

    Args:
        x (torch.Tensor): Input of shape :math:`(*, F)`.
        eps (float, optional): Lower bound of the norm.
            (default: :obj:`1e-12`)
    """
    if not x.requires_grad:
        return torch.nn.functional.normalize(x, p=2.0, dim=-1, eps=eps)
    return _L2Normalize.apply(x, eps)


class _MeanSquare(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        ctx.save_for_backward(x)
        flat = x.reshape(-1)
        return torch.dot(flat, flat) / flat.numel()

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        x, = ctx.saved_tensors
        return x * (grad * (2.0 / x.numel()))


def mean_square(x: Tensor) -> Tensor:
    r"""The mean of the squared entries, :math:`\frac{1}{n}\sum_j x_j^2`,
    equal to :obj:`x.pow(2).mean()` in one pass forward and one backward.

    Args:
        x (torch.Tensor): Input of any shape, at least one entry.
    """
    if x.numel() == 0:
        raise ValueError("mean_square needs at least one entry")
    if not x.requires_grad:
        return x.pow(2).mean()
    return _MeanSquare.apply(x)
