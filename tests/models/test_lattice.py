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


def _dense_lightgcn_mean(adj, x, layers):
    out, h = [x], x
    for _ in range(layers):
        h = adj @ h
        out.append(h)
    return torch.stack(out).mean(0)


@pytest.mark.parametrize('norm', ['self_loop_rw', 'sym'])
def test_ui_normalization_against_dense_reference(small, norm):
    model = LATTICE(small, knn_k=5, ui_normalization=norm)
    edges = small['user', 'interacts', 'item'].edge_index
    n = 60 + 40
    a = torch.zeros(n, n)
    a[edges[0], 60 + edges[1]] = 1.0
    a[60 + edges[1], edges[0]] = 1.0
    if norm == 'self_loop_rw':  # the reference's D^-1 (A + I)
        a = a + torch.eye(n)
        expected = a / a.sum(1, keepdim=True)
    else:
        d = a.sum(1).rsqrt()
        expected = d.view(-1, 1) * a * d.view(1, -1)
    assert torch.allclose(model.adj.to_dense(), expected, atol=1e-6)

    x = torch.cat([model.user_emb.weight, model.item_emb.weight])
    out = _dense_lightgcn_mean(expected, x, 2)
    h = _dense_item_graph(model) @ model.item_emb.weight
    user, item = model()
    assert torch.allclose(user, out[:60], atol=1e-5)
    assert torch.allclose(item, out[60:] + F.normalize(h, dim=-1), atol=1e-5)
    # The non-symmetric operator still back-propagates correctly.
    user.sum().backward()
    grad = model.user_emb.weight.grad
    x = x.detach().requires_grad_()
    _dense_lightgcn_mean(expected, x, 2)[:60].sum().backward()
    assert torch.allclose(grad, x.grad[:60], atol=1e-5)


def test_reg_divisor_nominal_or_actual(small):
    users, pos, neg = random_batch(small, 8)
    losses = {}
    for mode, weight in (('nominal', 0.0), ('nominal', 0.5),
                         ('actual', 0.5)):
        torch.manual_seed(0)
        model = LATTICE(small, knn_k=5, reg_weight=weight, reg_divisor=mode)
        model.batch_size = 32  # the trainer's nominal batch size
        losses[mode, weight] = model.loss(users, pos, neg).item()
    base = losses['nominal', 0.0]
    # 0.5 * R / 32 against 0.5 * R / 8 for the same squared norms R.
    assert losses['actual', 0.5] - base == pytest.approx(
        4 * (losses['nominal', 0.5] - base), rel=1e-4)
    torch.manual_seed(0)
    model = LATTICE(small, knn_k=5)
    with torch.no_grad():
        user, item = model()
        reg = 0.5 * (user[users].pow(2).sum() + item[pos].pow(2).sum() +
                     item[neg].pow(2).sum())
    assert losses['actual', 0.5] - base == pytest.approx(
        0.5 * reg.item() / 8, rel=1e-4)
    with pytest.raises(ValueError, match="'reg_divisor' must be one of"):
        LATTICE(small, reg_divisor='mean')
    with pytest.raises(ValueError, match="'ui_normalization' must be one of"):
        LATTICE(small, ui_normalization='rw')
