r"""Self-supervised objectives shared by the multimodal baselines: the
InfoNCE contrast of two views (SLMRec, MGCN, LGMRec) and the negative-free
cosine alignment of an online and a target view (BM3)."""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from lirdrec_pyg.checks import check_one_of, check_positive

REDUCTIONS = ('mean', 'sum', 'none')


def _check_pair(a: Tensor, b: Tensor, names: str) -> None:
    if a.dim() != 2 or b.dim() != 2:
        raise ValueError(f"{names} must be 2-dimensional [B, F] (got shapes "
                         f"{list(a.shape)} and {list(b.shape)})")
    if a.shape != b.shape:
        raise ValueError(f"{names} must have the same shape (got "
                         f"{list(a.shape)} and {list(b.shape)})")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == 'mean':
        return loss.mean()
    if reduction == 'sum':
        return loss.sum()
    return loss


def info_nce(anchor: Tensor, positive: Tensor, temperature: float = 0.2,
             candidates: Optional[Tensor] = None, normalize: bool = True,
             reduction: str = 'mean') -> Tensor:
    r"""The InfoNCE loss of `"Representation Learning with Contrastive
    Predictive Coding" <https://arxiv.org/abs/1807.03748>`_ between two views
    of the same :math:`B` objects,

    .. math::
        \mathcal{L} = -\frac{1}{B} \sum_{b=1}^{B} \log
        \frac{\exp(s(\mathbf{a}_b, \mathbf{p}_b) / \tau)}
        {\sum_{\mathbf{c} \in \mathcal{C}} \exp(s(\mathbf{a}_b, \mathbf{c})
        / \tau)},

    with :math:`s` the cosine similarity (or the dot product if
    :obj:`normalize=False`) and :math:`\mathcal{C}` the in-batch positives
    :math:`\{\mathbf{p}_1, \ldots, \mathbf{p}_B\}` (so :math:`\mathbf{p}_b`
    is in the denominator, as in the cross-entropy form used by SLMRec and
    MGCN) or the given :obj:`candidates` (e.g. all items, as in LGMRec; they
    are expected to contain the positives). Computed with a log-sum-exp, so
    small temperatures do not overflow.

    Args:
        anchor (torch.Tensor): First view, shape :obj:`[B, F]`.
        positive (torch.Tensor): Second view, shape :obj:`[B, F]`; row
            :math:`b` is the positive of anchor :math:`b`.
        temperature (float, optional): :math:`\tau > 0`.
            (default: :obj:`0.2`)
        candidates (torch.Tensor, optional): Denominator set of shape
            :obj:`[N, F]`. (default: :obj:`None`, the in-batch positives)
        normalize (bool, optional): L2-normalise the rows first (cosine
            similarity). (default: :obj:`True`)
        reduction (str, optional): :obj:`"mean"`, :obj:`"sum"` or
            :obj:`"none"` over the :math:`B` terms. (default: :obj:`"mean"`)
    """
    _check_pair(anchor, positive, "'anchor' and 'positive'")
    check_positive('temperature', temperature)
    check_one_of('reduction', reduction, REDUCTIONS)
    if candidates is not None and (candidates.dim() != 2 or
                                   candidates.size(1) != anchor.size(1)):
        raise ValueError(f"'candidates' must have shape [N, "
                         f"{anchor.size(1)}] (got {list(candidates.shape)})")
    if normalize:
        anchor = F.normalize(anchor, dim=-1)
        positive = F.normalize(positive, dim=-1)
        if candidates is not None:
            candidates = F.normalize(candidates, dim=-1)
    if candidates is None:
        candidates = positive
    # Scaling the [B, F] anchor spares a division of the [B, N] logits.
    anchor = anchor / temperature
    pos_logit = (anchor * positive).sum(dim=-1)
    all_logits = anchor @ candidates.t()
    loss = torch.logsumexp(all_logits, dim=-1) - pos_logit
    return _reduce(loss, reduction)


def cosine_alignment_loss(online: Tensor, target: Tensor,
                          stop_gradient: bool = True,
                          reduction: str = 'mean') -> Tensor:
    r"""The negative-free alignment loss of the bootstrapping methods (`"BYOL"
    <https://arxiv.org/abs/2006.07733>`_, BM3): one minus the cosine
    similarity of an online view and a target view,

    .. math::
        \mathcal{L} = 1 - \frac{1}{B} \sum_{b=1}^{B}
        \frac{\mathbf{o}_b^{\top} \mathrm{sg}(\mathbf{t}_b)}
        {\lVert \mathbf{o}_b \rVert \, \lVert \mathbf{t}_b \rVert},

    where :math:`\mathrm{sg}` stops the gradient into the target.

    Args:
        online (torch.Tensor): Online (predicted) view, shape :obj:`[B, F]`.
        target (torch.Tensor): Target view, shape :obj:`[B, F]`.
        stop_gradient (bool, optional): Detach :obj:`target`.
            (default: :obj:`True`)
        reduction (str, optional): :obj:`"mean"`, :obj:`"sum"` or
            :obj:`"none"` over the :math:`B` terms. (default: :obj:`"mean"`)
    """
    _check_pair(online, target, "'online' and 'target'")
    check_one_of('reduction', reduction, REDUCTIONS)
    if stop_gradient:
        target = target.detach()
    loss = 1.0 - F.cosine_similarity(online, target, dim=-1)
    return _reduce(loss, reduction)
