"""LIRDRec's multimodal transformation: DCT of the concatenated modalities."""
from typing import List, Optional, Sequence

import torch
from torch import Tensor

from lirdrec_pyg.checks import check_one_of
from lirdrec_pyg.nn.dct import dct_2d, dct_ii
from lirdrec_pyg.nn.encoder import ModalityEncoder

MODES = ('1d', '2d')


class MultimodalTransform(torch.nn.Module):
    r"""The multimodal transformation (the "shared" branch) of `"Learning
    Item Representations Directly From Multimodal Features For Effective
    Recommendation" <https://arxiv.org/abs/2505.04960>`_: the orthonormal
    DCT-II of every modality, concatenated, then a
    :class:`~lirdrec_pyg.nn.ModalityEncoder`,

    .. math::
        \mathbf{S}_0 = \big\Vert_{m \in \mathcal{M}}
        \mathrm{DCT}(\mathbf{X}_m), \qquad
        \mathbf{H}_s = \mathrm{LeakyReLU}\left(\mathbf{S}_0 \mathbf{W}_{s1} +
        \mathbf{b}_{s1}\right) \mathbf{W}_{s2}.

    With :obj:`mode="1d"` (the reference implementation, default) the DCT
    runs along the feature axis of every item separately, so an item's
    :math:`\mathbf{S}_0` row depends on its own features only (new items can
    be transformed on their own). With :obj:`mode="2d"` (the paper's wording)
    it runs over the whole item :math:`\times` feature matrix, mixing items.

    Features are fixed, so :math:`\mathbf{S}_0` is computed once:

    .. code-block:: python

        transform = MultimodalTransform([128, 384], 64)
        s0 = transform.transform_features([x_audio, x_text])  # once
        h_s = transform(s0)                                    # per step

    Args:
        in_channels (Sequence[int]): Feature size of every modality, in the
            order the features are passed.
        out_channels (int): Representation size :math:`d`.
        mode (str, optional): :obj:`"1d"` or :obj:`"2d"`.
            (default: :obj:`"1d"`)
        hidden_channels (int, optional): Hidden size of the encoder
            (default: :obj:`None`, :obj:`4 * out_channels`).
        negative_slope (float, optional): LeakyReLU slope.
            (default: :obj:`0.01`)

    Shapes:
        - **transform_features input:** a list of :math:`(N, d_m)`
        - **forward input:** :math:`(N, \sum_m d_m)`
        - **output:** :math:`(N, d)`
    """
    def __init__(self, in_channels: Sequence[int], out_channels: int,
                 mode: str = '1d', hidden_channels: Optional[int] = None,
                 negative_slope: float = 0.01) -> None:
        super().__init__()
        in_channels = [int(c) for c in in_channels]
        if not in_channels or any(c <= 0 for c in in_channels):
            raise ValueError(f"'in_channels' must be a non-empty list of "
                             f"positive sizes (got {in_channels})")
        check_one_of('mode', mode, MODES)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.mode = mode
        self.encoder = ModalityEncoder(sum(in_channels), out_channels,
                                       hidden_channels, negative_slope)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.encoder.reset_parameters()

    def transform_features(self, xs: Sequence[Tensor]) -> Tensor:
        r"""Returns :math:`\mathbf{S}_0` (no parameters involved) for the
        list of modality features :obj:`xs`."""
        xs = list(xs)
        if len(xs) != len(self.in_channels):
            raise ValueError(f"expected {len(self.in_channels)} modality "
                             f"feature matrices (got {len(xs)})")
        out: List[Tensor] = []
        for m, (x, channels) in enumerate(zip(xs, self.in_channels)):
            if x.dim() != 2 or x.size(-1) != channels:
                raise ValueError(f"modality {m} must have shape [N, "
                                 f"{channels}] (got {list(x.shape)})")
            if x.size(0) != xs[0].size(0):
                raise ValueError(f"modality {m} has {x.size(0)} rows, "
                                 f"modality 0 has {xs[0].size(0)}")
            out.append(dct_ii(x, -1) if self.mode == '1d' else dct_2d(x))
        return torch.cat(out, dim=-1)

    def forward(self, s0: Tensor) -> Tensor:
        r"""Encodes a precomputed :math:`\mathbf{S}_0`
        (see :meth:`transform_features`)."""
        if s0.size(-1) != sum(self.in_channels):
            raise ValueError(f"'s0' must have {sum(self.in_channels)} "
                             f"features, the output of transform_features "
                             f"(got shape {list(s0.shape)})")
        return self.encoder(s0)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.in_channels}, '
                f'{self.out_channels}, mode={self.mode})')
