import pytest
import torch
import torch.nn.functional as F

from lirdrec_pyg.data import build_hetero_data
from lirdrec_pyg.models.mmgcn import MMGCN, MMGCNLayer
from lirdrec_pyg.nn.graph_conv import EdgeGraph
from lirdrec_pyg.train import TrainConfig
from tests.models.helpers import (assert_every_parameter_has_gradient,
                                  fit_against_popularity, popularity_config,
                                  short_run_data)

# 3 users, 4 items; item 3 has no interaction.
EDGES = torch.tensor([[0, 0, 1, 2, 2], [0, 1, 1, 0, 2]])


def _data(num_modalities=3):
    dims = [5, 3, 4][:num_modalities]
    names = ['image', 'text', 'audio'][:num_modalities]
    features = {m: torch.randn(4, d) for m, d in zip(names, dims)}
    return build_hetero_data(3, 4, EDGES, EDGES, EDGES, features=features)


def _neighbours(num_users):
    nbrs = {}
    for u, i in EDGES.t().tolist():
        nbrs.setdefault(u, []).append(num_users + i)
        nbrs.setdefault(num_users + i, []).append(u)
    return nbrs


def _naive_layer(layer, x, id_emb, nbrs):
    rows = []
    for v in range(x.size(0)):
        if v in nbrs:
            mean = sum(x[u] for u in nbrs[v]) / len(nbrs[v])
        else:
            mean = torch.zeros_like(x[v])
        h = F.leaky_relu(layer.conv.weight @ mean)
        x_hat = F.leaky_relu(layer.linear.weight @ x[v] + layer.linear.bias)
        x_hat = x_hat + id_emb[v]
        if layer.combination == 'concat':
            rows.append(F.leaky_relu(layer.gate.weight @ torch.cat([h, x_hat])
                                     + layer.gate.bias))
        else:
            rows.append(F.leaky_relu(layer.gate.weight @ h + layer.gate.bias
                                     + x_hat))
    return torch.stack(rows)


@pytest.mark.parametrize('combination', ['concat', 'add'])
def test_layer_matches_naive_mean_aggregation(combination):
    model = MMGCN(_data(1), embedding_dim=4, num_layers=1, latent_dim=None,
                  combination=combination)
    layer = MMGCNLayer(6, 4, combination)
    x, id_emb = torch.randn(7, 6), torch.randn(7, 4)
    out = layer(x, model.graph, model.mean_weight, id_emb)
    expected = _naive_layer(layer, x, id_emb, _neighbours(3))
    assert torch.allclose(out, expected, atol=1e-5)


def test_output_is_sum_of_modality_networks():
    data = _data(3)
    model = MMGCN(data, embedding_dim=4, num_layers=2, latent_dim=6,
                  combine='sum', project_all=True)
    nbrs = _neighbours(3)
    expected = 0
    for m in ('image', 'text', 'audio'):
        gcn = model.gcns[m]
        items = gcn.projection(data['item'][m])
        x = F.normalize(torch.cat([gcn.preference, items]), dim=-1)
        for layer in gcn.layers:
            x = _naive_layer(layer, x, model.id_embedding.weight, nbrs)
        expected = expected + x
    users, items = model()
    assert torch.allclose(users, expected[:3], atol=1e-5)
    assert torch.allclose(items, expected[3:], atol=1e-5)
    single = model.modality_outputs()
    assert len(single) == 3
    assert torch.allclose(torch.cat([users, items]), sum(single), atol=1e-6)


def test_toolbox_defaults_average_project_the_first_and_freeze():
    data = _data(3)
    model = MMGCN(data, embedding_dim=4, num_layers=2, latent_dim=6)
    # Only the first modality is projected; the others enter raw.
    assert model.gcns['image'].projection.out_features == 6
    assert model.gcns['text'].projection is None
    assert model.gcns['audio'].preference.shape == (3, 4)
    users, items = model()
    mean = sum(model.modality_outputs()) / 3
    assert torch.allclose(torch.cat([users, items]), mean, atol=1e-6)
    # ID embeddings and preferences keep their initialisation in training.
    frozen = {'id_embedding.weight', *(f'gcns.{m}.preference'
                                       for m in model.gcns)}
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    for _ in range(2):
        optimizer.zero_grad()
        model.loss(torch.tensor([0, 1]), torch.tensor([0, 1]),
                   torch.tensor([3, 2])).backward()
        optimizer.step()
    for name, value in model.named_parameters():
        assert torch.equal(value, before[name]) == (name in frozen), name
    assert frozen <= set(model.state_dict())  # still checkpointed


def test_loss_regulariser(tiny_data):
    model = MMGCN(tiny_data, embedding_dim=4, latent_dim=8, reg_weight=0.0)
    users, pos, neg = torch.tensor([0, 1]), torch.tensor([2, 3]), \
        torch.tensor([4, 5])
    base = model.loss(users, pos, neg)
    model.reg_weight = 1.0
    ego = model.id_embedding.weight.detach()
    reg = (ego[users].square().mean() + 0.5 * (
        ego[60 + pos].square().mean() + ego[60 + neg].square().mean()))
    reg = reg + sum(g.preference.square().mean() for g in model.gcns.values())
    assert torch.isclose(model.loss(users, pos, neg), base + reg, atol=1e-5)


def test_gradients_reach_every_parameter(tiny_data):
    model = MMGCN(tiny_data, embedding_dim=8, latent_dim=8,
                  train_embeddings=True)
    model.loss(torch.arange(30), torch.arange(30) % 40,
               torch.arange(10, 40)).backward()
    assert_every_parameter_has_gradient(model)


def test_argument_checks_and_repr(tiny_data):
    with pytest.raises(ValueError, match="'combination'"):
        MMGCN(tiny_data, combination='mean')
    with pytest.raises(ValueError, match="'combine'"):
        MMGCN(tiny_data, combine='max')
    with pytest.raises(ValueError, match="'num_layers'"):
        MMGCN(tiny_data, num_layers=0)
    no_features = build_hetero_data(2, 2, torch.tensor([[0, 1], [0, 1]]))
    with pytest.raises(ValueError, match='needs item features'):
        MMGCN(no_features)
    model = MMGCN(tiny_data, embedding_dim=8, latent_dim=8)
    assert repr(model) == ("MMGCN(60, 40, modalities=['image', 'text'], "
                           "embedding_dim=8, num_layers=3)")
    assert isinstance(model.graph, EdgeGraph)
    assert not any(k.startswith(('graph.', 'feat_', 'mean_weight'))
                   for k in model.state_dict())


def test_beats_popularity_on_synthetic():
    config = TrainConfig(epochs=4, lr=1e-2, batch_size=512,
                    progress=False)
    result, pop = fit_against_popularity(
        'mmgcn', short_run_data(), config,
        popularity_config=popularity_config())
    assert result.test['Recall@20'] > pop.test['Recall@20']
    assert result.test['NDCG@20'] > pop.test['NDCG@20']


def test_reference_initialisation_is_the_toolboxs():
    torch.manual_seed(0)
    model = MMGCN(_data(2), embedding_dim=64, num_layers=3, latent_dim=32)
    gcn = model.gcns['image']
    # torch's Linear default: U(+-1/sqrt(fan_in)) for weights and biases.
    for lin in (gcn.projection, gcn.layers[1].gate, gcn.layers[2].gate):
        bound = lin.weight.size(1) ** -0.5
        assert lin.weight.abs().max() <= bound
        assert 0 < lin.bias.abs().max() <= bound
    # Xavier-normal weights elsewhere (std sqrt(2 / (fan_in + fan_out))).
    for lin in (gcn.layers[0].gate, gcn.layers[1].linear, gcn.layers[2].conv):
        std = (2 / sum(lin.weight.shape)) ** 0.5
        assert abs(lin.weight.std().item() / std - 1) < 0.1
    xavier = MMGCN(_data(2), embedding_dim=64, latent_dim=32,
                   weight_init='xavier')
    assert torch.count_nonzero(xavier.gcns['image'].projection.bias) == 0
    assert all(torch.count_nonzero(layer.gate.bias) == 0
               for layer in xavier.gcns['text'].layers)
    with pytest.raises(ValueError, match="'weight_init'"):
        MMGCN(_data(2), weight_init='uniform')
