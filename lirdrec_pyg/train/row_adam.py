r"""Row-wise ("lazy") Adam for large tables with row-sparse gradients.

The sampled training mode looks its embedding tables up with
:func:`~lirdrec_pyg.nn.gather_rows`, so a table's gradient is a sparse COO
tensor holding the rows a step touched. :class:`torch.optim.SparseAdam`
applies it through sparse tensors: it coalesces the gradient (sorting and
copying every gradient row), and every moment update and the parameter
update go through :meth:`~torch.Tensor.sparse_mask` and a sparse addition,
each building a new sparse tensor. :class:`RowAdam` computes the same
update, operation for operation, with index operations on the dense tables:
it reads the touched rows of the moments with
:meth:`~torch.Tensor.index_select`, and writes the increments back with
:meth:`~torch.Tensor.index_add_`; a gradient whose rows are distinct (the
usual case: a step gathers each node's rows once) is used as it is, with
no sort or copy of its rows.
"""
import math
from typing import Any, Iterable, Tuple

import torch
from torch import Tensor

__all__ = ['RowAdam']


def _distinct_rows(grad: Tensor) -> Tuple[Tensor, Tensor]:
    r"""The distinct row ids of a sparse COO gradient and each one's summed
    gradient row, in any order."""
    index, values = grad._indices()[0], grad._values()
    if grad.is_coalesced():
        return index, values
    # The number of distinct rows sizes the update: on a GPU the host
    # reads it (as SparseAdam's coalesce does).
    if torch.unique(index).numel() == index.numel():
        return index, values
    # Repeated rows (rare here) are summed by SparseAdam's own coalesce:
    # the same sums, to the bit.
    grad = grad.coalesce()
    return grad._indices()[0], grad._values()


class RowAdam(torch.optim.Optimizer):
    r"""The "lazy" Adam of :class:`torch.optim.SparseAdam`, computed with
    index operations on the touched rows of dense tables.

    For the rows :math:`\mathcal{R}` of a step's sparse gradient
    :math:`\mathbf{g}` (repeated rows summed), at step :math:`t` of the
    table,

    .. math::
        \mathbf{m}_r &\leftarrow \mathbf{m}_r + (1 - \beta_1)
        (\mathbf{g}_r - \mathbf{m}_r), \qquad
        \mathbf{v}_r \leftarrow \mathbf{v}_r + (1 - \beta_2)
        (\mathbf{g}_r^2 - \mathbf{v}_r),

        \mathbf{w}_r &\leftarrow \mathbf{w}_r - \eta
        \frac{\sqrt{1 - \beta_2^t}}{1 - \beta_1^t}
        \frac{\mathbf{m}_r}{\sqrt{\mathbf{v}_r} + \epsilon}
        \qquad (r \in \mathcal{R});

    the other rows and their moments are left unchanged. The operations and
    their order are SparseAdam's, so both give the same tables; the state
    (:obj:`step`, :obj:`exp_avg`, :obj:`exp_avg_sq`) is SparseAdam's too,
    and either optimiser loads the other's state dict.

    Args:
        params (iterable): Tables whose gradients are sparse COO tensors.
        lr (float, optional): The learning rate :math:`\eta`.
            (default: :obj:`1e-3`)
        betas (tuple, optional): :math:`(\beta_1, \beta_2)`.
            (default: :obj:`(0.9, 0.999)`)
        eps (float, optional): :math:`\epsilon`. (default: :obj:`1e-8`)
    """
    def __init__(self, params: Iterable[Tensor], lr: float = 1e-3,
                 betas: Tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8) -> None:
        if not lr > 0.0:
            raise ValueError(f"'lr' must be positive (got {lr})")
        if not eps > 0.0:
            raise ValueError(f"'eps' must be positive (got {eps})")
        if not all(0.0 <= b < 1.0 for b in betas) or len(betas) != 2:
            raise ValueError(f"'betas' must be two values in [0, 1) "
                             f"(got {betas})")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps))

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group['betas']
            lr, eps = float(group['lr']), group['eps']
            for param in group['params']:
                if param.grad is None:
                    continue
                if not param.grad.is_sparse:
                    raise RuntimeError("RowAdam needs sparse gradients "
                                       "(tables looked up with "
                                       "gather_rows); use Adam for dense "
                                       "ones")
                state = self.state[param]
                if len(state) == 0:
                    state['step'] = 0
                    state['exp_avg'] = torch.zeros_like(param)
                    state['exp_avg_sq'] = torch.zeros_like(param)
                state['step'] += 1
                rows, grad = _distinct_rows(param.grad)
                if grad.numel() == 0:
                    continue
                self._update(param, rows, grad, state, lr, beta1, beta2,
                             eps)
        return loss

    @staticmethod
    def _update(param: Tensor, rows: Tensor, grad: Tensor,
                state: dict, lr: float, beta1: float, beta2: float,
                eps: float) -> None:
        exp_avg, exp_avg_sq = state['exp_avg'], state['exp_avg_sq']
        # SparseAdam's operations in its order: old += (1 - b) * (new - old)
        # as an increment, which is then added to the old values again.
        old_avg = exp_avg.index_select(0, rows)
        avg_step = grad.sub(old_avg).mul_(1 - beta1)
        exp_avg.index_add_(0, rows, avg_step)
        old_sq = exp_avg_sq.index_select(0, rows)
        sq_step = grad.pow(2).sub_(old_sq).mul_(1 - beta2)
        exp_avg_sq.index_add_(0, rows, sq_step)
        numer = avg_step.add_(old_avg)
        denom = sq_step.add_(old_sq).sqrt_().add_(eps)
        step = state['step']
        step_size = lr * math.sqrt(1 - beta2**step) / (1 - beta1**step)
        param.index_add_(0, rows, numer.div_(denom).mul_(-step_size))
