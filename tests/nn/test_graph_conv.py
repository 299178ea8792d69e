import pytest
import torch

from lirdrec_pyg.nn.graph_conv import EdgeGraph, bipartite_edge_index


def _random_graph(num_src, num_dst, num_edges):
    key = torch.randperm(num_src * num_dst)[:num_edges]
    return torch.stack([key // num_dst, key % num_dst])


def _dense(graph, weight):
    out = torch.zeros(graph.num_dst, graph.num_src, dtype=weight.dtype)
    out[graph.dst, graph.src] = weight
    return out


@pytest.mark.parametrize('size', [(7, 7), (5, 9), (9, 4)])
def test_propagate_matches_dense(size):
    num_src, num_dst = size
    graph = EdgeGraph(_random_graph(num_src, num_dst, 15), num_src, num_dst)
    x = torch.randn(num_src, 3)
    w = torch.rand(graph.num_edges)
    assert torch.allclose(graph(x, w), _dense(graph, w) @ x, atol=1e-6)
    ones = torch.ones(graph.num_edges)
    assert torch.allclose(graph(x), _dense(graph, ones) @ x, atol=1e-6)


def test_stored_order_and_degree():
    # Given unsorted; stored sorted by (target, source).
    edge_index = torch.tensor([[2, 0, 1, 0], [1, 1, 0, 0]])
    graph = EdgeGraph(edge_index, 3, 2)
    assert graph.edge_index.tolist() == [[0, 1, 0, 2], [0, 0, 1, 1]]
    assert graph.in_degree().tolist() == [2.0, 2.0]


def test_gradients_match_autograd_of_dense():
    graph = EdgeGraph(_random_graph(6, 5, 14), 6, 5)
    x = torch.randn(6, 4, dtype=torch.double, requires_grad=True)
    w = torch.rand(graph.num_edges, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(lambda w, x: graph(x, w), (w, x))
    a = torch.randn(5, 4, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, x: graph.edge_dot(a, x), (a, x))


def test_edge_dot_and_softmax():
    graph = EdgeGraph(_random_graph(6, 5, 14), 6, 5)
    x_src, x_dst = torch.randn(6, 3), torch.randn(5, 3)
    score = graph.edge_dot(x_dst, x_src)
    for e, (s, d) in enumerate(graph.edge_index.t().tolist()):
        assert torch.isclose(score[e], x_dst[d] @ x_src[s], atol=1e-6)
    alpha = graph.softmax(score)
    for d in range(5):
        mask = graph.dst == d
        if mask.any():
            assert torch.allclose(alpha[mask], score[mask].softmax(0))


def test_bipartite_edge_index():
    edge_index = torch.tensor([[0, 1], [1, 0]])
    out = bipartite_edge_index(edge_index, num_users=2)
    assert out.tolist() == [[0, 1, 3, 2], [3, 2, 0, 1]]


def test_moves_with_module_but_not_in_state_dict():
    graph = EdgeGraph(_random_graph(4, 4, 6), 4)
    assert graph.state_dict() == {}
    assert graph.to(torch.device('cpu')).crow.numel() == 5
    assert repr(graph) == 'EdgeGraph(num_src=4, num_dst=4, num_edges=6)'


def test_argument_checks():
    with pytest.raises(ValueError, match='shape'):
        EdgeGraph(torch.zeros(3, 2, dtype=torch.long), 4)
    with pytest.raises(ValueError, match='target ids'):
        EdgeGraph(torch.tensor([[0], [5]]), 4, 3)
    with pytest.raises(ValueError, match='duplicate'):
        EdgeGraph(torch.tensor([[0, 0], [1, 1]]), 4)
    graph = EdgeGraph(torch.tensor([[0, 1], [1, 0]]), 2)
    with pytest.raises(ValueError, match="'edge_weight'"):
        graph(torch.randn(2, 3), torch.ones(3))
    with pytest.raises(ValueError, match="'x' has 3 rows"):
        graph(torch.randn(3, 3))
