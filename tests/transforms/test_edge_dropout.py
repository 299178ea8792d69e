import itertools

import pytest
import torch

from lirdrec_pyg.transforms.adjacency import bipartite_normalized_adjacency
from lirdrec_pyg.transforms.edge_dropout import (
    degree_sensitive_edge_dropout, degree_sensitive_edge_weight,
    dropped_ui_adjacency)

# user 0 is a hub (4 items), users 1-3 have one item each; item 0 is popular.
EDGES = torch.tensor([[0, 0, 0, 0, 1, 2, 3], [0, 1, 2, 3, 0, 0, 4]])


def _exact_inclusion(w, n):
    r"""P(edge e is among the n drawn) for successive weighted sampling
    without replacement, by enumerating all ordered draws."""
    probs = torch.zeros(len(w))
    for order in itertools.permutations(range(len(w)), n):
        prob, left = 1.0, float(sum(w))
        for e in order:
            prob *= w[e] / left
            left -= w[e]
        for e in order:
            probs[e] += prob
    return probs


def test_edge_weight_is_inverse_sqrt_degree():
    w = degree_sensitive_edge_weight(EDGES, 4, 5)
    deg_u = torch.tensor([4.0, 1, 1, 1])
    deg_i = torch.tensor([3.0, 1, 1, 1, 1])
    expected = (deg_u[EDGES[0]] * deg_i[EDGES[1]]).rsqrt()
    assert torch.allclose(w, expected)


@pytest.mark.parametrize('p', [0.0, 0.3, 0.8, 0.9])
def test_keeps_expected_number_of_distinct_edges(p):
    num_users, num_items = 40, 30
    edge_index = (torch.rand(num_users, num_items) < 0.3).nonzero().t()
    kept = degree_sensitive_edge_dropout(edge_index, num_users, num_items, p)
    assert kept.size(1) == int(edge_index.size(1) * (1 - p))
    key = edge_index[0] * num_items + edge_index[1]
    kept_key = kept[0] * num_items + kept[1]
    assert torch.isin(kept_key, key).all()
    assert kept_key.unique().numel() == kept_key.numel()
    assert (kept_key.diff() > 0).all()  # original (sorted) order


def test_inclusion_frequencies_match_weighted_sampling():
    w = degree_sensitive_edge_weight(EDGES, 4, 5)
    p = 1 - 3 / 7  # keep 3 of 7
    exact = _exact_inclusion(w.tolist(), 3)
    gen = torch.Generator().manual_seed(0)
    draws = 4000
    count = torch.zeros(EDGES.size(1))
    for _ in range(draws):
        kept = degree_sensitive_edge_dropout(EDGES, 4, 5, p, generator=gen)
        assert kept.size(1) == 3
        hit = (kept.t().unsqueeze(1) == EDGES.t().unsqueeze(0)).all(-1)
        count += hit.any(0).float()
    freq = count / draws
    assert torch.allclose(freq, exact, atol=0.03)
    # Edges of the hub user (0) to the popular item (0) go first; the
    # leaf edge (3, 4) between two degree-1 nodes is kept most often.
    assert freq[0] < freq[1] and freq[-1] == freq.max()


def test_same_generator_seed_same_edges():
    gens = [torch.Generator().manual_seed(7) for _ in range(2)]
    a, b = (degree_sensitive_edge_dropout(EDGES, 4, 5, 0.5, generator=g)
            for g in gens)
    assert torch.equal(a, b)


def test_dropped_adjacency_is_renormalised_on_kept_edges():
    gen = torch.Generator().manual_seed(3)
    adj = dropped_ui_adjacency(EDGES, 4, 5, 0.5, generator=gen)
    gen = torch.Generator().manual_seed(3)
    kept = degree_sensitive_edge_dropout(EDGES, 4, 5, 0.5, generator=gen)
    expected = bipartite_normalized_adjacency(kept, 4, 5)
    assert torch.allclose(adj.to_dense(), expected.to_dense())
    assert adj.values().numel() == 2 * kept.size(1)


def test_argument_checks():
    with pytest.raises(ValueError, match="'p'"):
        degree_sensitive_edge_dropout(EDGES, 4, 5, 1.0)
    with pytest.raises(ValueError, match="'edge_weight'"):
        degree_sensitive_edge_dropout(EDGES, 4, 5, 0.5,
                                      edge_weight=torch.ones(3))
    with pytest.raises(ValueError, match='item ids'):
        degree_sensitive_edge_weight(EDGES, 4, 4)
