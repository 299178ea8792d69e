import torch

from lirdrec_pyg.models import BPR, LightGCN
from tests.models.helpers import assert_every_parameter_has_gradient


def test_lightgcn_forward_is_mean_of_dense_layers(tiny_data):
    model = LightGCN(tiny_data, embedding_dim=8, num_layers=2)
    dense = model.adj.to_dense()
    e0 = model.embedding.weight
    expected = (e0 + dense @ e0 + dense @ dense @ e0) / 3
    users, items = model()
    assert torch.allclose(torch.cat([users, items]), expected, atol=1e-5)


def test_gradients_reach_every_parameter(tiny_data):
    for model in (BPR(tiny_data), LightGCN(tiny_data)):
        loss = model.loss(torch.tensor([0, 1]), torch.tensor([0, 1]),
                          torch.tensor([2, 3]))
        loss.backward()
        assert_every_parameter_has_gradient(model)


def test_reprs(tiny_data):
    assert repr(LightGCN(tiny_data, num_layers=3)) == (
        'LightGCN(60, 40, embedding_dim=64, num_layers=3)')
    assert repr(BPR(tiny_data)) == 'BPR(60, 40, embedding_dim=64)'


def test_graph_moves_with_model(tiny_data):
    model = LightGCN(tiny_data)
    model = model.to(torch.float64)
    assert model.adj.dtype == torch.float64
    assert 'adj' not in model.state_dict()

