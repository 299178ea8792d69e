"""The per-modality feature encoder of LIRDRec."""
from typing import Optional

import torch
from torch import Tensor

from lirdrec_pyg.checks import check_positive


class ModalityEncoder(torch.nn.Module):
    r"""The two-layer feature encoder of `"Learning Item Representations
    Directly From Multimodal Features For Effective Recommendation"
    <https://arxiv.org/abs/2505.04960>`_, which maps an item's raw modality
    features straight to its representation (there is no item ID embedding):

    .. math::
        \mathbf{H} = \mathrm{LeakyReLU}\left(\mathbf{X} \mathbf{W}_1 +
        \mathbf{b}_1\right) \mathbf{W}_2,

    with no bias on the second layer.

    Args:
        in_channels (int): Raw feature size :math:`d_m`.
        out_channels (int): Representation size :math:`d`.
        hidden_channels (int, optional): Hidden size (default: :obj:`None`,
            :obj:`4 * out_channels`).
        negative_slope (float, optional): LeakyReLU slope.
            (default: :obj:`0.01`)

    Shapes:
        - **input:** :math:`(*, d_m)`
        - **output:** :math:`(*, d)`
    """
    def __init__(self, in_channels: int, out_channels: int,
                 hidden_channels: Optional[int] = None,
                 negative_slope: float = 0.01) -> None:
        super().__init__()
        if hidden_channels is None:
            hidden_channels = 4 * out_channels
        for name, value in [('in_channels', in_channels),
                            ('out_channels', out_channels),
                            ('hidden_channels', hidden_channels)]:
            check_positive(name, value)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.hidden_channels = hidden_channels
        self.negative_slope = negative_slope
        self.lin1 = torch.nn.Linear(in_channels, hidden_channels, bias=True)
        self.lin2 = torch.nn.Linear(hidden_channels, out_channels, bias=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.lin1.reset_parameters()
        self.lin2.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        if x.size(-1) != self.in_channels:
            raise ValueError(f"{self.__class__.__name__} expects "
                             f"{self.in_channels} input features "
                             f"(got input of shape {list(x.shape)})")
        h = torch.nn.functional.leaky_relu(self.lin1(x), self.negative_slope)
        return self.lin2(h)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.in_channels}, '
                f'{self.out_channels}, hidden_channels='
                f'{self.hidden_channels})')
