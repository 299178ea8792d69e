import math

import pytest
import torch

from lirdrec_pyg.nn.dct import dct_2d, dct_ii


def direct_dct(x, norm='ortho'):
    """O(n^2) cosine sum along the last axis, float64."""
    n = x.size(-1)
    out = torch.zeros_like(x)
    for k in range(n):
        for j in range(n):
            out[..., k] += x[..., j] * math.cos(math.pi * k * (2 * j + 1) /
                                                (2 * n))
        if norm == 'ortho':
            out[..., k] *= math.sqrt((1 if k == 0 else 2) / n)
        else:
            out[..., k] *= 2
    return out


@pytest.mark.parametrize('n', [1, 2, 3, 7, 8, 16, 33])
@pytest.mark.parametrize('norm', ['ortho', None])
def test_dct_ii_matches_direct_sum(n, norm):
    x = torch.randn(4, n, dtype=torch.float64)
    assert torch.allclose(dct_ii(x, norm=norm), direct_dct(x, norm),
                          atol=1e-12)


def test_dct_ii_hand_computed():
    # A constant signal has only a DC term: sqrt(N) * c under 'ortho'.
    out = dct_ii(torch.full((4, ), 3.0, dtype=torch.float64))
    assert torch.allclose(out, torch.tensor([6.0, 0, 0, 0],
                                            dtype=torch.float64), atol=1e-12)


@pytest.mark.parametrize('n', [5, 8])
def test_dct_ii_orthonormal(n):
    eye = torch.eye(n, dtype=torch.float64)
    basis = dct_ii(eye)  # row j = DCT of e_j, the transposed DCT matrix
    assert torch.allclose(basis @ basis.t(), eye, atol=1e-12)
    x = torch.randn(3, n, dtype=torch.float64)
    assert torch.allclose(dct_ii(x).norm(dim=-1), x.norm(dim=-1))


def test_dct_ii_dim_argument():
    x = torch.randn(6, 5, 4, dtype=torch.float64)
    out = dct_ii(x, dim=1)
    ref = direct_dct(x.transpose(1, 2)).transpose(1, 2)
    assert out.shape == x.shape
    assert torch.allclose(out, ref, atol=1e-12)


@pytest.mark.parametrize('shape', [(5, 8), (6, 3), (2, 4, 7)])
def test_dct_2d(shape):
    x = torch.randn(*shape, dtype=torch.float64)
    ref = direct_dct(direct_dct(x).transpose(-1, -2)).transpose(-1, -2)
    assert torch.allclose(dct_2d(x), ref, atol=1e-12)


def test_dct_float32_and_gradient():
    x = torch.randn(3, 10, requires_grad=True)
    out = dct_ii(x)
    assert out.dtype == torch.float32
    assert torch.allclose(out.double(), direct_dct(x.detach().double()),
                          atol=1e-5)
    out.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_dct_errors():
    with pytest.raises(ValueError, match='norm'):
        dct_ii(torch.randn(3), norm='forward')
    with pytest.raises(ValueError, match='floating'):
        dct_ii(torch.arange(3))
    with pytest.raises(ValueError, match='at least 2'):
        dct_2d(torch.randn(3))
