import math

import pytest
import torch
import torch.nn.functional as F
from torch_geometric.data import HeteroData

from lirdrec_pyg.models import DRAGON
from lirdrec_pyg.train import TrainConfig
from lirdrec_pyg.transforms import get_item_graph, get_ui_adjacency
from tests.models.helpers import (assert_every_parameter_has_gradient,
                                  assert_round_trip_from_other_init,
                                  fit_against_popularity, popularity_config,
                                  random_batch, short_run_data)


def _hand_made():
    # user 0: {0, 1, 2}, user 1: {1, 2}, user 2: {2, 3}, user 3: {4}
    data = HeteroData()
    data['user'].num_nodes = 4
    data['item'].num_nodes = 5
    data['user', 'interacts', 'item'].edge_index = torch.tensor(
        [[0, 0, 0, 1, 1, 2, 2, 3], [0, 1, 2, 1, 2, 2, 3, 4]])
    data['item'].image = torch.randn(5, 6)
    data['item'].text = torch.randn(5, 4)
    data['item'].audio = torch.randn(5, 3)
    data.modalities = ['image', 'text', 'audio']
    return data


def test_user_cooccurrence_graph_on_hand_made_case():
    model = DRAGON(_hand_made(), knn_k=2, user_k=5)
    e1, e2 = math.exp(1.0), math.exp(2.0)
    expected = torch.tensor([
        [0.0, e2 / (e2 + e1), e1 / (e2 + e1), 0.0],
        [e2 / (e2 + e1), 0.0, e1 / (e2 + e1), 0.0],
        [0.5, 0.5, 0.0, 0.0],
        [0.0, 0.0, 0.0, 0.0],  # user 3 shares no item with anyone
    ])
    assert torch.allclose(model.user_adj.to_dense(), expected)
    model = DRAGON(_hand_made(), knn_k=2, user_k=1)
    expected = torch.tensor([[0.0, 1, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0],
                             [0, 0, 0, 0]])
    assert torch.equal(model.user_adj.to_dense(), expected)


def test_forward_matches_dense_equations():
    data = _hand_made()
    model = DRAGON(data, embedding_dim=4, knn_k=2, user_k=5)
    adj = get_ui_adjacency(data).to_dense()
    item_adj = get_item_graph(data, k=2).to_dense()
    users, items = [], []
    for k, m in enumerate(model.modalities):
        x = torch.cat([model.preferences[m],
                       model.mlps[m](data['item'][m])])
        x = F.normalize(x, dim=-1)
        z = x + adj @ x + adj @ adj @ x
        users.append(model.user_modality_weight[:, k:k + 1] * z[:4])
        items.append(z[4:])
    user, item = torch.cat(users, -1), torch.cat(items, -1)
    user = user + model.user_adj.to_dense() @ user
    item = item + item_adj @ item
    got_user, got_item = model.inference()
    assert got_user.shape == (4, 12)
    assert torch.allclose(got_user, user.detach(), atol=1e-5)
    assert torch.allclose(got_item, item.detach(), atol=1e-5)
    assert str(model) == ("DRAGON(4, 5, embedding_dim=4, modalities="
                          "['image', 'text', 'audio'], knn_k=2, user_k=5)")


def test_gradients_reach_every_parameter(small):
    model = DRAGON(small)
    model.loss(*random_batch(small)).backward()
    assert_every_parameter_has_gradient(model)
    # Item features are fixed inputs, not parameters.
    assert not any('feature' in name for name, _ in model.named_parameters())


def test_state_dict_round_trip(small):
    assert_round_trip_from_other_init(lambda: DRAGON(small))


def test_argument_checks(small):
    with pytest.raises(ValueError, match="'user_k'"):
        DRAGON(small, user_k=0)
    data = _hand_made()
    data.modalities = []
    with pytest.raises(ValueError, match='no modalities'):
        DRAGON(data)


def test_beats_popularity_on_synthetic():
    config = TrainConfig(epochs=8, lr=5e-3, progress=False)
    result, pop = fit_against_popularity(
        'dragon', short_run_data(), config,
        popularity_config=popularity_config())
    assert result.test['Recall@20'] > pop.test['Recall@20']
    assert result.test['NDCG@20'] > pop.test['NDCG@20']
