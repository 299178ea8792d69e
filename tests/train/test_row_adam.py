import copy
import math

import pytest
import torch

from lirdrec_pyg.nn import gather_rows
from lirdrec_pyg.train.row_adam import RowAdam


def sparse_step(table, index, seed):
    # A loss over the gathered rows: a row-sparse COO gradient, uncoalesced
    # (repeated ids give repeated gradient rows).
    table.grad = None
    g = torch.Generator().manual_seed(seed)
    weight = torch.randn((index.numel(), ) + table.shape[1:], generator=g)
    (gather_rows(table, index) * weight).square().sum().backward()


def batches(num_rows, steps=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    out = []
    for s in range(steps):
        if s % 2:
            # Repeated rows.
            out.append(torch.randint(0, num_rows // 2, (num_rows // 2, ),
                                     generator=g))
        else:
            # Distinct rows, a third of the table.
            out.append(torch.randperm(num_rows, generator=g)[:num_rows // 3])
    return out


@pytest.mark.parametrize('shape', [(40, 5), (30, 3, 4)])
def test_row_adam_equals_sparse_adam(shape):
    init = torch.randn(*shape, generator=torch.Generator().manual_seed(1))
    a = torch.nn.Parameter(init.clone())
    b = torch.nn.Parameter(init.clone())
    ref = torch.optim.SparseAdam([a], lr=0.01, betas=(0.8, 0.99), eps=1e-6)
    opt = RowAdam([b], lr=0.01, betas=(0.8, 0.99), eps=1e-6)
    for s, index in enumerate(batches(shape[0])):
        for p, o in ((a, ref), (b, opt)):
            sparse_step(p, index, s)
            o.step()
        # The same operations in the same order: the same bits (repeated
        # rows are summed by the same coalesce).
        assert torch.equal(a, b)
        for key in ('exp_avg', 'exp_avg_sq'):
            assert torch.equal(ref.state[a][key], opt.state[b][key])
        assert ref.state[a]['step'] == opt.state[b]['step'] == s + 1


def test_row_adam_equals_a_per_row_reference():
    # Lazy Adam written out one row at a time: a row's moments change only
    # in the steps whose gradient holds it; the bias correction uses the
    # table's step count.
    lr, (b1, b2), eps = 0.05, (0.9, 0.999), 1e-8
    init = torch.randn(25, 4, dtype=torch.float64,
                       generator=torch.Generator().manual_seed(2))
    table = torch.nn.Parameter(init.clone())
    opt = RowAdam([table], lr=lr, betas=(b1, b2), eps=eps)
    w, m, v = init.clone(), torch.zeros_like(init), torch.zeros_like(init)
    for t, index in enumerate(batches(25, steps=6, seed=3), start=1):
        sparse_step(table, index, t)
        grad = table.grad.to_dense()
        before = table.detach().clone()
        opt.step()
        for r in sorted(set(index.tolist())):
            m[r] = b1 * m[r] + (1 - b1) * grad[r]
            v[r] = b2 * v[r] + (1 - b2) * grad[r]**2
            m_hat, v_hat = m[r] / (1 - b1**t), v[r] / (1 - b2**t)
            # SparseAdam's (and torch Adam's) eps is added to sqrt(v)
            # before the bias correction: eps / sqrt(1 - b2^t) here.
            w[r] = w[r] - lr * m_hat / (v_hat.sqrt() + eps / math.sqrt(
                1 - b2**t))
        torch.testing.assert_close(table.detach(), w, rtol=1e-12,
                                   atol=1e-12)
        untouched = torch.ones(25, dtype=torch.bool)
        untouched[index] = False
        assert torch.equal(table.detach()[untouched], before[untouched])


def test_row_adam_continues_from_a_sparse_adam_state():
    init = torch.randn(20, 3, generator=torch.Generator().manual_seed(4))
    a = torch.nn.Parameter(init.clone())
    ref = torch.optim.SparseAdam([a], lr=0.01)
    index = batches(20, steps=4, seed=5)
    for s in range(2):
        sparse_step(a, index[s], s)
        ref.step()
    b = torch.nn.Parameter(a.detach().clone())
    opt = RowAdam([b], lr=0.01)
    # A copy, as a checkpoint gives (load_state_dict keeps the tensors).
    opt.load_state_dict(copy.deepcopy(ref.state_dict()))
    for s in range(2, 4):
        for p, o in ((a, ref), (b, opt)):
            sparse_step(p, index[s], s)
            o.step()
    assert torch.equal(a, b)


def test_row_adam_argument_errors():
    table = torch.nn.Parameter(torch.zeros(4, 2))
    with pytest.raises(ValueError, match="'lr'"):
        RowAdam([table], lr=0.0)
    with pytest.raises(ValueError, match="'betas'"):
        RowAdam([table], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="'eps'"):
        RowAdam([table], eps=0.0)
    table.grad = torch.ones(4, 2)
    with pytest.raises(RuntimeError, match='sparse gradients'):
        RowAdam([table]).step()
