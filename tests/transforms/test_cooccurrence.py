import pytest
import torch
from torch_geometric.data import HeteroData

from lirdrec_pyg.transforms.cooccurrence import (UserCooccurrenceGraph,
                                                 get_user_graph,
                                                 user_cooccurrence_graph,
                                                 user_graph_adjacency)

UU = ('user', 'cooccurs', 'user')


def _naive(edge_index, num_users, k):
    items = [set() for _ in range(num_users)]
    for u, i in edge_index.t().tolist():
        items[u].add(i)
    out = {}
    for u in range(num_users):
        cand = [(len(items[u] & items[v]), v) for v in range(num_users)
                if v != u and len(items[u] & items[v]) > 0]
        cand.sort(key=lambda t: (-t[0], t[1]))
        out[u] = cand[:k]
    return out


def _as_dict(edge_index, edge_weight, num_users):
    out = {u: [] for u in range(num_users)}
    for (u, v), w in zip(edge_index.t().tolist(), edge_weight.tolist()):
        out[u].append((int(w), v))
    return out


def test_hand_made_case():
    # user 0: {0, 1, 2}, user 1: {1, 2}, user 2: {2, 3}, user 3: {4}
    edge_index = torch.tensor([[0, 0, 0, 1, 1, 2, 2, 3],
                               [0, 1, 2, 1, 2, 2, 3, 4]])
    ei, ew = user_cooccurrence_graph(edge_index, 4, 5, k=1)
    assert ei.tolist() == [[0, 1, 2], [1, 0, 0]]
    assert ew.tolist() == [2.0, 2.0, 1.0]
    ei, ew = user_cooccurrence_graph(edge_index, 4, 5, k=5)
    assert _as_dict(ei, ew, 4) == {0: [(2, 1), (1, 2)], 1: [(2, 0), (1, 2)],
                                  2: [(1, 0), (1, 1)], 3: []}


@pytest.mark.parametrize('k,block_size', [(1, 3), (3, 7), (50, 1024)])
def test_matches_naive_on_random_graph(k, block_size):
    num_users, num_items = 23, 15
    mask = torch.rand(num_users, num_items) < 0.2
    edge_index = mask.nonzero().t()
    # Duplicates must be counted once.
    edge_index = torch.cat([edge_index, edge_index[:, :5]], dim=1)
    ei, ew = user_cooccurrence_graph(edge_index, num_users, num_items, k,
                                     block_size)
    assert _as_dict(ei, ew, num_users) == _naive(edge_index, num_users, k)


def test_softmax_and_mean_adjacency():
    edge_index = torch.tensor([[0, 0, 1], [1, 2, 0]])
    edge_weight = torch.tensor([3.0, 1.0, 2.0])
    adj = user_graph_adjacency(edge_index, edge_weight, 3).to_dense()
    e3, e1 = torch.exp(torch.tensor(3.0)), torch.exp(torch.tensor(1.0))
    expected = torch.tensor([[0.0, e3 / (e3 + e1), e1 / (e3 + e1)],
                             [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    assert torch.allclose(adj, expected)
    adj = user_graph_adjacency(edge_index, edge_weight, 3, 'mean').to_dense()
    assert torch.allclose(adj[0], torch.tensor([0.0, 0.5, 0.5]))
    adj = user_graph_adjacency(edge_index, edge_weight, 3, 'none').to_dense()
    assert adj[0, 1] == 3.0
    with pytest.raises(ValueError, match='normalization'):
        user_graph_adjacency(edge_index, edge_weight, 3, 'max')


def test_transform_and_cache():
    data = HeteroData()
    data['user'].num_nodes = 3
    data['item'].num_nodes = 2
    data['user', 'interacts', 'item'].edge_index = torch.tensor([[0, 1, 2],
                                                                 [0, 0, 1]])
    out = UserCooccurrenceGraph(k=2)(data)
    assert out[UU].edge_index.tolist() == [[0, 1], [1, 0]]
    assert str(UserCooccurrenceGraph(k=2)) == 'UserCooccurrenceGraph(k=2)'
    ei, _ = get_user_graph(data, k=2)
    assert data[UU].k == 2 and ei.tolist() == [[0, 1], [1, 0]]


def test_argument_checks():
    edge_index = torch.tensor([[0, 3], [0, 1]])
    with pytest.raises(ValueError, match='user ids'):
        user_cooccurrence_graph(edge_index, 3, 2)
    with pytest.raises(ValueError, match="'k'"):
        user_cooccurrence_graph(edge_index, 4, 2, k=0)
