import torch

from lirdrec_pyg.nn import gather_rows


def test_gather_rows_has_the_dense_gradient_as_a_sparse_one():
    weight = torch.randn(7, 2, 3, requires_grad=True)
    index = torch.tensor([4, 0, 4, 6])
    upstream = torch.randn(4, 2, 3)
    (gather_rows(weight, index) * upstream).sum().backward()
    sparse = weight.grad
    assert sparse.is_sparse
    weight.grad = None
    (weight[index] * upstream).sum().backward()
    torch.testing.assert_close(sparse.to_dense(), weight.grad)
    # Only the looked-up rows are stored.
    assert set(sparse.coalesce().indices()[0].tolist()) == {0, 4, 6}


def test_gather_rows_dense_and_no_grad():
    weight = torch.randn(5, 3)
    index = torch.tensor([1, 3])
    assert torch.equal(gather_rows(weight, index), weight[index])
    w = weight.clone().requires_grad_()
    gather_rows(w, index, sparse=False).sum().backward()
    assert not w.grad.is_sparse
