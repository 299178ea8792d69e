import pytest
import torch
from torch_geometric.nn import LGConv
from torch_geometric.utils import coalesce, to_undirected

from lirdrec_pyg.nn import LightGCNPropagation, sparse_propagate
from lirdrec_pyg.nn import propagation
from lirdrec_pyg.nn.graph_conv import bipartite_edge_index
from lirdrec_pyg.nn.propagation import is_symmetric, transpose_csr
from lirdrec_pyg.transforms import bipartite_normalized_adjacency
from lirdrec_pyg.transforms.adjacency import csr_from_coo
from lirdrec_pyg.typing import WITH_TORCH_SPARSE


def random_pairs(num_users=7, num_items=5, num_edges=15, seed=0):
    g = torch.Generator().manual_seed(seed)
    keys = torch.randperm(num_users * num_items, generator=g)[:num_edges]
    return torch.stack([keys // num_items, keys % num_items])


def random_adj(num_users=7, num_items=5, num_edges=15, seed=0):
    return bipartite_normalized_adjacency(
        random_pairs(num_users, num_items, num_edges, seed), num_users,
        num_items)


def random_graph(num_nodes=20, num_edges=60, seed=0, undirected=True):
    g = torch.Generator().manual_seed(seed)
    edge_index = torch.randint(0, num_nodes, (2, num_edges), generator=g)
    edge_index = edge_index[:, edge_index[0] != edge_index[1]]
    if undirected:
        return to_undirected(edge_index, num_nodes=num_nodes)
    return coalesce(edge_index, num_nodes=num_nodes)


def random_directed_csr(n=6, nnz=14, seed=3):
    g = torch.Generator().manual_seed(seed)
    row, col = torch.randint(0, n, (2, nnz), generator=g)
    keep = torch.unique(row * n + col)
    return csr_from_coo(keep // n, keep % n,
                        torch.rand(keep.numel(), generator=g), n, n)


def stacked_lgconv(x, edge_index, edge_weight, num_layers, combine,
                   normalize=True):
    conv = LGConv(normalize=normalize)
    layers = [x]
    for _ in range(num_layers):
        layers.append(conv(layers[-1], edge_index, edge_weight))
    return {'mean': torch.stack(layers).mean(0),
            'sum': torch.stack(layers).sum(0), 'last': layers[-1]}[combine]


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


@pytest.mark.parametrize('combine', ['mean', 'sum', 'last'])
@pytest.mark.parametrize('weighted', [False, True])
def test_edge_index_equals_stacked_lgconv(combine, weighted):
    edge_index = random_graph()
    weight = None
    if weighted:  # symmetric weights: one per undirected pair
        g = torch.Generator().manual_seed(1)
        w = torch.rand(20, 20, generator=g)
        w = w + w.t()
        weight = w[edge_index[0], edge_index[1]]
    x = torch.randn(20, 8, requires_grad=True)
    out = LightGCNPropagation(3, combine)(x, edge_index, weight)
    ref = stacked_lgconv(x, edge_index, weight, 3, combine)
    assert torch.allclose(out, ref, atol=1e-6)
    grad = torch.randn_like(out)
    (gx, ) = torch.autograd.grad(out, x, grad)
    (gx_ref, ) = torch.autograd.grad(ref, x, grad)
    assert torch.allclose(gx, gx_ref, atol=1e-6)


@pytest.mark.parametrize('normalize', [True, False])
def test_directed_edge_index_follows_source_to_target(normalize):
    # Row 0 sends, row 1 receives, as in PyG; gradients through A^T.
    edge_index = random_graph(undirected=False)
    weight = torch.rand(edge_index.size(1))
    x = torch.randn(20, 5, requires_grad=True)
    out = sparse_propagate(x, edge_index, weight, normalize=normalize,
                           symmetric=False)
    ref = LGConv(normalize=normalize)(x, edge_index, weight)
    assert torch.allclose(out, ref, atol=1e-6)
    grad = torch.randn_like(out)
    assert torch.allclose(torch.autograd.grad(out, x, grad)[0],
                          torch.autograd.grad(ref, x, grad)[0], atol=1e-6)


def test_bipartite_pairs_with_num_users_equal_lgconv_on_joint_graph():
    pairs = random_pairs()
    x = torch.randn(12, 4)
    out = LightGCNPropagation(2)(x, pairs, num_users=7)
    ref = stacked_lgconv(x, bipartite_edge_index(pairs, 7), None, 2, 'mean')
    assert torch.allclose(out, ref, atol=1e-6)
    # ... and the library adjacency of the same pairs (eps-guarded degrees).
    assert torch.allclose(LightGCNPropagation(2)(x, random_adj()), ref,
                          atol=1e-6)


def test_learned_edge_weights_get_gradients():
    edge_index = random_graph(num_nodes=8, num_edges=20)
    weight = torch.rand(edge_index.size(1), requires_grad=True)
    x = torch.randn(8, 3, requires_grad=True)
    out = LightGCNPropagation(2, 'sum')(x, edge_index, weight)
    ref = stacked_lgconv(x, edge_index, weight, 2, 'sum')
    assert torch.allclose(out, ref, atol=1e-6)
    grad = torch.randn_like(out)
    got = torch.autograd.grad(out, (x, weight), grad)
    expected = torch.autograd.grad(ref, (x, weight), grad)
    for a, b in zip(got, expected):
        assert torch.allclose(a, b, atol=1e-5)


def test_raw_sparse_adjacency_is_normalized_like_gcn_norm():
    edge_index = random_graph(num_nodes=10, num_edges=30)
    adj = csr_from_coo(edge_index[1], edge_index[0],
                       torch.ones(edge_index.size(1)), 10, 10)
    x = torch.randn(10, 4)
    ref = LGConv()(x, edge_index)
    assert torch.allclose(sparse_propagate(x, adj), ref, atol=1e-6)
    coo = adj.to_sparse_coo()
    assert torch.allclose(sparse_propagate(x, coo), ref, atol=1e-6)
    assert torch.allclose(sparse_propagate(x, adj, normalize=False),
                          adj.to_dense() @ x, atol=1e-6)


@pytest.mark.parametrize('combine', ['mean', 'sum', 'last'])
def test_non_symmetric_gradients_equal_dense_reference(combine):
    # No flag given: the asymmetry is detected, the transpose is used.
    adj = random_directed_csr()
    x = torch.randn(6, 3, requires_grad=True)
    weight = torch.randn(6, 3)
    out = LightGCNPropagation(2, combine, normalize=False)(x, adj)
    (out * weight).sum().backward()
    x_ref = x.detach().clone().requires_grad_()
    dense = adj.to_dense()
    layers = [x_ref, dense @ x_ref, dense @ (dense @ x_ref)]
    ref = {'mean': sum(layers) / 3, 'sum': sum(layers),
           'last': layers[-1]}[combine]
    (ref * weight).sum().backward()
    assert torch.allclose(out, ref, atol=1e-6)
    assert torch.allclose(x.grad, x_ref.grad, atol=1e-6)
    assert is_symmetric(adj) is False


def test_symmetric_backward_equals_autograd_on_dense():
    adj = random_adj()
    x = torch.randn(12, 3, requires_grad=True)
    weight = torch.randn(12, 3)
    (LightGCNPropagation(2, 'sum')(x, adj) * weight).sum().backward()
    x_ref = x.detach().clone().requires_grad_()
    dense = adj.to_dense()
    ref = x_ref + dense @ x_ref + dense @ (dense @ x_ref)
    (ref * weight).sum().backward()
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
    assert type(out.grad_fn).__name__ == '_SymmetricPowerSumBackward'
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


def test_library_adjacency_skips_the_symmetry_check(monkeypatch):
    adj = random_adj()

    def fail(adj):
        raise AssertionError('transpose built for a marked adjacency')
    monkeypatch.setattr(propagation, 'transpose_csr', fail)
    x = torch.randn(12, 3, requires_grad=True)
    LightGCNPropagation(2, 'last')(x, adj).sum().backward()
    sparse_propagate(x, adj).sum().backward()


def test_symmetry_is_checked_once_per_tensor(monkeypatch):
    edge_index = random_graph(num_nodes=10, num_edges=30)
    adj = csr_from_coo(edge_index[0], edge_index[1],
                       torch.ones(edge_index.size(1)), 10, 10)
    calls = []
    real = propagation.transpose_csr

    def counting(a):
        calls.append(1)
        return real(a)
    monkeypatch.setattr(propagation, 'transpose_csr', counting)
    x = torch.randn(10, 3, requires_grad=True)
    layer = LightGCNPropagation(2, 'sum', normalize=False)
    for _ in range(3):
        layer(x, adj).sum().backward()
    assert len(calls) == 1 and is_symmetric(adj)
    assert not hasattr(adj, '_lirdrec_transpose')  # freed, never needed


def test_edge_index_matrix_is_cached_and_rebuilt_when_edges_change():
    edge_index = random_graph(num_nodes=10, num_edges=30)
    x = torch.randn(10, 3)
    first = propagation.to_propagation_matrix(x, edge_index)
    assert propagation.to_propagation_matrix(x, edge_index) is first
    out = sparse_propagate(x, edge_index)
    edge_index[:, [0, 1]] = edge_index[:, [1, 0]].clone()  # in place
    edge_index[0, 0] = (edge_index[0, 0] + 1) % 10
    with pytest.raises(ValueError):  # now asymmetric or duplicated
        sparse_propagate(x, edge_index)
    other = random_graph(num_nodes=10, num_edges=30, seed=5)
    assert not torch.allclose(sparse_propagate(x, other), out)


def test_legacy_argument_order():
    adj = random_adj()
    x = torch.randn(12, 3)
    assert torch.equal(sparse_propagate(adj, x), sparse_propagate(x, adj))


def test_refuses_bipartite_pairs_without_num_users():
    # Item ids not offset by the number of users: a silent wrong result
    # before; now refused with what to pass.
    pairs = random_pairs()
    x = torch.randn(12, 3)
    with pytest.raises(ValueError, match='num_users='):
        LightGCNPropagation(2)(x, pairs)
    with pytest.raises(ValueError, match='num_users='):
        sparse_propagate(x, pairs)


def test_refuses_offset_items_with_num_users():
    joint = bipartite_edge_index(random_pairs(), 7)
    with pytest.raises(ValueError, match=r"user ids in \[0, 7\)"):
        LightGCNPropagation(2)(torch.randn(12, 3), joint, num_users=7)
    offset = random_pairs()
    offset[1] += 7
    with pytest.raises(ValueError, match=r"item ids in \[0, 5\)"):
        LightGCNPropagation(2)(torch.randn(12, 3), offset, num_users=7)
    with pytest.raises(ValueError, match="'num_users' .* must be smaller"):
        sparse_propagate(torch.randn(7, 3), random_pairs(), num_users=7)


def test_refuses_ambiguous_or_malformed_inputs():
    x = torch.randn(12, 3)
    adj = random_adj()
    with pytest.raises(ValueError, match='normalize=False'):
        # A library adjacency that lost its mark (moved, rebuilt by hand).
        sparse_propagate(x, adj.to_sparse_coo().coalesce())
    with pytest.raises(ValueError, match='normalize=False'):
        sparse_propagate(torch.randn(5, 2),
                         csr_from_coo(torch.tensor([0]), torch.tensor([1]),
                                      torch.ones(1), 3, 5))
    with pytest.raises(ValueError, match='symmetric=True'):
        sparse_propagate(torch.randn(6, 2), random_directed_csr(),
                         normalize=False, symmetric=True)
    with pytest.raises(ValueError, match="'edge_weight' only applies"):
        sparse_propagate(x, adj, torch.ones(3))
    with pytest.raises(ValueError, match="'num_users' only applies"):
        sparse_propagate(x, adj, num_users=7)
    with pytest.raises(ValueError, match='duplicate'):
        sparse_propagate(x, torch.tensor([[0, 0, 1], [1, 1, 0]]))
    with pytest.raises(ValueError, match='12 rows'):
        sparse_propagate(x, torch.tensor([[0, 12], [12, 0]]))
    with pytest.raises(ValueError, match="shape \\[3\\]"):
        sparse_propagate(x, torch.tensor([[0, 1, 2], [1, 0, 0]]),
                         torch.ones(2), symmetric=False)
    with pytest.raises(ValueError, match='columns|rows'):
        sparse_propagate(torch.randn(5, 2), adj)
    with pytest.raises(ValueError, match='dense'):
        sparse_propagate(x, adj.to_dense())
    with pytest.raises(TypeError):
        sparse_propagate(x, [[0, 1]])


def test_errors_and_repr():
    with pytest.raises(ValueError, match="'num_layers' must be >= 0"):
        LightGCNPropagation(-1)
    with pytest.raises(ValueError, match="'combine' must be one of"):
        LightGCNPropagation(2, 'max')
    assert repr(LightGCNPropagation(3, 'sum')) == (
        'LightGCNPropagation(num_layers=3, combine=sum)')


def test_directed_backward_uses_cached_transpose():
    adj = random_directed_csr()
    assert torch.equal(transpose_csr(adj).to_dense(), adj.to_dense().t())
    assert transpose_csr(adj) is transpose_csr(adj)
    x = torch.randn(6, 3, requires_grad=True)
    weight = torch.randn(6, 3)
    (sparse_propagate(x, adj, normalize=False, symmetric=False)
     * weight).sum().backward()
    x_ref = x.detach().clone().requires_grad_()
    ((adj.to_dense() @ x_ref) * weight).sum().backward()
    assert torch.allclose(x.grad, x_ref.grad, atol=1e-6)


def test_to_hetero_refuses_with_a_message():
    from torch_geometric.data import HeteroData
    from torch_geometric.nn import to_hetero

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.prop = LightGCNPropagation(2)

        def forward(self, x, edge_index):
            return self.prop(x, edge_index)

    data = HeteroData()
    data['user'].x = torch.randn(4, 3)
    data['item'].x = torch.randn(5, 3)
    data['user', 'rates', 'item'].edge_index = torch.tensor([[0, 1], [1, 2]])
    data['item', 'rev_rates', 'user'].edge_index = torch.tensor([[1, 2],
                                                                 [0, 1]])
    model = to_hetero(Net(), data.metadata())
    with pytest.raises(TypeError, match='not MessagePassing'):
        model(data.x_dict, data.edge_index_dict)


@pytest.mark.skipif(not WITH_TORCH_SPARSE, reason='torch-sparse missing')
def test_sparse_tensor_input():
    from torch_sparse import SparseTensor
    adj = random_adj()
    coo = adj.to_sparse_coo().coalesce()
    st = SparseTensor(row=coo.indices()[0], col=coo.indices()[1],
                      value=coo.values(), sparse_sizes=(12, 12))
    x = torch.randn(12, 3, requires_grad=True)
    out = LightGCNPropagation(2, 'mean', normalize=False)(x, st)
    ref = LightGCNPropagation(2, 'mean')(x.detach(), adj)
    assert torch.allclose(out, ref, atol=1e-5)
    out.sum().backward()
    assert x.grad is not None
    binary = SparseTensor(row=coo.indices()[0], col=coo.indices()[1],
                          sparse_sizes=(12, 12))
    assert torch.allclose(LightGCNPropagation(2, 'mean')(x.detach(), binary),
                          ref, atol=1e-5)


def test_transpose_csr_of_a_rectangular_matrix_equals_dense_transpose():
    # Rows with unsorted columns and empty rows and columns, as a sampled
    # subgraph's matrix has; the transpose lists each row's entries by
    # ascending column, as torch's own conversion does.
    crow = torch.tensor([0, 3, 3, 5, 6])
    col = torch.tensor([4, 0, 2, 2, 4, 1])
    value = torch.arange(1.0, 7.0)
    adj = torch.sparse_csr_tensor(crow, col, value, (4, 6))
    out = transpose_csr(adj)
    ref = adj.to_dense().t().to_sparse_csr()
    assert out.shape == (6, 4)
    assert torch.equal(out.crow_indices(), ref.crow_indices())
    assert torch.equal(out.col_indices(), ref.col_indices())
    assert torch.equal(out.values(), ref.values())
