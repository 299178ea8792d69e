import math

import pytest
import torch
from torch_geometric.data import HeteroData

from lirdrec_pyg.models.base import (bpr_loss, dot_bpr_loss,
                                     embedding_bpr_loss, require_modalities,
                                     squared_embedding_reg)


def test_embedding_bpr_loss_matches_a_naive_loop():
    g = torch.Generator().manual_seed(0)
    user_emb = torch.randn(5, 3, generator=g)
    item_emb = torch.randn(7, 3, generator=g)
    users = torch.tensor([0, 4, 4])
    pos, neg = torch.tensor([1, 2, 6]), torch.tensor([3, 0, 5])
    expected = 0.0
    for u, i, j in zip(users.tolist(), pos.tolist(), neg.tolist()):
        diff = float(user_emb[u] @ item_emb[i] - user_emb[u] @ item_emb[j])
        expected -= math.log(1.0 / (1.0 + math.exp(-diff)))
    expected /= 3
    out = embedding_bpr_loss(user_emb, item_emb, users, pos, neg)
    assert out.item() == pytest.approx(expected, rel=1e-5)
    assert torch.equal(out, dot_bpr_loss(user_emb[users], item_emb[pos],
                                         item_emb[neg]))
    # Equal scores give log 2.
    zeros = torch.zeros(2, 3)
    assert dot_bpr_loss(zeros, zeros, zeros).item() == pytest.approx(
        math.log(2))
    assert bpr_loss(torch.zeros(2), torch.zeros(2)).item() == pytest.approx(
        math.log(2))


def test_squared_embedding_reg_hand_computed():
    ego = torch.tensor([[1.0, 1.0], [2.0, 0.0], [0.0, 3.0], [1.0, 0.0]])
    # Two users, two items: item i is row 2 + i.
    reg = squared_embedding_reg(ego, 2, torch.tensor([0, 1]),
                                torch.tensor([0]), torch.tensor([1]))
    users = (1 + 1 + 4 + 0) / 4
    assert reg.item() == pytest.approx(users + 0.5 * (9 / 2 + 1 / 2))


def test_require_modalities(tiny_data):
    assert require_modalities(tiny_data, 'X') == ['image', 'text']
    bare = HeteroData()
    bare.name = 'plain'
    with pytest.raises(ValueError, match=r"^Model needs item features, but "
                       r"dataset 'plain' has no modalities.*lirdrec data "
                       r"import --item-text"):
        require_modalities(bare, 'Model')


def test_gather_triples_equals_separate_lookups_with_gradients():
    from lirdrec_pyg.models.base import gather_triples
    torch.manual_seed(0)
    user = torch.randn(6, 4, requires_grad=True)
    item = torch.randn(5, 4, requires_grad=True)
    users, pos, neg = (torch.tensor([0, 5, 5]), torch.tensor([1, 1, 4]),
                       torch.tensor([4, 0, 1]))
    u, p, n = gather_triples(user, item, users, pos, neg)
    assert torch.equal(u, user[users]) and torch.equal(p, item[pos])
    assert torch.equal(n, item[neg])
    weight = torch.randn(3, 4)
    ((u * p - n) * weight).sum().backward()
    got = user.grad.clone(), item.grad.clone()
    user.grad = item.grad = None
    ((user[users] * item[pos] - item[neg]) * weight).sum().backward()
    assert torch.allclose(got[0], user.grad) and torch.allclose(got[1],
                                                                item.grad)


def test_bpr_loss_eps_saturates_like_the_toolbox():
    pos = torch.tensor([0.0, 2.0], requires_grad=True)
    neg = torch.tensor([30.0, 1.0])
    plain = bpr_loss(pos, neg)
    plain.backward()
    grad_plain = pos.grad.clone()
    pos.grad = None
    capped = bpr_loss(pos, neg, eps=1e-10)
    capped.backward()
    s = torch.sigmoid(torch.tensor([-30.0, 1.0], dtype=torch.float64))
    # By hand: -log(sigmoid(d)) against -log(1e-10 + sigmoid(d)), averaged.
    assert plain.item() == pytest.approx(
        float(-(s.log()).mean()), rel=1e-6)
    assert capped.item() == pytest.approx(
        float(-((1e-10 + s).log()).mean()), rel=1e-6)
    assert capped.item() < plain.item() - 3.0  # the first triple is capped
    # d/dpos of the first triple: -(1 - s) / 2 without eps, but only
    # -s (1 - s) / (2 (1e-10 + s)), about 5e-4, with it.
    assert grad_plain[0].item() == pytest.approx(-0.5, rel=1e-6)
    assert pos.grad[0].item() == pytest.approx(
        float(-s[0] * (1 - s[0]) / (2 * (1e-10 + s[0]))), rel=1e-4)
    assert abs(pos.grad[0].item()) < 1e-3
    # A triple far from saturation is unchanged.
    assert pos.grad[1].item() == pytest.approx(grad_plain[1].item(),
                                               rel=1e-6)


@pytest.mark.parametrize('name', ['popularity', 'bpr', 'lightgcn',
                                  'lirdrec', 'freedom', 'itemknn_cbf'])
def test_recommend_is_masked_top_k_of_the_scores(tiny_data, name):
    from lirdrec_pyg.models import create_model
    torch.manual_seed(0)
    model = create_model(name, tiny_data)
    model.train()
    train = tiny_data['user', 'interacts', 'item'].edge_index
    extra = torch.tensor([[0, 3], [5, 7]])
    users = torch.tensor([3, 0, 59, 3])
    out = model.recommend(5, users, exclude_edge_index=extra, batch_size=3)
    assert model.training  # mode restored
    model.eval()
    scores = model.score(model.inference(), torch.arange(60)).clone()
    for u, i in torch.cat([train, extra], 1).t().tolist():
        scores[u, i] = float('-inf')
    assert out.shape == (4, 5)
    for row, u in zip(out.tolist(), users.tolist()):
        # The same scores as the full masked ranking, none excluded.
        assert torch.equal(scores[u, row], scores[u].topk(5).values)
        assert all(scores[u, i] > float('-inf') for i in row)
    everything = model.recommend(40, exclude_train=False)
    assert everything.shape == (60, 40)
    assert torch.equal(everything.sort(1).values,
                       torch.arange(40).expand(60, 40))


def test_recommend_errors(tiny_data):
    from lirdrec_pyg.models import create_model
    model = create_model('bpr', tiny_data)
    with pytest.raises(ValueError, match=r"'k' must be an integer in \[1, 40"):
        model.recommend(41)
    with pytest.raises(ValueError, match="'users'"):
        model.recommend(3, torch.tensor([60]))
    model._graphs['_train_edge_index'] = None
    with pytest.raises(ValueError, match='exclude_train=False'):
        model.recommend(3)


def test_moved_model_keeps_adjacency_marks(tiny_data, monkeypatch):
    # After .to() the library adjacency is a new tensor: its marks
    # (normalised, symmetric) come along, so no re-check and no refusal.
    from lirdrec_pyg.models import create_model
    from lirdrec_pyg.nn import propagation
    model = create_model('lightgcn', tiny_data).double()
    assert model.adj.dtype == torch.float64
    assert model.adj._lirdrec_symmetric and model.adj._lirdrec_normalized

    def fail(adj):
        raise AssertionError('symmetry re-checked after a move')
    monkeypatch.setattr(propagation, 'transpose_csr', fail)
    users, items = model()
    assert users.dtype == torch.float64
    model.loss(torch.tensor([0]), torch.tensor([1]),
               torch.tensor([2])).backward()
