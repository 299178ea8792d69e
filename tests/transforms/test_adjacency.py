import pytest
import torch
from torch_geometric.data import HeteroData

from lirdrec_pyg.transforms import (UserItemAdjacency, add_identity,
                                    bipartite_normalized_adjacency,
                                    bipartite_self_loop_adjacency,
                                    check_edge_index, get_ui_adjacency,
                                    interaction_matrix)


def dense_reference(edge_index, num_users, num_items):
    n = num_users + num_items
    a = torch.zeros(n, n)
    a[edge_index[0], num_users + edge_index[1]] = 1.0
    a[num_users + edge_index[1], edge_index[0]] = 1.0
    deg = a.sum(1)
    inv = torch.where(deg > 0, deg.pow(-0.5), torch.zeros_like(deg))
    return inv.view(-1, 1) * a * inv.view(1, -1)


def test_matches_dense_formula():
    edge_index = torch.tensor([[0, 0, 1, 2, 2, 2], [0, 2, 1, 0, 1, 3]])
    adj = bipartite_normalized_adjacency(edge_index, 4, 5)  # user 3, item 4 isolated
    assert adj.layout == torch.sparse_csr
    expected = dense_reference(edge_index, 4, 5)
    assert torch.allclose(adj.to_dense(), expected, atol=1e-6)
    assert torch.allclose(adj.to_dense(), adj.to_dense().t())
    # Hand check: user 0 (degree 2) to item 0 (degree 2): 1/sqrt(2*2).
    assert adj.to_dense()[0, 4].item() == pytest.approx(0.5, abs=1e-6)


def test_rejects_out_of_range_ids():
    with pytest.raises(ValueError, match=r'item ids must lie in \[0, 2\)'):
        bipartite_normalized_adjacency(torch.tensor([[0], [5]]), 1, 2)
    with pytest.raises(ValueError, match='shape'):
        bipartite_normalized_adjacency(torch.tensor([0, 1]), 1, 2)


def test_transform_and_cache():
    data = HeteroData()
    data['user'].num_nodes = 2
    data['item'].num_nodes = 3
    data['user', 'interacts', 'item'].edge_index = torch.tensor([[0, 1],
                                                                 [2, 0]])
    out = UserItemAdjacency()(data)
    assert out.ui_adj.shape == (5, 5)
    assert 'UserItemAdjacency' in repr(UserItemAdjacency())
    first = get_ui_adjacency(data)
    assert get_ui_adjacency(data) is first  # cached on the object


def small_data(relation='interacts'):
    data = HeteroData()
    data['user'].num_nodes = 2
    data['item'].num_nodes = 3
    data['user', relation, 'item'].edge_index = torch.tensor([[0, 1],
                                                              [2, 0]])
    return data


def test_cache_is_rebuilt_when_the_edges_change():
    data = small_data()
    store = data['user', 'interacts', 'item']
    first = get_ui_adjacency(data)
    # Replaced edges.
    store.edge_index = torch.tensor([[0, 1, 1], [2, 0, 1]])
    second = get_ui_adjacency(data)
    assert second is not first
    assert torch.equal(second.to_dense(),
                       bipartite_normalized_adjacency(
                           store.edge_index, 2, 3).to_dense())
    assert get_ui_adjacency(data) is second
    # Edges changed in place.
    store.edge_index[1, 0] = 1
    third = get_ui_adjacency(data)
    assert third is not second
    assert torch.equal(third.to_dense(), bipartite_normalized_adjacency(
        store.edge_index, 2, 3).to_dense())
    # More items.
    data['item'].num_nodes = 4
    assert get_ui_adjacency(data).shape == (6, 6)
    # An adjacency that cannot tell its source (set by hand, moved).
    data.ui_adj = torch.eye(6).to_sparse_csr()
    assert not torch.equal(get_ui_adjacency(data).to_dense(), torch.eye(6))


def test_other_relation_names():
    data = small_data('rates')
    adj = get_ui_adjacency(data)
    expected = bipartite_normalized_adjacency(
        data['user', 'rates', 'item'].edge_index, 2, 3)
    assert torch.equal(adj.to_dense(), expected.to_dense())
    assert get_ui_adjacency(data, ('user', 'rates', 'item')) is adj
    data['user', 'clicks', 'item'].edge_index = torch.tensor([[0], [1]])
    with pytest.raises(ValueError, match='pass edge_type='):
        get_ui_adjacency(data)
    clicks = get_ui_adjacency(data, ('user', 'clicks', 'item'))
    assert clicks._nnz() == 2
    with pytest.raises(ValueError, match="'edge_type'"):
        UserItemAdjacency(edge_type=('user', 'buys', 'item'))(data)


def test_interaction_matrix_is_the_user_item_block():
    edge_index = torch.tensor([[0, 0, 1, 2, 2, 2], [0, 3, 3, 1, 2, 3]])
    binary = interaction_matrix(edge_index, 4, 5).to_dense()
    expected = torch.zeros(4, 5)
    expected[edge_index[0], edge_index[1]] = 1.0
    assert torch.equal(binary, expected)
    sym = interaction_matrix(edge_index, 4, 5, normalization='sym')
    full = dense_reference(edge_index, 4, 5)
    assert torch.allclose(sym.to_dense(), full[:4, 4:], atol=1e-6)
    with pytest.raises(ValueError, match="'normalization'"):
        interaction_matrix(edge_index, 4, 5, normalization='row')
    with pytest.raises(ValueError, match=r'item ids must lie in \[0, 3\)'):
        interaction_matrix(edge_index, 4, 3)


def test_check_edge_index():
    check_edge_index(torch.empty(2, 0, dtype=torch.long), 0, 0)
    with pytest.raises(ValueError, match=r'shape \[2, num_edges\]'):
        check_edge_index(torch.zeros(3, 2, dtype=torch.long), 5, 5)
    with pytest.raises(ValueError, match=r'user ids must lie in \[0, 2\) '
                       r'\(got range \[0, 2\]\)'):
        check_edge_index(torch.tensor([[0, 2], [0, 0]]), 2, 1)


def test_add_identity():
    dense = torch.tensor([[0.5, 0.0, 0.2], [0.0, 0.0, 0.3], [0.1, 0.0, 0.0]])
    out = add_identity(dense.to_sparse_csr())
    assert out.layout == torch.sparse_csr
    assert torch.equal(out.to_dense(), dense + torch.eye(3))
    assert torch.equal(add_identity(dense.to_sparse_coo()).to_dense(),
                       dense + torch.eye(3))
    with pytest.raises(ValueError, match='square'):
        add_identity(torch.ones(2, 3).to_sparse_csr())


def test_self_loop_adjacency_matches_dense_formula():
    edge_index = torch.tensor([[0, 0, 1, 2, 2, 2], [0, 2, 1, 0, 1, 3]])
    adj = bipartite_self_loop_adjacency(edge_index, 4, 5)
    assert adj.layout == torch.sparse_csr
    n = 9
    a = torch.zeros(n, n)
    a[edge_index[0], 4 + edge_index[1]] = 1.0
    a[4 + edge_index[1], edge_index[0]] = 1.0
    a = a + torch.eye(n)
    expected = a / a.sum(1, keepdim=True)
    assert torch.allclose(adj.to_dense(), expected, atol=1e-7)
    # Hand check: user 2 has three items, so its row is 1/4 on itself and
    # on items 0, 1, 3; isolated user 3 keeps only its self-loop.
    dense = adj.to_dense()
    assert dense[2, [2, 4, 5, 7]].tolist() == [0.25] * 4
    assert dense[3].tolist() == [0.0] * 3 + [1.0] + [0.0] * 5
    with pytest.raises(ValueError, match=r'user ids must lie in \[0, 2\)'):
        bipartite_self_loop_adjacency(torch.tensor([[3], [0]]), 2, 2)
