import math

import pytest
import torch

from lirdrec_pyg.nn.contrastive import cosine_alignment_loss, info_nce


def naive_info_nce(a, p, tau, cands=None, normalize=True):
    cands = p if cands is None else cands
    terms = []
    for b in range(a.size(0)):
        def sim(x, y):
            if normalize:
                return float(x @ y) / (float(x.norm()) * float(y.norm()))
            return float(x @ y)
        num = math.exp(sim(a[b], p[b]) / tau)
        den = sum(math.exp(sim(a[b], c) / tau) for c in cands)
        terms.append(-math.log(num / den))
    return torch.tensor(terms)


@pytest.mark.parametrize('normalize', [True, False])
@pytest.mark.parametrize('use_candidates', [False, True])
def test_info_nce_matches_naive(normalize, use_candidates):
    a, p = torch.randn(5, 4), torch.randn(5, 4)
    cands = torch.randn(7, 4) if use_candidates else None
    scale = 1.0 if normalize else 0.5
    ref = naive_info_nce(a * scale, p * scale, 0.3, cands, normalize)
    out = info_nce(a * scale, p * scale, 0.3, cands, normalize,
                   reduction='none')
    assert torch.allclose(out, ref, atol=1e-5)
    assert torch.allclose(info_nce(a * scale, p * scale, 0.3, cands,
                                   normalize), ref.mean(), atol=1e-5)
    assert torch.allclose(info_nce(a * scale, p * scale, 0.3, cands,
                                   normalize, reduction='sum'), ref.sum(),
                          atol=1e-5)


def test_info_nce_is_cross_entropy_of_in_batch_logits():
    a, p = torch.randn(6, 3), torch.randn(6, 3)
    logits = torch.nn.functional.normalize(a, dim=1) @ \
        torch.nn.functional.normalize(p, dim=1).t() / 0.2
    ref = torch.nn.functional.cross_entropy(logits, torch.arange(6))
    assert torch.allclose(info_nce(a, p, 0.2), ref, atol=1e-6)


def test_info_nce_small_temperature_is_finite_and_ordered():
    a = torch.eye(4)
    good = info_nce(a, a, temperature=1e-3)  # positives identical
    bad = info_nce(a, a.roll(1, 0), temperature=1e-3)
    assert torch.isfinite(good) and torch.isfinite(bad)
    assert good < 1e-6 < bad


def test_info_nce_checks_arguments():
    with pytest.raises(ValueError, match='same shape'):
        info_nce(torch.randn(3, 2), torch.randn(4, 2))
    with pytest.raises(ValueError, match='temperature'):
        info_nce(torch.randn(3, 2), torch.randn(3, 2), temperature=0.0)
    with pytest.raises(ValueError, match='candidates'):
        info_nce(torch.randn(3, 2), torch.randn(3, 2),
                 candidates=torch.randn(5, 3))
    with pytest.raises(ValueError, match='reduction'):
        info_nce(torch.randn(3, 2), torch.randn(3, 2), reduction='max')


def test_cosine_alignment_matches_naive_and_stops_gradient():
    o = torch.randn(5, 4, requires_grad=True)
    t = torch.randn(5, 4, requires_grad=True)
    od, td = o.detach(), t.detach()
    ref = 1 - sum(float(od[b] @ td[b]) / float(od[b].norm() * td[b].norm())
                  for b in range(5)) / 5
    loss = cosine_alignment_loss(o, t)
    assert abs(loss.item() - ref) < 1e-5
    loss.backward()
    assert o.grad is not None and o.grad.abs().sum() > 0
    assert t.grad is None
    t2 = t.detach().clone().requires_grad_()
    cosine_alignment_loss(o, t2, stop_gradient=False).backward()
    assert t2.grad is not None and t2.grad.abs().sum() > 0


def test_cosine_alignment_is_scale_invariant_and_zero_when_aligned():
    o = torch.randn(4, 3)
    assert cosine_alignment_loss(o, 3.0 * o).abs() < 1e-6
    assert torch.allclose(cosine_alignment_loss(o, -o), torch.tensor(2.0))
    with pytest.raises(ValueError, match='same shape'):
        cosine_alignment_loss(o, o[:2])
