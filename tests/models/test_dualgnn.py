import math

import pytest
import torch
import torch.nn.functional as F

from lirdrec_pyg.data import build_hetero_data
from lirdrec_pyg.models.dualgnn import DualGNN
from lirdrec_pyg.train import TrainConfig
from tests.models.helpers import (assert_every_parameter_has_gradient,
                                  fit_against_popularity, popularity_config,
                                  short_run_data)


def _naive_user_graph(edge_index, num_users, k, aggregation):
    items = [set() for _ in range(num_users)]
    for u, i in edge_index.t().tolist():
        items[u].add(i)
    weights = []
    for u in range(num_users):
        cand = [(len(items[u] & items[v]), v) for v in range(num_users)
                if v != u and items[u] & items[v]]
        cand.sort(key=lambda t: (-t[0], t[1]))
        cand = cand[:k]
        if aggregation == 'softmax':
            z = sum(math.exp(c) for c, _ in cand)
            weights.append({v: math.exp(c) / z for c, v in cand})
        else:
            weights.append({v: 1 / len(cand) for _, v in cand})
    return weights


@pytest.mark.parametrize('aggregation', ['softmax', 'mean'])
@pytest.mark.parametrize('k', [2, 40])
def test_user_graph_aggregation_matches_naive_loop(tiny_data, k, aggregation):
    model = DualGNN(tiny_data, embedding_dim=4, k=k,
                    user_aggregation=aggregation)
    x = torch.randn(60, 4)
    out = model.aggregate_users(x)
    weights = _naive_user_graph(tiny_data['user', 'interacts',
                                          'item'].edge_index, 60, k,
                                aggregation)
    for u in range(60):
        expected = x[u] + sum((w * x[v] for v, w in weights[u].items()),
                              torch.zeros(4))
        assert torch.allclose(out[u], expected, atol=1e-5), u
    if k == 2:  # the top-k cut is exercised
        assert max(len(w) for w in weights) == 2


def test_forward_matches_dense_equations():
    edges = torch.tensor([[0, 0, 1, 1, 2, 3], [0, 1, 1, 2, 2, 0]])
    features = {'image': torch.randn(3, 5), 'text': torch.randn(3, 4),
                'audio': torch.randn(3, 2)}
    data = build_hetero_data(4, 3, edges, edges, edges, features=features)
    model = DualGNN(data, embedding_dim=4, num_layers=2, k=2)
    a = torch.zeros(7, 7)
    a[edges[0], 4 + edges[1]] = 1
    a[4 + edges[1], edges[0]] = 1
    d = a.sum(1).pow(-0.5)
    a_hat = d[:, None] * a * d[None, :]
    reps = []
    for m in ('image', 'text', 'audio'):
        x = torch.cat([model.preferences[m], model.mlps[m](features[m])])
        x = F.normalize(x, dim=-1)
        reps.append(x + a_hat @ x + a_hat @ a_hat @ x)
    items = sum(r[4:] for r in reps)
    fused = sum(model.modality_weight[:, j:j + 1] * r[:4]
                for j, r in enumerate(reps))
    s = torch.zeros(4, 4)  # top-2 co-occurrence, softmax over counts
    for u, nbrs in enumerate(_naive_user_graph(edges, 4, 2, 'softmax')):
        for v, w in nbrs.items():
            s[u, v] = w
    users_out, items_out = model()
    assert torch.allclose(items_out, items, atol=1e-5)
    assert torch.allclose(users_out, fused + s @ fused, atol=1e-5)


def test_modality_weights_start_as_softmax(tiny_data):
    model = DualGNN(tiny_data)
    assert torch.allclose(model.modality_weight.sum(-1), torch.ones(60))
    assert bool((model.modality_weight > 0).all())


def test_loss_is_base_2_bpr_plus_penalties(tiny_data):
    model = DualGNN(tiny_data, embedding_dim=4, reg_weight=0.5)
    users, pos, neg = torch.tensor([0, 1]), torch.tensor([2, 3]), \
        torch.tensor([4, 5])
    user_out, item_out = model()
    u = user_out[users]
    diff = (u * item_out[pos]).sum(-1) - (u * item_out[neg]).sum(-1)
    rank = -torch.log2(torch.sigmoid(diff)).mean()
    reg = model.modality_weight.square().mean() + sum(
        model.preferences[m][users].square().mean()
        for m in ('image', 'text'))
    assert torch.isclose(model.loss(users, pos, neg), rank + 0.5 * reg,
                         atol=1e-5)


def test_gradients_reach_every_parameter(tiny_data):
    model = DualGNN(tiny_data, embedding_dim=8)
    model.loss(torch.arange(30), torch.arange(30) % 40,
               torch.arange(10, 40)).backward()
    assert_every_parameter_has_gradient(model)


def test_argument_checks_and_repr(tiny_data):
    with pytest.raises(ValueError, match="'user_aggregation'"):
        DualGNN(tiny_data, user_aggregation='max')
    with pytest.raises(ValueError, match="'k'"):
        DualGNN(tiny_data, k=0)
    no_features = build_hetero_data(2, 2, torch.tensor([[0, 1], [0, 1]]))
    with pytest.raises(ValueError, match='needs item features'):
        DualGNN(no_features)
    model = DualGNN(tiny_data, embedding_dim=8)
    assert repr(model) == ("DualGNN(60, 40, modalities=['image', 'text'], "
                           "embedding_dim=8, num_layers=2, k=40)")
    assert not any(k.startswith('feat_') for k in model.state_dict())


def test_beats_popularity_on_synthetic():
    config = TrainConfig(epochs=4, lr=1e-2, batch_size=512,
                    progress=False)
    result, pop = fit_against_popularity(
        'dualgnn', short_run_data(), config,
        popularity_config=popularity_config())
    assert result.test['Recall@20'] > pop.test['Recall@20']
    assert result.test['NDCG@20'] > pop.test['NDCG@20']
