import pytest
import torch
import torch.nn.functional as F

from lirdrec_pyg.models import LATTICE
from lirdrec_pyg.models.lattice import sym_normalize, weighted_knn_graph
from lirdrec_pyg.train import TrainConfig
from tests.models.helpers import (assert_every_parameter_has_gradient,
                                  assert_round_trip_from_other_init,
                                  fit_against_popularity, popularity_config,
                                  random_batch, short_run_data)


def _dense_knn(x, k):
    x = F.normalize(x, dim=-1)
    sim = x @ x.t()
    val, idx = sim.topk(k, dim=-1)
    return torch.zeros_like(sim).scatter_(-1, idx, val)


def _dense_norm(a):
    d = a.sum(-1).rsqrt()
    return d.view(-1, 1) * a * d.view(1, -1)


def _dense_item_graph(model):
    alpha = torch.softmax(model.modal_weight, 0)
    learned, original = 0, 0
    for a, m in zip(alpha, model.modalities):
        proj = model.projections[m](model.features[m])
        learned = learned + a * _dense_knn(proj, model.knn_k)
        original = original + a * _dense_norm(
            _dense_knn(model._raw_features[m], model.knn_k))
    lam = model.lambda_coeff
    return (1 - lam) * _dense_norm(learned) + lam * original


def test_weighted_knn_graph_and_normalisation():
    x = torch.randn(7, 4, requires_grad=True)
    edge_index, weight = weighted_knn_graph(x, 3, block_size=2)
    dense = torch.zeros(7, 7).index_put((edge_index[0], edge_index[1]),
                                        weight)
    assert torch.allclose(dense, _dense_knn(x, 3))
    norm = sym_normalize(edge_index, weight, 7)
    expected = _dense_norm(_dense_knn(x, 3))
    got = torch.zeros(7, 7).index_put((edge_index[0], edge_index[1]), norm)
    assert torch.allclose(got, expected, atol=1e-6)
    norm.sum().backward()
    assert x.grad.abs().sum() > 0


def test_item_graph_matches_dense_equation(small):
    model = LATTICE(small, knn_k=5, lambda_coeff=0.7)
    with torch.no_grad():
        model.modal_weight.copy_(torch.tensor([0.3, -0.2, 0.5]))
        got = model.build_item_graph().to_dense()
        assert torch.allclose(got, _dense_item_graph(model), atol=1e-5)
    assert str(model) == ("LATTICE(60, 40, embedding_dim=64, modalities="
                          "['image', 'text', 'audio'], knn_k=5, "
                          "lambda_coeff=0.7)")


def test_graph_rebuilt_once_per_epoch_and_at_inference(small):
    model = LATTICE(small, knn_k=5)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.5)

    def step():
        optimizer.zero_grad()
        model.loss(*random_batch(small)).backward()
        optimizer.step()

    model.on_epoch_start(1)
    step()
    epoch1 = model.item_adj.to_dense().clone()
    step()  # same epoch: the cached, detached graph is reused
    assert torch.equal(model.item_adj.to_dense(), epoch1)
    with torch.no_grad():
        now = _dense_item_graph(model)
    assert not torch.allclose(now, epoch1, atol=1e-4)
    model.on_epoch_start(2)
    step()  # re-built from the parameters of the end of epoch 1
    assert not torch.equal(model.item_adj.to_dense(), epoch1)
    model.inference()  # re-built from the current parameters
    assert torch.allclose(model.item_adj.to_dense(), _dense_item_graph(
        model).detach(), atol=1e-5)


def test_gradients_reach_every_parameter(small):
    model = LATTICE(small, reg_weight=1e-3)
    model.on_epoch_start(1)
    model.loss(*random_batch(small)).backward()
    assert_every_parameter_has_gradient(model)


def test_state_dict_round_trip(small):
    assert_round_trip_from_other_init(lambda: LATTICE(small))


def test_argument_checks(small):
    with pytest.raises(ValueError, match="'lambda_coeff'"):
        LATTICE(small, lambda_coeff=1.5)
    with pytest.raises(ValueError, match="'knn_k'"):
        LATTICE(small, knn_k=0)


def test_beats_popularity_on_synthetic():
    config = TrainConfig(epochs=10, lr=5e-3, progress=False)
    result, pop = fit_against_popularity(
        'lattice', short_run_data(), config,
        popularity_config=popularity_config())
    assert result.test['Recall@20'] > pop.test['Recall@20']
    assert result.test['NDCG@20'] > pop.test['NDCG@20']
