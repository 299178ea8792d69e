import pytest
import torch
import torch.nn.functional as F

from lirdrec_pyg.data import make_synthetic
from lirdrec_pyg.models import create_model
from lirdrec_pyg.models.lgmrec import LGMRec, hypergraph_propagate
from tests.models.helpers import (assert_every_parameter_has_gradient,
                                  assert_round_trip_with_rebuilt_graphs,
                                  featureless_data, fit_against_popularity,
                                  fixed_batch, short_run_config,
                                  short_run_data)


@pytest.mark.parametrize('num_layers', [1, 2])
def test_hypergraph_propagate_against_naive_sums(num_layers):
    # 3 users, 4 items, 2 hyperedges.
    hi = torch.rand(4, 2)
    hu = torch.rand(3, 2)
    e = torch.randn(4, 5)
    item = e
    for _ in range(num_layers):
        z = [sum(hi[i, a] * item[i] for i in range(4)) for a in range(2)]
        new_item = torch.stack([sum(hi[i, a] * z[a] for a in range(2))
                                for i in range(4)])
        user = torch.stack([sum(hu[u, a] * z[a] for a in range(2))
                            for u in range(3)])
        item = new_item
    out_u, out_i = hypergraph_propagate(hi, hu, e, num_layers)
    assert torch.allclose(out_u, user, atol=1e-5)
    assert torch.allclose(out_i, item, atol=1e-5)
    with pytest.raises(ValueError, match='num_layers'):
        hypergraph_propagate(hi, hu, e, 0)


def dense_reference(model, data):
    r"""The whole eval-mode forward with dense matrices and loops."""
    adj = model.adj.to_dense()
    r = torch.zeros(40, 30)
    r[tuple(data['user', 'interacts', 'item'].edge_index)] = 1.0
    x = torch.cat([model.user_emb.weight, model.item_emb.weight])
    collab = (x + adj @ x + adj @ adj @ x) / 3
    local = collab.clone()
    hyper = []
    for k, m in enumerate(model.modalities):
        f = data['item'][m]
        items = f @ model.feat_proj[k]
        users = (r @ items) / r.sum(1, keepdim=True)
        local = local + F.normalize(adj @ adj @ torch.cat([users, items]),
                                    dim=1)
        hi = torch.softmax(f @ model.hyper_proj[k] / 0.2, dim=1)
        hu = torch.softmax(r @ f @ model.hyper_proj[k] / 0.2, dim=1)
        z = hi.t() @ collab[40:]
        hyper.append((hu @ z, hi @ z))
    total = sum(torch.cat(pair) for pair in hyper)
    return local + 0.3 * F.normalize(total, dim=1), hyper


def test_eval_forward_and_loss_match_dense_reference(data):
    model = LGMRec(data, embedding_dim=8, num_hyperedges=3, cl_weight=0.1,
                   reg_weight=0.01).eval()
    out, hyper = dense_reference(model, data)
    user, item = model()
    assert torch.allclose(user, out[:40], atol=1e-5)
    assert torch.allclose(item, out[40:], atol=1e-5)

    users, pos, neg = fixed_batch(data)
    u, p, n = out[users], out[40 + pos], out[40 + neg]
    bpr = -F.logsigmoid((u * p).sum(1) - (u * n).sum(1)).mean()

    def nce_sum(a, b, cands):
        a, b, c = (F.normalize(t, dim=1) for t in (a, b, cands))
        pos_score = torch.exp((a * b).sum(1) / 0.2)
        total = torch.exp(a @ c.t() / 0.2).sum(1)
        return -torch.log(pos_score / total).sum()

    cl = 0.0
    for a in range(3):
        for b in range(a + 1, 3):
            cl = cl + nce_sum(hyper[a][0][users], hyper[b][0][users],
                              hyper[b][0])
            cl = cl + nce_sum(hyper[a][1][pos], hyper[b][1][pos],
                              hyper[b][1])
    reg = (u.norm() + p.norm() + n.norm()) / 16
    expected = bpr + 0.1 * cl + 0.01 * reg
    assert torch.allclose(model.loss(users, pos, neg), expected, atol=1e-4)


def test_training_assignments_are_stochastic_and_eval_deterministic(data):
    model = LGMRec(data, embedding_dim=8)
    a, _ = model.embed()
    b, _ = model.embed()
    assert not torch.allclose(a, b)
    model.eval()
    assert torch.equal(model.embed()[0], model.embed()[0])


def test_single_modality_has_no_contrast_term(data):
    one = make_synthetic(num_users=40, num_items=30,
                         modality_dims={'text': 6}, interactions_per_user=6,
                         seed=0)
    users, pos, neg = fixed_batch(one)
    model = LGMRec(one, embedding_dim=8, cl_weight=1.0).eval()
    loss = model.loss(users, pos, neg)
    model.cl_weight = 0.0
    assert torch.equal(loss, model.loss(users, pos, neg))


def test_gradients_reach_every_parameter(data):
    model = LGMRec(data, embedding_dim=8, cl_weight=0.1)
    model.loss(*fixed_batch(data)).backward()
    assert_every_parameter_has_gradient(model)


def test_arguments_and_repr(data):
    with pytest.raises(ValueError, match='keep_rate'):
        LGMRec(data, keep_rate=0.0)
    with pytest.raises(ValueError, match='num_hyper_layers'):
        LGMRec(data, num_hyper_layers=0)
    bare = featureless_data()
    with pytest.raises(ValueError, match='modalities'):
        LGMRec(bare)
    assert repr(create_model('lgmrec', data, embedding_dim=8)) == (
        "LGMRec(40, 30, modalities=['image', 'text', 'audio'], "
        "embedding_dim=8, num_hyperedges=4)")


def test_short_training_beats_popularity():
    result, pop = fit_against_popularity(
        'lgmrec', short_run_data({'image': 32, 'text': 16}),
        short_run_config(), seed=0, embedding_dim=32)
    assert result.test['Recall@20'] > pop.test['Recall@20'] + 0.1


def test_state_dict_round_trip(data):
    assert_round_trip_with_rebuilt_graphs(
        lambda: LGMRec(data, embedding_dim=8))
