import pytest
import torch

from lirdrec_pyg.data import make_synthetic
from lirdrec_pyg.models import create_model
from lirdrec_pyg.models.bm3 import BM3
from tests.models.helpers import (assert_every_parameter_has_gradient,
                                  assert_round_trip_with_rebuilt_graphs,
                                  featureless_data, fit_against_popularity,
                                  fixed_batch, short_run_config,
                                  short_run_data)


def cos_loss(a, b):
    return 1 - torch.nn.functional.cosine_similarity(a, b, dim=-1).mean()


def test_encoder_is_lightgcn_plus_item_residual(data):
    model = BM3(data, embedding_dim=8, num_layers=2)
    adj = model.adj.to_dense()
    x = torch.cat([model.user_emb.weight, model.item_emb.weight])
    expected = (x + adj @ x + adj @ adj @ x) / 3
    user, item = model.encode()
    assert torch.allclose(user, expected[:40], atol=1e-5)
    assert torch.allclose(item, expected[40:] + model.item_emb.weight,
                          atol=1e-5)
    user_out, item_out = model()
    assert torch.allclose(user_out, model.predictor(user))
    assert torch.allclose(item_out, model.predictor(item))


def test_loss_without_dropout_matches_naive(data):
    model = BM3(data, embedding_dim=8, dropout=0.0, reg_weight=0.3,
                cl_weight=1.5)
    users, pos, neg = fixed_batch(data)
    user, item = model.encode()
    f = model.predictor
    expected = cos_loss(f(user[users]), item[pos]) + \
        cos_loss(f(item[pos]), user[users])
    for m, feat in zip(model.modalities, model.features):
        assert torch.equal(feat, data['item'][m])
        h = model.projections[model.modalities.index(m)](feat[pos])
        expected = expected + 1.5 * (cos_loss(f(h), item[pos]) +
                                     cos_loss(f(h), h))
    reg = (user.norm() + item.norm()) / 30
    expected = expected + 0.3 * reg
    assert torch.allclose(model.loss(users, pos, neg), expected, atol=1e-5)


def test_loss_uses_no_negatives(data):
    model = BM3(data, embedding_dim=8)
    users, pos, neg = fixed_batch(data)
    other = torch.randint(30, neg.shape)
    torch.manual_seed(3)
    a = model.loss(users, pos, neg)
    torch.manual_seed(3)
    b = model.loss(users, pos, other)
    assert torch.equal(a, b)
    # ...while the dropout-augmented targets do depend on the random state.
    assert not torch.equal(a, model.loss(users, pos, neg))


def test_targets_are_stop_gradient(data):
    model = BM3(data, embedding_dim=8, dropout=0.0, reg_weight=0.0,
                cl_weight=0.0)
    users, pos, neg = fixed_batch(data)
    model.loss(users, pos, neg).backward()
    grad = model.user_emb.weight.grad.clone()

    def reference(detach):
        model.zero_grad()
        user, item = model.encode()
        u, i = user[users], item[pos]
        tu, ti = (u.detach(), i.detach()) if detach else (u, i)
        f = model.predictor
        (cos_loss(f(u), ti) + cos_loss(f(i), tu)).backward()
        return model.user_emb.weight.grad.clone()

    assert torch.allclose(grad, reference(detach=True), atol=1e-6)
    assert not torch.allclose(grad, reference(detach=False), atol=1e-4)


def test_gradients_reach_every_parameter(data):
    model = BM3(data, embedding_dim=8)
    model.loss(*fixed_batch(data)).backward()
    assert_every_parameter_has_gradient(model)


def test_reset_restores_features_and_arguments(data):
    model = BM3(data, embedding_dim=8)
    with torch.no_grad():
        model.features[0].add_(1.0)
    model.reset_parameters()
    assert torch.equal(model.features[0], data['item']['image'])
    with pytest.raises(ValueError, match='dropout'):
        BM3(data, dropout=1.0)
    bare = featureless_data()
    with pytest.raises(ValueError, match='modalities'):
        BM3(bare)
    assert repr(create_model('bm3', data, embedding_dim=8)) == (
        "BM3(40, 30, modalities=['image', 'text', 'audio'], "
        "embedding_dim=8, num_layers=1)")


def test_short_training_beats_popularity():
    result, pop = fit_against_popularity(
        'bm3', short_run_data({'image': 32, 'text': 16}),
        short_run_config(), seed=0, embedding_dim=32)
    assert result.test['Recall@20'] > pop.test['Recall@20'] + 0.1


def test_state_dict_round_trip(data):
    assert_round_trip_with_rebuilt_graphs(lambda: BM3(data, embedding_dim=8))


def test_projection_init_reference_or_xavier():
    data = make_synthetic(num_users=30, num_items=20, interactions_per_user=5,
                          modality_dims={'image': 200, 'text': 300}, seed=0)
    bound = 300 ** -0.5  # torch.nn.Linear's default: U(-1/sqrt(in), ...)
    xavier_std = {'image': (2 / (200 + 64)) ** 0.5,
                  'text': (2 / (300 + 64)) ** 0.5}
    for init in ('reference', 'xavier'):
        torch.manual_seed(0)
        model = BM3(data, embedding_dim=64, projection_init=init)
        weights = dict(zip(model.modalities,
                           (p.weight for p in model.projections)))
        # The image projection is Xavier-normal either way.
        assert weights['image'].std().item() == pytest.approx(
            xavier_std['image'], rel=0.05)
        text = weights['text']
        if init == 'reference':  # the toolbox leaves text_trs at default
            assert text.abs().max().item() <= bound
            assert text.std().item() == pytest.approx(bound / 3 ** 0.5,
                                                      rel=0.05)
        else:
            assert text.std().item() == pytest.approx(xavier_std['text'],
                                                      rel=0.05)
    with pytest.raises(ValueError, match="'projection_init' must be one of"):
        BM3(data, projection_init='normal')
