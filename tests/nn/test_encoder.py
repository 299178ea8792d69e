import pytest
import torch

from lirdrec_pyg.nn.encoder import ModalityEncoder


def test_modality_encoder_shapes_and_bias():
    enc = ModalityEncoder(12, 8)
    assert enc.hidden_channels == 32
    assert enc.lin1.weight.shape == (32, 12)
    assert enc.lin1.bias is not None and enc.lin1.bias.shape == (32, )
    assert enc.lin2.weight.shape == (8, 32)
    assert enc.lin2.bias is None
    assert sum(p.numel() for p in enc.parameters()) == 12 * 32 + 32 + 32 * 8
    assert str(enc) == 'ModalityEncoder(12, 8, hidden_channels=32)'
    assert enc(torch.randn(5, 12)).shape == (5, 8)
    assert enc(torch.randn(2, 3, 12)).shape == (2, 3, 8)


def test_modality_encoder_formula():
    enc = ModalityEncoder(6, 4, hidden_channels=5, negative_slope=0.2)
    x = torch.randn(7, 6)
    h = x @ enc.lin1.weight.t() + enc.lin1.bias
    h = torch.where(h > 0, h, 0.2 * h)
    assert torch.allclose(enc(x), h @ enc.lin2.weight.t(), atol=1e-6)
    # No bias on the output layer: a zero hidden state maps to zero.
    with torch.no_grad():
        enc.lin1.weight.zero_()
        enc.lin1.bias.zero_()
    assert torch.equal(enc(x), torch.zeros(7, 4))


def test_modality_encoder_reset_and_errors():
    enc = ModalityEncoder(6, 4)
    before = enc.lin1.weight.clone()
    enc.reset_parameters()
    assert not torch.equal(before, enc.lin1.weight)
    with pytest.raises(ValueError, match='expects 6 input features'):
        enc(torch.randn(3, 5))
    with pytest.raises(ValueError, match="'out_channels' must be positive"):
        ModalityEncoder(6, 0)
