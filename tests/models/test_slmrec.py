import pytest
import torch

from lirdrec_pyg.models import create_model
from lirdrec_pyg.models.slmrec import SLMRec
from lirdrec_pyg.nn.contrastive import info_nce
from tests.models.helpers import (assert_every_parameter_has_gradient,
                                  assert_round_trip_with_rebuilt_graphs,
                                  featureless_data, fit_against_popularity,
                                  fixed_batch, short_run_config,
                                  short_run_data)


def naive_branches(model, adj_dense):
    r"""One dense LightGCN per branch (ID, then each modality)."""
    feats = [model.item_emb.weight] + [
        proj(torch.nn.functional.normalize(model.data_feats[m], dim=1))
        for m, proj in zip(model.modalities, model.projections)]
    outs = []
    for f in feats:
        x = torch.cat([model.user_emb.weight, f])
        layers, h = [x], x
        for _ in range(model.propagation.num_layers):
            h = adj_dense @ h
            layers.append(h)
        outs.append(torch.stack(layers).mean(0))
    return outs


def test_forward_matches_per_branch_lightgcn(data):
    model = SLMRec(data, embedding_dim=8, num_layers=2)
    model.data_feats = {m: data['item'][m] for m in model.modalities}
    assert model.num_branches == 4
    outs = naive_branches(model, model.adj.to_dense())
    fused = torch.cat(outs, dim=1)
    user, item = model()
    assert user.shape == (40, 8) and item.shape == (30, 8)
    assert torch.allclose(user, model.user_out(fused[:40]), atol=1e-5)
    assert torch.allclose(item, model.item_out(fused[40:]), atol=1e-5)

    mean = SLMRec(data, embedding_dim=8, num_layers=2, fusion='mean')
    mean.data_feats = model.data_feats
    outs = naive_branches(mean, mean.adj.to_dense())
    user, _ = mean()
    assert torch.allclose(user, mean.user_out(torch.stack(outs).mean(0)[:40]),
                          atol=1e-5)


def test_fac_loss_matches_naive_chain(data):
    model = SLMRec(data, embedding_dim=8, num_layers=1, ssl_weight=0.5,
                   ssl_temperature=0.4, temperature=0.3)
    # Spaces d, d, d/2 for three modalities.
    assert [h.out_features for h in model.fac_modality] == [8, 8, 4]
    users, pos, neg = fixed_batch(data)
    user, item = model()
    main = info_nce(user[users], item[pos], 0.3)
    branches = model._propagate(model._branch_inputs())[40:][pos]
    h = model.fac_id(branches[:, :8])
    ssl = 0.0
    for k in range(3):
        if k > 0:
            h = model.fac_chain[k - 1](h)
        z = model.fac_modality[k](branches[:, 8 * (k + 1):8 * (k + 2)])
        logits = h @ z.t() / 0.4
        ssl = ssl + torch.nn.functional.cross_entropy(logits,
                                                      torch.arange(16))
    expected = main + 0.5 * ssl
    assert torch.allclose(model.loss(users, pos, neg), expected, atol=1e-5)
    # The main loss is an in-batch InfoNCE: sampled negatives are unused.
    assert torch.equal(model.loss(users, pos, neg),
                       model.loss(users, pos, neg.flip(0)))


def test_feature_dropout_views_coincide_without_dropout(data):
    model = SLMRec(data, embedding_dim=8, ssl_task='fd', dropout=0.0,
                   ssl_temperature=0.5)
    users, pos, _ = fixed_batch(data)
    user, item = model()
    expected = (info_nce(user[users], user[users], 0.5) +
                info_nce(item[pos], item[pos], 0.5))
    assert torch.allclose(model._two_view_loss(users, pos), expected,
                          atol=1e-5)
    drop = SLMRec(data, embedding_dim=8, ssl_task='fd', dropout=0.5)
    drop.load_state_dict(model.state_dict())
    assert not torch.allclose(drop._two_view_loss(users, pos), expected)


def test_feature_masking_zeroes_one_branch_per_view(data):
    model = SLMRec(data, embedding_dim=8, ssl_task='fm', ssl_temperature=0.5)
    users, pos, _ = fixed_batch(data)
    torch.manual_seed(7)
    perm = torch.randperm(model.num_branches)
    inputs = model._branch_inputs()
    views = []
    for b in perm[:2].tolist():
        x = inputs.clone()
        x[:, 8 * b:8 * (b + 1)] = 0
        views.append(model._fuse(model._propagate(x)))
    (u1, i1), (u2, i2) = views
    expected = (info_nce(u1[users], u2[users], 0.5) +
                info_nce(i1[pos], i2[pos], 0.5))
    torch.manual_seed(7)
    assert torch.allclose(model._two_view_loss(users, pos), expected,
                          atol=1e-5)


@pytest.mark.parametrize('task', ['fac', 'fd', 'fm', 'fd+fm'])
def test_gradients_reach_every_parameter(data, task):
    model = SLMRec(data, embedding_dim=8, ssl_task=task)
    model.loss(*fixed_batch(data)).backward()
    assert_every_parameter_has_gradient(model)


def test_arguments_and_repr(data):
    with pytest.raises(ValueError, match='ssl_task'):
        SLMRec(data, ssl_task='xyz')
    with pytest.raises(ValueError, match='fusion'):
        SLMRec(data, fusion='sum')
    with pytest.raises(ValueError, match='dropout'):
        SLMRec(data, dropout=1.0)
    bare = featureless_data()
    with pytest.raises(ValueError, match='modalities'):
        SLMRec(bare)
    model = create_model('slmrec', data, embedding_dim=8)
    assert repr(model) == ("SLMRec(40, 30, modalities=['image', 'text', "
                           "'audio'], embedding_dim=8, num_layers=3, "
                           "ssl_task=fac)")


def test_short_training_beats_popularity():
    result, pop = fit_against_popularity(
        'slmrec', short_run_data({'image': 32, 'text': 16}),
        short_run_config(), seed=0, embedding_dim=32, num_layers=2)
    assert result.test['Recall@20'] > pop.test['Recall@20'] + 0.1


def test_state_dict_round_trip(data):
    assert_round_trip_with_rebuilt_graphs(
        lambda: SLMRec(data, embedding_dim=8))
