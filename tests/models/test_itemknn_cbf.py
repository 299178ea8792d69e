import pytest
import torch
from torch_geometric.data import HeteroData

from lirdrec_pyg.data import make_synthetic
from lirdrec_pyg.models import ItemKNNCBF, create_model
from lirdrec_pyg.train import TrainConfig, Trainer


def _toy(num_users=6, num_items=9):
    data = HeteroData()
    data['user'].num_nodes = num_users
    data['item'].num_nodes = num_items
    mask = torch.rand(num_users, num_items) < 0.4
    mask[:, 0] = True
    data['user', 'interacts', 'item'].edge_index = mask.nonzero().t()
    data['item'].image = torch.randn(num_items, 5)
    data['item'].audio = torch.randn(num_items, 3) * 10
    data.modalities = ['image', 'audio']
    return data


def _naive_scores(data, modalities):
    num_users, num_items = data['user'].num_nodes, data['item'].num_nodes
    items = [[] for _ in range(num_users)]
    for u, i in data['user', 'interacts', 'item'].edge_index.t().tolist():
        items[u].append(i)
    scores = torch.zeros(num_users, num_items)
    for u in range(num_users):
        for i in range(num_items):
            for j in items[u]:
                cos = [torch.nn.functional.cosine_similarity(
                    data['item'][m][i], data['item'][m][j], dim=0)
                    for m in modalities]
                scores[u, i] += sum(cos) / len(cos)
    return scores


@pytest.mark.parametrize('modalities', [None, ['audio']])
def test_scores_equal_naive_loop(modalities):
    data = _toy()
    model = ItemKNNCBF(data, modalities=modalities)
    state = model.inference()
    users = torch.arange(data['user'].num_nodes)
    expected = _naive_scores(data, modalities or data.modalities)
    assert torch.allclose(model.score(state, users), expected, atol=1e-5)
    assert model.trainable is False
    assert str(model) == ("ItemKNNCBF(6, 9, modalities="
                          f"{modalities or ['image', 'audio']})")


def test_argument_checks():
    data = _toy()
    with pytest.raises(ValueError, match="'modalities'"):
        ItemKNNCBF(data, modalities=['text'])
    data.modalities = []
    with pytest.raises(ValueError, match='no modalities'):
        ItemKNNCBF(data)


def test_beats_popularity_on_synthetic():
    data = make_synthetic(num_users=300, num_items=200, seed=0)
    cfg = TrainConfig(epochs=1, progress=False)
    pop = Trainer(create_model('popularity', data), data, cfg).fit()
    knn = Trainer(create_model('itemknn_cbf', data), data, cfg).fit()
    assert knn.test['Recall@20'] > pop.test['Recall@20']
    assert knn.test['NDCG@20'] > pop.test['NDCG@20']
