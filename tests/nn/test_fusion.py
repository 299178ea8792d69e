import copy

import pytest
import torch

from lirdrec_pyg.nn.fusion import PWCFusion


def naive_pwc(fusion, x, rows):
    """Per-row, per-branch loops over explicit Linear-style scorers."""
    B, C = fusion.num_branches, fusion.channels
    out = torch.zeros_like(x)
    for n in range(x.size(0)):
        logits = []
        for b in range(B):
            u = x[n, b * C:(b + 1) * C]
            h = fusion.weight1[b] @ u + fusion.bias1[b]
            h = torch.nn.functional.leaky_relu(h, fusion.negative_slope)
            f = fusion.weight2[b] @ h + fusion.bias2[b]
            logits.append(fusion.w1 * f + fusion.w2 * fusion.theta[rows[n], b])
        alpha = torch.softmax(torch.stack(logits), 0)
        for b in range(B):
            out[n, b * C:(b + 1) * C] = alpha[b] * x[n, b * C:(b + 1) * C]
    return out


def test_pwc_matches_naive():
    fusion = PWCFusion(3, 8, num_rows=6)
    assert fusion.hidden_channels == 2
    x = torch.randn(6, 24)
    assert torch.allclose(fusion(x), naive_pwc(fusion, x, range(6)),
                          atol=1e-6)
    index = torch.tensor([4, 0, 4])
    assert torch.allclose(fusion(x[:3], index),
                          naive_pwc(fusion, x[:3], index.tolist()),
                          atol=1e-6)


def test_pwc_schedule_numbers():
    fusion = PWCFusion(2, 4, num_rows=3, decay_weight=0.9, decay_base=0.9)
    assert float(fusion.w1) == pytest.approx(0.9)
    seen = {}
    for epoch in range(1, 16):
        fusion.step_epoch(epoch)
        seen[epoch] = float(fusion.w1)
        assert float(fusion.w1 + fusion.w2) == pytest.approx(1.0)
    assert round(seen[1], 4) == 0.8901
    assert round(seen[5], 4) == 0.6495
    assert round(seen[10], 4) == 0.0267
    assert seen[15] < 1e-4
    # A repeated epoch (e.g. on resume) does not decay twice.
    fusion.step_epoch(15)
    assert float(fusion.w1) == seen[15]


def test_pwc_copy_all_rows():
    fusion = PWCFusion(2, 4, num_rows=5)
    fusion.step_epoch(1)
    theta0 = fusion.theta.detach().clone()
    fusion.train()
    fusion(torch.randn(5, 8))
    x_last = torch.randn(5, 8)
    fusion(x_last)  # the last training forward of epoch 1
    blocks = x_last.view(5, 2, 4)
    expected = fusion.attention(blocks, fusion.theta).detach()
    fusion.eval()
    fusion(torch.randn(5, 8))  # evaluation does not record
    assert torch.equal(fusion.theta.detach(), theta0)
    fusion.step_epoch(2)
    assert torch.allclose(fusion.theta.detach(), expected)
    assert torch.allclose(fusion.theta.detach().sum(-1), torch.ones(5))
    # Nothing recorded during epoch 2: Theta stays.
    fusion.step_epoch(3)
    assert torch.allclose(fusion.theta.detach(), expected)


def test_pwc_copy_partial_rows():
    fusion = PWCFusion(2, 4, num_rows=5)
    theta0 = fusion.theta.detach().clone()
    fusion.train()
    fusion(torch.randn(2, 8), torch.tensor([0, 1]))
    x = torch.randn(2, 8)
    index = torch.tensor([3, 1])
    fusion(x, index)  # only the last forward's rows are copied
    expected = fusion.attention(x.view(2, 2, 4), theta0[index]).detach()
    fusion.step_epoch(1)
    theta = fusion.theta.detach()
    assert torch.allclose(theta[index], expected)
    for row in (0, 2, 4):
        assert torch.equal(theta[row], theta0[row])


def test_pwc_checkpoint_restores_schedule():
    fusion = PWCFusion(2, 4, num_rows=5)
    fusion.train()
    for epoch in range(1, 4):
        fusion.step_epoch(epoch)
        fusion(torch.randn(5, 8))
    state = copy.deepcopy(fusion.state_dict())
    for key in ('w1', 'w2', 'last_alpha', 'recorded', 'last_epoch'):
        assert key in state
    fresh = PWCFusion(2, 4, num_rows=5)
    fresh.load_state_dict(state)
    fusion.step_epoch(4)
    fresh.step_epoch(4)
    assert torch.equal(fresh.w1, fusion.w1)
    assert torch.equal(fresh.theta, fusion.theta)


def test_pwc_gradients_reach_all_parameters():
    fusion = PWCFusion(3, 8, num_rows=4)
    (fusion(torch.randn(4, 24)) ** 2).sum().backward()
    for name, p in fusion.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_pwc_reset_and_errors():
    fusion = PWCFusion(2, 4, num_rows=3)
    fusion.step_epoch(3)
    fusion.reset_parameters()
    assert float(fusion.w1) == pytest.approx(0.9)
    assert int(fusion.last_epoch) == 0
    assert str(fusion) == ('PWCFusion(2, 4, num_rows=3, decay_weight=0.9, '
                           'decay_base=0.9)')
    with pytest.raises(ValueError, match=r'shape \[N, 8\]'):
        fusion(torch.randn(3, 6))
    with pytest.raises(ValueError, match='must have 3 rows'):
        fusion(torch.randn(2, 8))
    with pytest.raises(ValueError, match="'index' must have shape"):
        fusion(torch.randn(2, 8), torch.tensor([0]))
    with pytest.raises(ValueError, match="'decay_weight'"):
        PWCFusion(2, 4, 3, decay_weight=1.5)
    with pytest.raises(ValueError, match='from 1'):
        fusion.step_epoch(0)
