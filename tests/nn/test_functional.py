import pytest
import torch

from lirdrec_pyg.nn.functional import l2_normalize, mean_square


def test_l2_normalize_matches_torch_forward_and_backward():
    x = torch.randn(50, 3, 8, dtype=torch.double)
    x[4, 1] = 0.0  # a zero row: its norm is clamped to eps
    x[7, 2] = 1e-14  # below eps as well
    weight = torch.randn_like(x)
    a = x.clone().requires_grad_()
    b = x.clone().requires_grad_()
    out = l2_normalize(a)
    ref = torch.nn.functional.normalize(b, p=2, dim=-1)
    (out * weight).sum().backward()
    (ref * weight).sum().backward()
    assert torch.allclose(out, ref)
    assert torch.allclose(a.grad, b.grad)


def test_l2_normalize_gradcheck():
    x = torch.randn(6, 5, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(l2_normalize, (x, ))


def test_mean_square_matches_pow_mean():
    x = torch.randn(40, 12, dtype=torch.double)
    a = x.clone().requires_grad_()
    b = x.clone().requires_grad_()
    (3.0 * mean_square(a)).backward()
    (3.0 * b.pow(2).mean()).backward()
    assert torch.allclose(mean_square(x), x.pow(2).mean())
    assert torch.allclose(a.grad, b.grad)
    assert torch.autograd.gradcheck(mean_square, (a.detach()[:3, :4]
                                                  .clone().requires_grad_(), ))


def test_mean_square_of_non_contiguous_input():
    x = torch.randn(8, 6, dtype=torch.double).t().requires_grad_()
    mean_square(x).backward()
    assert torch.allclose(x.grad, 2 * x.detach() / x.numel())


def test_mean_square_rejects_empty():
    with pytest.raises(ValueError, match='at least one entry'):
        mean_square(torch.empty(0, 3))
