"""LIRDRec's multimodal transformation: DCT of the concatenated modalities."""
from typing import List, Optional, Sequence, Union

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
        h_s = transform([x_audio, x_text])          # DCT + encoder
        s0 = transform.transform_features([x_audio, x_text])  # once
        h_s = transform(s0, transformed=True)        # per step, same result

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
        - **forward input:** a list of :math:`(N, d_m)`, or
          :math:`(N, \sum_m d_m)` with :obj:`transformed`
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

    def forward(self, x: Union[Tensor, Sequence[Tensor]],
                transformed: Optional[bool] = None) -> Tensor:
        r"""Encodes the items.

        Args:
            x (torch.Tensor or Sequence[torch.Tensor]): Either the list of
                modality features :obj:`[x_1, ..., x_M]` (transformed here),
                or one :obj:`[N, sum(in_channels)]` tensor, with
                :obj:`transformed` saying what it holds.
            transformed (bool, optional): For a single tensor: :obj:`True`
                if it is :math:`\mathbf{S}_0` from :meth:`transform_features`
                (the fast path for fixed features), :obj:`False` if it is the
                raw features concatenated in :obj:`in_channels` order. Both
                have the same width, so a single tensor without it is
                refused. (default: :obj:`None`)
        """
        if isinstance(x, (list, tuple)):
            if transformed:
                raise ValueError("'transformed=True' needs the single tensor "
                                 "S0 from transform_features, not a list")
            return self.encoder(self.transform_features(x))
        if not isinstance(x, Tensor):
            raise TypeError(f"'x' must be a tensor or a list of modality "
                            f"tensors (got {type(x).__name__})")
        width = sum(self.in_channels)
        if x.dim() != 2 or x.size(-1) != width:
            raise ValueError(f"'x' must have shape [N, {width}] (the "
                             f"modalities {self.in_channels} side by side), "
                             f"or be a list of modality tensors (got shape "
                             f"{list(x.shape)})")
        if transformed is None:
            raise ValueError(
                "MultimodalTransform got one tensor, which is either raw "
                "features side by side or S0 (same width): pass the list of "
                "modality tensors, or transformed=True for the output of "
                "transform_features, or transformed=False for raw features "
                "concatenated in in_channels order")
        if not transformed:
            x = self.transform_features(x.split(self.in_channels, dim=-1))
        return self.encoder(x)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.in_channels}, '
                f'{self.out_channels}, mode={self.mode})')
