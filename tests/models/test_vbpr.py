import pytest
import torch

from lirdrec_pyg.data import build_hetero_data, make_synthetic
from lirdrec_pyg.models.vbpr import VBPR
from lirdrec_pyg.train import TrainConfig
from tests.models.helpers import (assert_every_parameter_has_gradient,
                                  fit_against_popularity, popularity_config,
                                  short_run_data)


def _three_modalities():
    edge_index = torch.tensor([[0, 0, 1, 2, 2, 3], [0, 1, 1, 2, 3, 0]])
    features = {'image': torch.randn(4, 5), 'text': torch.randn(4, 3),
                'audio': torch.randn(4, 2)}
    return build_hetero_data(4, 4, edge_index, edge_index, edge_index,
                             features=features)


def test_score_is_id_part_plus_content_part():
    data = _three_modalities()
    model = VBPR(data, embedding_dim=4)
    state = model.inference()
    scores = model.score(state, torch.arange(4))
    gamma_u = model.user_emb.weight[:, :4]
    theta_u = model.user_emb.weight[:, 4:]
    feats = torch.cat([data['item'][m] for m in ('image', 'text', 'audio')],
                      dim=-1)
    E, b = model.item_linear.weight, model.item_linear.bias
    for u in range(4):
        for i in range(4):
            id_part = sum(gamma_u[u, k] * model.item_emb.weight[i, k]
                          for k in range(4))
            content = E @ feats[i] + b
            visual_part = sum(theta_u[u, k] * content[k] for k in range(4))
            assert torch.isclose(scores[u, i], id_part + visual_part,
                                 atol=1e-5)
    assert model.features.size(1) == 10


def test_loss_is_bpr_plus_norm_regulariser(tiny_data):
    model = VBPR(tiny_data, embedding_dim=8, reg_weight=0.5)
    users, pos, neg = torch.tensor([0, 1]), torch.tensor([2, 3]), \
        torch.tensor([4, 5])
    user_out, item_out = model()
    u, p, n = user_out[users], item_out[pos], item_out[neg]
    expected = -torch.log(torch.sigmoid((u * p).sum(-1) - (u * n).sum(-1)))
    reg = (u.norm() + p.norm() + n.norm()) / 2
    assert torch.isclose(model.loss(users, pos, neg),
                         expected.mean() + 0.5 * reg, atol=1e-6)


def test_gradients_reach_every_parameter(tiny_data):
    model = VBPR(tiny_data, embedding_dim=8)
    model.loss(torch.arange(10), torch.arange(10), torch.arange(10, 20)
               ).backward()
    assert_every_parameter_has_gradient(model)


def test_argument_checks_and_repr(tiny_data):
    with pytest.raises(ValueError, match="'embedding_dim'"):
        VBPR(tiny_data, embedding_dim=0)
    no_features = build_hetero_data(2, 2, torch.tensor([[0, 1], [0, 1]]))
    with pytest.raises(ValueError, match='needs item features'):
        VBPR(no_features)
    assert repr(VBPR(tiny_data, embedding_dim=8)) == \
        'VBPR(60, 40, embedding_dim=8, feature_dim=14)'
    assert 'features' not in VBPR(tiny_data).state_dict()


def test_beats_popularity_on_synthetic():
    config = TrainConfig(epochs=5, lr=1e-2, batch_size=512,
                    progress=False)
    result, pop = fit_against_popularity(
        'vbpr', short_run_data(), config,
        popularity_config=popularity_config())
    assert result.test['Recall@20'] > pop.test['Recall@20']
    assert result.test['NDCG@20'] > pop.test['NDCG@20']


def test_normalize_features_option():
    from lirdrec_pyg.models import VBPR
    data = make_synthetic(num_users=30, num_items=20, interactions_per_user=5,
                          modality_dims={'image': 6, 'text': 4}, seed=0)
    data['item'].image = data['item'].image * 1000
    model = VBPR(data, normalize_features=True)
    norms = model.features.view(20, -1)[:, :6].norm(dim=-1)
    assert torch.allclose(norms, torch.ones(20), atol=1e-5)
    assert VBPR(data).features.abs().max() > 100


def test_bpr_eps_option_matches_the_toolbox_loss(tiny_data):
    losses = {}
    for eps in (1e-10, 0.0):
        torch.manual_seed(0)
        model = VBPR(tiny_data, embedding_dim=8, reg_weight=0.0,
                     bpr_eps=eps)
        with torch.no_grad():  # scores large enough to saturate
            model.user_emb.weight.mul_(60.0)
            model.item_emb.weight.mul_(60.0)
        users, pos, neg = (torch.arange(20), torch.arange(20),
                           torch.arange(20, 40))
        user_out, item_out = model()
        u, p, n = user_out[users], item_out[pos], item_out[neg]
        d = (u * p).sum(-1) - (u * n).sum(-1)
        assert (d < -25).any()
        expected = -torch.log(eps + torch.sigmoid(d)) if eps else \
            -torch.nn.functional.logsigmoid(d)
        losses[eps] = model.loss(users, pos, neg)
        assert torch.isclose(losses[eps], expected.mean(), rtol=1e-5)
    assert losses[1e-10] < losses[0.0]
    assert VBPR(tiny_data).bpr_eps == 1e-10
    with pytest.raises(ValueError, match="'bpr_eps' must be >= 0"):
        VBPR(tiny_data, bpr_eps=-1.0)
