import pytest
import torch
import torch.nn.functional as F

from lirdrec_pyg.models import create_model
from lirdrec_pyg.models.mgcn import (MGCN, normalized_interactions,
                                     similarity_knn_graph)
from tests.models.helpers import (assert_every_parameter_has_gradient,
                                  assert_round_trip_with_rebuilt_graphs,
                                  featureless_data, fit_against_popularity,
                                  fixed_batch, short_run_config,
                                  short_run_data)


def test_similarity_knn_graph_matches_dense_reference():
    x = torch.randn(12, 5)
    xn = F.normalize(x, dim=1)
    sim = xn @ xn.t()
    val, idx = sim.topk(4, dim=1)
    a = torch.zeros(12, 12).scatter_(1, idx, val)
    d = a.sum(1).pow(-0.5)
    expected = d[:, None] * a * d[None, :]
    out = similarity_knn_graph(x, 4)
    assert out.layout == torch.sparse_csr
    assert torch.allclose(out.to_dense(), expected, atol=1e-6)
    assert (out.crow_indices().diff() == 4).all()


def test_normalized_interactions_is_the_bipartite_block(data):
    model = MGCN(data, embedding_dim=8, knn_k=3)
    block = model.adj.to_dense()[:40, 40:]
    edge_index = data['user', 'interacts', 'item'].edge_index
    r = normalized_interactions(edge_index, 40, 30).to_dense()
    assert torch.allclose(r, block, atol=1e-6)


def test_purification_gates_item_id_embeddings(data):
    model = MGCN(data, embedding_dim=8, knn_k=3)
    with torch.no_grad():
        model.item_emb.weight[0] = 0.0
    purified = model.purify()
    assert len(purified) == 3
    for k, m in enumerate(model.modalities):
        gate = torch.sigmoid(model.purify_gates[k](
            model.projections[k](data['item'][m])))
        assert torch.allclose(purified[k], model.item_emb.weight * gate)
        # A gate in (0, 1) only filters behaviour: no item gets content that
        # its ID embedding does not carry.
        assert (purified[k][0] == 0).all()
        assert (purified[k].abs() <= model.item_emb.weight.abs()).all()


def test_fuser_against_naive_loop(data):
    model = MGCN(data, embedding_dim=8, knn_k=3)
    content = torch.randn(5, 8)
    views = [torch.randn(5, 8) for _ in range(3)]
    side, alpha = model.fuse(content, views)
    assert torch.allclose(alpha.sum(-1), torch.ones(5))
    for n in range(5):
        s = torch.stack([model.query(v[n]) for v in views]).view(-1)
        a = torch.softmax(s, 0)
        common = sum(a[k] * views[k][n] for k in range(3))
        expected = common + sum(
            torch.sigmoid(model.prefer_gates[k](content[n])) *
            (views[k][n] - common) for k in range(3))
        assert torch.allclose(side[n], expected / 4, atol=1e-6)
    # Identical views: uniform attention, no modality-specific part.
    side, alpha = model.fuse(content, [views[0]] * 3)
    assert torch.allclose(alpha, torch.full((5, 3), 1 / 3))
    assert torch.allclose(side, views[0] / 4, atol=1e-6)


def test_forward_and_loss_match_dense_reference(data):
    model = MGCN(data, embedding_dim=8, knn_k=3, num_ui_layers=2,
                 num_mm_layers=2, reg_weight=0.1, cl_weight=0.5,
                 temperature=0.3)
    adj = model.adj.to_dense()
    x = torch.cat([model.user_emb.weight, model.item_emb.weight])
    content = (x + adj @ x + adj @ adj @ x) / 3
    r = adj[:40, 40:]
    views = []
    for k, item in enumerate(model.purify()):
        s = getattr(model, f'item_graph_{k}').to_dense()
        item = s @ (s @ item)
        views.append(torch.cat([r @ item, item]))
    side, _ = model.fuse(content, views)
    out = content + side
    user, item = model()
    assert torch.allclose(user, out[:40], atol=1e-5)
    assert torch.allclose(item, out[40:], atol=1e-5)

    users, pos, neg = fixed_batch(data)
    u, p, n = out[users], out[40 + pos], out[40 + neg]
    bpr = -F.logsigmoid((u * p).sum(1) - (u * n).sum(1)).mean()
    reg = 0.5 * (u.pow(2).sum() + p.pow(2).sum() + n.pow(2).sum()) / 16

    def nce(a, b):
        logits = F.normalize(a, dim=1) @ F.normalize(b, dim=1).t() / 0.3
        return F.cross_entropy(logits, torch.arange(a.size(0)))

    cl = nce(side[40 + pos], content[40 + pos]) + \
        nce(side[users], content[users])
    expected = bpr + 0.1 * reg + 0.5 * cl
    assert torch.allclose(model.loss(users, pos, neg), expected, atol=1e-5)


def test_gradients_reach_every_parameter(data):
    model = MGCN(data, embedding_dim=8, knn_k=3)
    model.loss(*fixed_batch(data)).backward()
    assert_every_parameter_has_gradient(model)


def test_arguments_and_repr(data):
    with pytest.raises(ValueError, match='knn_k'):
        MGCN(data, knn_k=0)
    bare = featureless_data()
    with pytest.raises(ValueError, match='modalities'):
        MGCN(bare)
    assert repr(create_model('mgcn', data, embedding_dim=8, knn_k=3)) == (
        "MGCN(40, 30, modalities=['image', 'text', 'audio'], "
        "embedding_dim=8, knn_k=3)")


def test_short_training_beats_popularity():
    result, pop = fit_against_popularity(
        'mgcn', short_run_data({'image': 32, 'text': 16}),
        short_run_config(), seed=0, embedding_dim=32)
    assert result.test['Recall@20'] > pop.test['Recall@20'] + 0.1


def test_state_dict_round_trip(data):
    assert_round_trip_with_rebuilt_graphs(
        lambda: MGCN(data, embedding_dim=8, knn_k=3))


def test_reg_divisor_nominal_or_actual(data):
    users, pos, neg = fixed_batch(data)  # 16 triples
    losses = {}
    for mode, weight in (('nominal', 0.0), ('nominal', 0.2),
                         ('actual', 0.2)):
        torch.manual_seed(0)
        model = MGCN(data, embedding_dim=8, knn_k=3, reg_weight=weight,
                     reg_divisor=mode)
        model.batch_size = 64  # the trainer's nominal batch size
        losses[mode, weight] = model.loss(users, pos, neg).item()
    base = losses['nominal', 0.0]
    with torch.no_grad():
        user, item = model()
        reg = 0.5 * (user[users].pow(2).sum() + item[pos].pow(2).sum() +
                     item[neg].pow(2).sum())
    assert losses['actual', 0.2] - base == pytest.approx(
        0.2 * reg.item() / 16, rel=1e-4)
    assert losses['nominal', 0.2] - base == pytest.approx(
        0.2 * reg.item() / 64, rel=1e-4)
    # Without a trainer there is no nominal size: the actual one is used.
    model.batch_size = None
    assert model.reg_divisor(users, 'nominal') == 16
    with pytest.raises(ValueError, match="'reg_divisor' must be one of"):
        MGCN(data, reg_divisor='batch')
