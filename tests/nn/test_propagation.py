import pytest
import torch

from lirdrec_pyg.nn import LightGCNPropagation, sparse_propagate
from lirdrec_pyg.transforms import bipartite_normalized_adjacency
from lirdrec_pyg.typing import WITH_TORCH_SPARSE


def random_adj(num_users=7, num_items=5, num_edges=15, seed=0):
    g = torch.Generator().manual_seed(seed)
    keys = torch.randperm(num_users * num_items, generator=g)[:num_edges]
    edge_index = torch.stack([keys // num_items, keys % num_items])
    return bipartite_normalized_adjacency(edge_index, num_users, num_items)


@pytest.mark.parametrize('combine', ['mean', 'sum', 'last'])
@pytest.mark.parametrize('num_layers', [0, 1, 3])
def test_matches_dense_layer_combination(combine, num_layers):
    adj = random_adj()
    dense = adj.to_dense()
    x = torch.randn(12, 4)
    layers = [x]
    for _ in range(num_layers):
        layers.append(dense @ layers[-1])
    expected = {'mean': torch.stack(layers).mean(0),
                'sum': torch.stack(layers).sum(0),
                'last': layers[-1]}[combine]
    out = LightGCNPropagation(num_layers, combine)(x, adj)
    assert torch.allclose(out, expected, atol=1e-5)


def test_symmetric_backward_equals_autograd_on_dense():
    adj = random_adj()
    x = torch.randn(12, 3, requires_grad=True)
    weight = torch.randn(12, 3)
    (LightGCNPropagation(2, 'sum')(x, adj) * weight).sum().backward()
    x_ref = x.detach().clone().requires_grad_()
    dense = adj.to_dense()
    ((x_ref + dense @ x_ref + dense @ (dense @ x_ref)) * weight).sum().backward()
    assert torch.allclose(x.grad, x_ref.grad, atol=1e-5)


@pytest.mark.parametrize('combine', ['mean', 'sum'])
@pytest.mark.parametrize('num_layers', [0, 1, 3])
def test_fused_differentiable_path_matches_dense_autograd(combine,
                                                          num_layers):
    # A differentiable input takes the one-node fused path.
    adj = random_adj(seed=num_layers)
    x = torch.randn(12, 3, requires_grad=True)
    weight = torch.randn(12, 3)
    out = LightGCNPropagation(num_layers, combine)(x, adj)
    (out * weight).sum().backward()
    x_ref = x.detach().clone().requires_grad_()
    dense = adj.to_dense()
    layers = [x_ref]
    for _ in range(num_layers):
        layers.append(dense @ layers[-1])
    ref = torch.stack(layers).sum(0)
    if combine == 'mean':
        ref = ref / (num_layers + 1)
    (ref * weight).sum().backward()
    assert torch.allclose(out, ref, atol=1e-5)
    assert torch.allclose(x.grad, x_ref.grad, atol=1e-5)
    assert out.data_ptr() != x.data_ptr()  # never aliases its input


def test_edge_index_and_coo_inputs():
    adj = random_adj()
    x = torch.randn(12, 3)
    coo = adj.to_sparse_coo().coalesce()
    expected = adj.to_dense() @ x
    assert torch.allclose(sparse_propagate(coo, x), expected, atol=1e-5)
    out = sparse_propagate(coo.indices(), x, edge_weight=coo.values())
    assert torch.allclose(out, expected, atol=1e-5)


@pytest.mark.skipif(not WITH_TORCH_SPARSE, reason='torch-sparse missing')
def test_sparse_tensor_input():
    from torch_sparse import SparseTensor
    adj = random_adj()
    coo = adj.to_sparse_coo().coalesce()
    st = SparseTensor(row=coo.indices()[0], col=coo.indices()[1],
                      value=coo.values(), sparse_sizes=(12, 12))
    x = torch.randn(12, 3, requires_grad=True)
    out = LightGCNPropagation(2, 'mean')(x, st)
    ref = LightGCNPropagation(2, 'mean')(x.detach(), adj)
    assert torch.allclose(out, ref, atol=1e-5)
    out.sum().backward()
    assert x.grad is not None


def test_errors_and_repr():
    with pytest.raises(ValueError, match="'num_layers' must be >= 0"):
        LightGCNPropagation(-1)
    with pytest.raises(ValueError, match="'combine' must be one of"):
        LightGCNPropagation(2, 'max')
    with pytest.raises(ValueError, match='columns'):
        sparse_propagate(random_adj(), torch.randn(5, 2))
    with pytest.raises(TypeError):
        sparse_propagate([[0, 1]], torch.randn(2, 2))
    assert repr(LightGCNPropagation(3, 'sum')) == (
        'LightGCNPropagation(num_layers=3, combine=sum)')


def test_directed_backward_uses_cached_transpose():
    from lirdrec_pyg.nn.propagation import transpose_csr
    from lirdrec_pyg.transforms.adjacency import csr_from_coo
    g = torch.Generator().manual_seed(3)
    row, col = torch.randint(0, 6, (2, 14), generator=g)
    keep = torch.unique(row * 6 + col)
    adj = csr_from_coo(keep // 6, keep % 6, torch.rand(keep.numel(),
                                                       generator=g), 6, 6)
    assert torch.equal(transpose_csr(adj).to_dense(), adj.to_dense().t())
    assert transpose_csr(adj) is transpose_csr(adj)
    x = torch.randn(6, 3, requires_grad=True)
    weight = torch.randn(6, 3)
    (sparse_propagate(adj, x, symmetric=False) * weight).sum().backward()
    x_ref = x.detach().clone().requires_grad_()
    ((adj.to_dense() @ x_ref) * weight).sum().backward()
    assert torch.allclose(x.grad, x_ref.grad, atol=1e-6)
