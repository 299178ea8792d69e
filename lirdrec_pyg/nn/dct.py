"""The type-II discrete cosine transform on top of :mod:`torch.fft`."""
import math
from typing import Optional

import torch
from torch import Tensor

from lirdrec_pyg.checks import check_one_of

NORMS = ('ortho', None)


def dct_ii(x: Tensor, dim: int = -1, norm: Optional[str] = 'ortho') -> Tensor:
    r"""The type-II discrete cosine transform along :obj:`dim`, as used by
    the multimodal transformation of `"Learning Item Representations
    Directly From Multimodal Features For Effective Recommendation"
    <https://arxiv.org/abs/2505.04960>`_:

    .. math::
        y_k = s_k \sum_{n=0}^{N-1} x_n \cos\left(\frac{\pi k (2n + 1)}{2N}
        \right), \qquad s_k = \begin{cases} \sqrt{1/N} & k = 0 \\
        \sqrt{2/N} & k > 0 \end{cases}

    for :obj:`norm="ortho"` (an orthogonal transform), or :math:`s_k = 2`
    for :obj:`norm=None` (SciPy's unnormalised convention). Computed in
    :math:`O(N \log N)` with one FFT of the even/odd reordered input
    (Makhoul, 1980); differentiable and device-agnostic.

    Args:
        x (torch.Tensor): A real tensor.
        dim (int, optional): The axis to transform. (default: :obj:`-1`)
        norm (str, optional): :obj:`"ortho"` or :obj:`None`.
            (default: :obj:`"ortho"`)
    """
    check_one_of('norm', norm, NORMS)
    if x.is_complex() or not x.is_floating_point():
        raise ValueError(f"'x' must be a real floating point tensor "
                         f"(got dtype {x.dtype})")
    x = x.movedim(dim, -1)
    n = x.size(-1)
    if n == 0:
        raise ValueError("cannot take the DCT of an empty axis")
    # v = [x_0, x_2, x_4, ..., x_5, x_3, x_1]
    v = torch.cat([x[..., ::2], x[..., 1::2].flip(-1)], dim=-1)
    spectrum = torch.fft.fft(v, dim=-1)
    k = torch.arange(n, device=x.device, dtype=x.dtype)
    angle = -math.pi * k / (2 * n)
    y = spectrum.real * torch.cos(angle) - spectrum.imag * torch.sin(angle)
    if norm == 'ortho':
        scale = torch.full((n, ), math.sqrt(2.0 / n), dtype=x.dtype,
                           device=x.device)
        scale[0] = math.sqrt(1.0 / n)
        y = y * scale
    else:
        y = 2 * y
    return y.movedim(-1, dim)


def dct_2d(x: Tensor, norm: Optional[str] = 'ortho') -> Tensor:
    r"""The 2-D type-II DCT over the last two axes of :obj:`x` (e.g. an
    item :math:`\times` feature matrix): :func:`dct_ii` along the last axis,
    then along the second to last one.

    Args:
        x (torch.Tensor): A real tensor with at least two dimensions.
        norm (str, optional): :obj:`"ortho"` or :obj:`None`.
            (default: :obj:`"ortho"`)
    """
    if x.dim() < 2:
        raise ValueError(f"'x' must have at least 2 dimensions "
                         f"(got shape {list(x.shape)})")
    return dct_ii(dct_ii(x, -1, norm), -2, norm)
