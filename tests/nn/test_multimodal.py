import pytest
import torch

from lirdrec_pyg.nn.dct import dct_2d, dct_ii
from lirdrec_pyg.nn.multimodal import MultimodalTransform


def test_multimodal_transform_1d():
    xs = [torch.randn(9, 6), torch.randn(9, 4)]
    mt = MultimodalTransform([6, 4], 8)
    s0 = mt.transform_features(xs)
    assert s0.shape == (9, 10)
    assert torch.allclose(s0, torch.cat([dct_ii(xs[0]), dct_ii(xs[1])], -1))
    # Per item: a row of S0 depends on that item's features only.
    assert torch.allclose(mt.transform_features([x[:3] for x in xs]), s0[:3])
    out = mt(s0, transformed=True)
    assert out.shape == (9, 8)
    assert torch.allclose(out, mt.encoder(s0))
    assert str(mt) == 'MultimodalTransform([6, 4], 8, mode=1d)'


def test_multimodal_transform_2d():
    xs = [torch.randn(9, 6), torch.randn(9, 4), torch.randn(9, 3)]
    mt = MultimodalTransform([6, 4, 3], 8, mode='2d')
    s0 = mt.transform_features(xs)
    assert torch.allclose(s0, torch.cat([dct_2d(x) for x in xs], -1))
    assert not torch.allclose(
        mt.transform_features([x[:3] for x in xs]), s0[:3])
    assert mt(s0, transformed=True).shape == (9, 8)


def test_multimodal_transform_gradients():
    mt = MultimodalTransform([5], 4)
    mt([torch.randn(6, 5)]).sum().backward()
    assert all(p.grad is not None for p in mt.parameters())


def test_multimodal_transform_errors():
    mt = MultimodalTransform([6, 4], 8)
    with pytest.raises(ValueError, match='expected 2 modality'):
        mt.transform_features([torch.randn(3, 6)])
    with pytest.raises(ValueError, match=r'modality 1 must have shape'):
        mt.transform_features([torch.randn(3, 6), torch.randn(3, 5)])
    with pytest.raises(ValueError, match='modality 1 has 2 rows'):
        mt.transform_features([torch.randn(3, 6), torch.randn(2, 4)])
    with pytest.raises(ValueError, match=r"shape \[N, 10\]"):
        mt(torch.randn(3, 6), transformed=True)
    with pytest.raises(ValueError, match="'mode'"):
        MultimodalTransform([6], 8, mode='3d')
    with pytest.raises(ValueError, match="'in_channels'"):
        MultimodalTransform([], 8)


def test_multimodal_transform_list_and_raw_inputs():
    xs = [torch.randn(9, 6), torch.randn(9, 4)]
    mt = MultimodalTransform([6, 4], 8)
    expected = mt.encoder(torch.cat([dct_ii(xs[0]), dct_ii(xs[1])], -1))
    assert torch.allclose(mt(xs), expected)
    assert torch.allclose(mt(tuple(xs)), expected)
    assert torch.allclose(mt(torch.cat(xs, 1), transformed=False), expected)
    assert torch.allclose(mt(mt.transform_features(xs), transformed=True),
                          expected)


def test_multimodal_transform_refuses_ambiguous_single_tensor():
    # Raw features side by side and S0 have the same width: no guessing.
    mt = MultimodalTransform([6, 4], 8)
    with pytest.raises(ValueError, match='transformed=True .* '
                       'transformed=False'):
        mt(torch.randn(9, 10))
    with pytest.raises(ValueError, match='not a list'):
        mt([torch.randn(9, 6), torch.randn(9, 4)], transformed=True)
    with pytest.raises(TypeError, match="'x' must be a tensor"):
        mt({'image': torch.randn(9, 6)})
