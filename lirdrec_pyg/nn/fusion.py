"""Progressive weight copying (PWC): LIRDRec's attention over branches."""
import math
from typing import Optional

import torch
from torch import Tensor

from lirdrec_pyg.checks import check_positive


class PWCFusion(torch.nn.Module):
    r"""The progressive weight copying fusion of `"Learning Item
    Representations Directly From Multimodal Features For Effective
    Recommendation" <https://arxiv.org/abs/2505.04960>`_. A row
    :math:`\mathbf{u} = [\mathbf{u}_1 \Vert \cdots \Vert \mathbf{u}_B]` made
    of :math:`B` branch blocks is re-weighted by an attention that moves,
    epoch by epoch, from small per-branch scorers to a free per-row
    parameter :math:`\mathbf{\Theta}`:

    .. math::
        f_b(\mathbf{u}_b) &= \mathbf{w}_{2,b}^{\top} \,
        \mathrm{LeakyReLU}\left(\mathbf{W}_{1,b} \mathbf{u}_b +
        \mathbf{b}_{1,b}\right) + b_{2,b}

        \boldsymbol{\alpha}(u) &= \mathrm{softmax}\left(w_1^{(e)}
        \mathbf{f}(\mathbf{u}) + w_2^{(e)} \mathbf{\Theta}_u\right)

        \mathbf{z}_u &= \big\Vert_{b=1}^{B} \alpha_b(u) \, \mathbf{u}_b.

    Schedule (:meth:`step_epoch`, called at the start of every epoch
    :math:`e = 1, 2, \ldots`): :math:`w_1 \leftarrow w_1 \cdot
    \beta^{e}` followed by renormalising :math:`w_1 + w_2 = 1` (so the decay
    compounds: with :math:`w_1^{(0)} = \beta = 0.9`, :math:`w_1` is
    :math:`0.8901, 0.6495, 0.0267` after epochs 1, 5, 10), and the
    **copy** :math:`\mathbf{\Theta} \leftarrow \boldsymbol{\alpha}` of the
    last training forward pass of the previous epoch (for the rows it was
    computed on). :math:`\mathbf{\Theta}` is also trained by the optimiser.
    :math:`w_1, w_2`, the recorded attention and the last scheduled epoch are
    buffers, so a checkpoint restores the schedule exactly.

    Args:
        num_branches (int): The number of branch blocks :math:`B`.
        channels (int): The size of every block.
        num_rows (int): The number of rows of :math:`\mathbf{\Theta}` (e.g.
            the number of users).
        decay_weight (float, optional): The initial :math:`w_1` in
            :math:`(0, 1]`. (default: :obj:`0.9`)
        decay_base (float, optional): The base :math:`\beta` in
            :math:`(0, 1]`. (default: :obj:`0.9`)
        hidden_channels (int, optional): Scorer hidden size (default:
            :obj:`None`, :obj:`max(1, channels // 4)`).
        negative_slope (float, optional): LeakyReLU slope of the scorers.
            (default: :obj:`0.01`)

    Shapes:
        - **input:** :math:`(N, B \cdot C)` and optional row indices
          :math:`(N)` into :math:`\mathbf{\Theta}`
        - **output:** :math:`(N, B \cdot C)`
    """
    def __init__(self, num_branches: int, channels: int, num_rows: int,
                 decay_weight: float = 0.9, decay_base: float = 0.9,
                 hidden_channels: Optional[int] = None,
                 negative_slope: float = 0.01) -> None:
        super().__init__()
        if hidden_channels is None:
            hidden_channels = max(1, channels // 4)
        for name, value in [('num_branches', num_branches),
                            ('channels', channels), ('num_rows', num_rows),
                            ('hidden_channels', hidden_channels)]:
            check_positive(name, value)
        for name, value in [('decay_weight', decay_weight),
                            ('decay_base', decay_base)]:
            if not 0 < value <= 1:
                raise ValueError(f"'{name}' must lie in (0, 1] (got {value})")
        self.num_branches = num_branches
        self.channels = channels
        self.num_rows = num_rows
        self.hidden_channels = hidden_channels
        self.decay_weight = decay_weight
        self.decay_base = decay_base
        self.negative_slope = negative_slope
        B, C, H = num_branches, channels, hidden_channels
        self.weight1 = torch.nn.Parameter(torch.empty(B, H, C))
        self.bias1 = torch.nn.Parameter(torch.empty(B, H))
        self.weight2 = torch.nn.Parameter(torch.empty(B, H))
        self.bias2 = torch.nn.Parameter(torch.empty(B))
        self.theta = torch.nn.Parameter(torch.empty(num_rows, B))
        self.register_buffer('w1', torch.empty(()))
        self.register_buffer('w2', torch.empty(()))
        self.register_buffer('last_epoch', torch.zeros((), dtype=torch.long))
        self.register_buffer('last_alpha', torch.zeros(num_rows, B))
        self.register_buffer('recorded', torch.zeros(num_rows,
                                                     dtype=torch.bool))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # The bounds of torch.nn.Linear's default initialisation.
        bound1 = 1.0 / math.sqrt(self.channels)
        bound2 = 1.0 / math.sqrt(self.hidden_channels)
        torch.nn.init.uniform_(self.weight1, -bound1, bound1)
        torch.nn.init.uniform_(self.bias1, -bound1, bound1)
        torch.nn.init.uniform_(self.weight2, -bound2, bound2)
        torch.nn.init.uniform_(self.bias2, -bound2, bound2)
        torch.nn.init.xavier_normal_(self.theta)
        self.w1.fill_(self.decay_weight)
        self.w2.fill_(1.0 - self.decay_weight)
        self.last_epoch.zero_()
        self.last_alpha.zero_()
        self.recorded.zero_()

    def scores(self, x: Tensor) -> Tensor:
        r"""The scorer logits :math:`\mathbf{f}(\mathbf{u})`, shape
        :obj:`[N, B]`, for :obj:`x` of shape :obj:`[N, B, C]`."""
        h = torch.einsum('nbc,bhc->nbh', x, self.weight1) + self.bias1
        h = torch.nn.functional.leaky_relu(h, self.negative_slope)
        return (h * self.weight2).sum(-1) + self.bias2

    def attention(self, x: Tensor, theta: Optional[Tensor]) -> Tensor:
        r"""The attention :math:`\boldsymbol{\alpha}`, shape :obj:`[N, B]`,
        for :obj:`x` of shape :obj:`[N, B, C]` and the matching rows of
        :math:`\mathbf{\Theta}` (:obj:`None`: rows without a
        :math:`\mathbf{\Theta}` entry, which use the scorers only)."""
        logits = self.w1 * self.scores(x)
        if theta is not None:
            logits = logits + self.w2 * theta
        return torch.softmax(logits, dim=-1)

    def forward(self, x: Tensor, index: Optional[Tensor] = None,
                accumulate: bool = False) -> Tensor:
        r"""Fuses :obj:`x` of shape :obj:`[N, B * C]`; :obj:`index` gives
        the :math:`\mathbf{\Theta}` row of every row of :obj:`x` (default:
        :obj:`None`, all rows in order, :obj:`N = num_rows`). In training
        mode the attention is recorded for the copy of :meth:`step_epoch`:
        it replaces what earlier passes recorded, or, with
        :obj:`accumulate=True` (mini-batches over row subsets), updates the
        rows of :obj:`index` and keeps the others."""
        B, C = self.num_branches, self.channels
        if x.dim() != 2 or x.size(-1) != B * C:
            raise ValueError(f"{self.__class__.__name__} expects input of "
                             f"shape [N, {B * C}] ({B} branches of {C}) "
                             f"(got {list(x.shape)})")
        if index is None:
            if x.size(0) != self.num_rows:
                raise ValueError(f"without 'index', the input must have "
                                 f"{self.num_rows} rows (got {x.size(0)})")
            theta = self.theta
        else:
            if index.shape != (x.size(0), ):
                raise ValueError(f"'index' must have shape [{x.size(0)}] "
                                 f"(got {list(index.shape)})")
            theta = self.theta[index]
        blocks = x.view(-1, B, C)
        alpha = self.attention(blocks, theta)
        if self.training:
            self._record(alpha.detach(), index, accumulate)
        return (alpha.unsqueeze(-1) * blocks).view(-1, B * C)

    @torch.no_grad()
    def _record(self, alpha: Tensor, index: Optional[Tensor],
                accumulate: bool = False) -> None:
        if index is None:
            self.last_alpha.copy_(alpha)
            self.recorded.fill_(True)
        else:
            if not accumulate:
                self.recorded.fill_(False)
            self.last_alpha[index] = alpha
            self.recorded[index] = True

    @torch.no_grad()
    def step_epoch(self, epoch: int) -> None:
        r"""Applies the schedule at the start of epoch :obj:`epoch` (from 1):
        decays :math:`w_1`, renormalises, and copies the recorded attention
        into :math:`\mathbf{\Theta}`. A repeated or earlier epoch (e.g. after
        resuming from a checkpoint) is a no-op."""
        if epoch < 1:
            raise ValueError(f"'epoch' counts from 1 (got {epoch})")
        if epoch <= int(self.last_epoch):
            return
        w1 = self.w1 * self.decay_base**epoch
        total = w1 + self.w2
        self.w1.copy_(w1 / total)
        self.w2.div_(total)
        if bool(self.recorded.any()):
            self.theta[self.recorded] = self.last_alpha[self.recorded]
        self.recorded.fill_(False)
        self.last_epoch.fill_(epoch)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.num_branches}, '
                f'{self.channels}, num_rows={self.num_rows}, '
                f'decay_weight={self.decay_weight}, '
                f'decay_base={self.decay_base})')
