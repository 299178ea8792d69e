import math

import pytest
import torch
import torch.nn.functional as F

from lirdrec_pyg.data import build_hetero_data
from lirdrec_pyg.models.grcn import GRCN
from lirdrec_pyg.train import TrainConfig
from tests.models.helpers import (assert_every_parameter_has_gradient,
                                  fit_against_popularity, popularity_config,
                                  short_run_data)

# User 0 has items 0, 1 (content e1) and item 2 (content e2); user 1 has
# items 2 and 3 (content e2).
EDGES = torch.tensor([[0, 0, 0, 1, 1], [0, 1, 2, 2, 3]])


def _hand_made(num_routing=0):
    content = torch.tensor([[1., 0.], [1., 0.], [0., 1.], [0., 1.]])
    data = build_hetero_data(2, 4, EDGES, EDGES, EDGES,
                             features={'image': content})
    model = GRCN(data, embedding_dim=3, latent_dim=2,
                 num_routing=num_routing)
    refiner = model.refiners['image']
    with torch.no_grad():
        # Content = normalize(LeakyReLU(x)) = x for these features.
        refiner.mlp.weight.copy_(torch.eye(2))
        refiner.mlp.bias.zero_()
        refiner.preference.copy_(torch.tensor([[1., 0.], [0., 1.]]))
        model.confidence.fill_(1.0)
    return data, model


def _edge_weight(model, src, dst):
    weight, _ = model.refine()
    mask = (model.graph.src == src) & (model.graph.dst == dst)
    return float(weight[mask])


@pytest.mark.parametrize('num_routing', [0, 2])
def test_disagreeing_edge_gets_low_weight(num_routing):
    _, model = _hand_made(num_routing)
    # Edge item 2 -> user 0: the item's content (e2) disagrees with the
    # user's preference (e1), so it gets much less weight than items 0, 1.
    agree = _edge_weight(model, 2 + 0, 0)
    disagree = _edge_weight(model, 2 + 2, 0)
    assert disagree < agree / 2
    if num_routing == 0:
        # Preference e1 against contents e1, e1, e2: softmax of [1, 1, 0].
        assert math.isclose(disagree, 1 / (2 * math.e + 1), rel_tol=1e-4)
        assert math.isclose(agree, math.e / (2 * math.e + 1), rel_tol=1e-4)


def test_negative_confidence_prunes_edges():
    _, model = _hand_made()
    with torch.no_grad():
        model.confidence[2 + 2] = -1.0  # item 2
    assert _edge_weight(model, 2 + 2, 0) == 0.0
    assert _edge_weight(model, 2 + 2, 1) == 0.0
    assert _edge_weight(model, 0, 2 + 2) > 0  # user 0 -> item 2 is kept
    # Pruned: user 0's ID representation ignores item 2's ID embedding.
    before = model()[0][0, :3].detach().clone()
    with torch.no_grad():
        model.id_embedding.weight[2 + 2] = torch.randn(3)
    assert torch.allclose(model()[0][0, :3], before, atol=1e-6)


def _naive_route(pref, content, num_routing):
    pref = F.normalize(pref, dim=-1)
    items = [[] for _ in range(pref.size(0))]
    for u, i in EDGES.t().tolist():
        items[u].append(i)
    for _ in range(num_routing):
        new = []
        for u in range(pref.size(0)):
            logits = torch.stack([pref[u] @ content[i] for i in items[u]])
            alpha = logits.softmax(0)
            agg = sum(a * content[i] for a, i in zip(alpha, items[u]))
            new.append(F.normalize(pref[u] + agg, dim=-1))
        pref = torch.stack(new)
    return pref


def test_routing_and_refined_weights_match_naive():
    content = torch.randn(4, 5)
    data = build_hetero_data(2, 4, EDGES, EDGES, EDGES,
                             features={'image': content,
                                       'text': torch.randn(4, 3)})
    model = GRCN(data, embedding_dim=3, latent_dim=4, num_routing=3)
    nbrs = {v: [] for v in range(6)}
    for u, i in EDGES.t().tolist():
        nbrs[u].append(2 + i)
        nbrs[2 + i].append(u)
    scores = {}
    for m in ('image', 'text'):
        refiner = model.refiners[m]
        c = F.normalize(F.leaky_relu(refiner.mlp(data['item'][m])), dim=-1)
        pref = _naive_route(refiner.preference, c, 3)
        assert torch.allclose(refiner.route(c, model.item_to_user), pref,
                              atol=1e-5)
        x = torch.cat([pref, c])
        for v in range(6):
            logits = torch.stack([x[v] @ x[u] for u in nbrs[v]]).softmax(0)
            for u, s in zip(nbrs[v], logits):
                scores.setdefault((u, v), []).append(s)
    weight, _ = model.refine()
    for e, (u, v) in enumerate(model.graph.edge_index.t().tolist()):
        expected = max(model.confidence[u, k] * s
                       for k, s in enumerate(scores[(u, v)]))
        assert torch.isclose(weight[e], expected.relu(), atol=1e-5)


def test_representation_concatenates_id_and_content(tiny_data):
    model = GRCN(tiny_data, embedding_dim=8, latent_dim=6)
    users, items = model()
    assert users.shape == (60, 8 + 2 * 6) and items.shape == (40, 8 + 2 * 6)


def test_gradients_reach_every_parameter(tiny_data):
    model = GRCN(tiny_data, embedding_dim=8, latent_dim=8)
    model.loss(torch.arange(30), torch.arange(30) % 40,
               torch.arange(10, 40)).backward()
    assert_every_parameter_has_gradient(model)


def test_argument_checks_and_repr(tiny_data):
    with pytest.raises(ValueError, match="'latent_dim'"):
        GRCN(tiny_data, latent_dim=0)
    with pytest.raises(ValueError, match="'num_routing'"):
        GRCN(tiny_data, num_routing=-1)
    no_features = build_hetero_data(2, 2, torch.tensor([[0, 1], [0, 1]]))
    with pytest.raises(ValueError, match='needs item features'):
        GRCN(no_features)
    assert repr(GRCN(tiny_data)) == (
        "GRCN(60, 40, modalities=['image', 'text'], embedding_dim=64, "
        "num_layers=2)")


def test_beats_popularity_on_synthetic():
    config = TrainConfig(epochs=4, lr=1e-2, batch_size=512,
                    progress=False)
    result, pop = fit_against_popularity(
        'grcn', short_run_data(), config,
        popularity_config=popularity_config())
    assert result.test['Recall@20'] > pop.test['Recall@20']
    assert result.test['NDCG@20'] > pop.test['NDCG@20']
