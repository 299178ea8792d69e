import pytest
import torch

from lirdrec_pyg.models import FREEDOM, create_model
from lirdrec_pyg.train import TrainConfig, Trainer
from lirdrec_pyg.transforms import get_item_graph, get_ui_adjacency
from tests.models.helpers import (assert_every_parameter_has_gradient,
                                  assert_round_trip_from_other_init,
                                  assert_reaches, fit_against_popularity,
                                  popularity_config, random_batch,
                                  short_run_data)


def test_forward_matches_dense_equations(small):
    model = FREEDOM(small, embedding_dim=8, num_mm_layers=2, num_ui_layers=2)
    num_users = small['user'].num_nodes
    adj = get_ui_adjacency(small).to_dense()
    item_adj = get_item_graph(small, k=10).to_dense()
    ego = torch.cat([model.user_emb.weight, model.item_emb.weight]).detach()
    mean = (ego + adj @ ego + adj @ adj @ ego) / 3
    h = item_adj @ item_adj @ model.item_emb.weight.detach()
    user, item = model.inference()
    assert torch.allclose(user, mean[:num_users], atol=1e-5)
    assert torch.allclose(item, mean[num_users:] + h, atol=1e-5)
    assert str(model) == ("FREEDOM(60, 40, embedding_dim=8, modalities="
                          "['image', 'text', 'audio'], knn_k=10, dropout=0.8)")


def test_each_epoch_trains_on_a_fresh_pruned_graph(small):
    model = FREEDOM(small, dropout=0.8)
    num_edges = small['user', 'interacts', 'item'].edge_index.size(1)
    torch.manual_seed(1)
    model.on_epoch_start(1)
    first = model.train_adj
    assert first._nnz() == 2 * int(num_edges * 0.2)
    torch.manual_seed(2)
    model.on_epoch_start(2)
    assert not torch.equal(first.col_indices(), model.train_adj.col_indices())
    # Training uses the pruned graph, evaluation the full one.
    u, i = model.forward(model.train_adj)
    u_full, _ = model.inference()
    assert not torch.allclose(u, u_full)
    assert torch.allclose(u_full, model.forward(model.adj)[0])


def test_item_graph_is_frozen(small):
    model = FREEDOM(small, reg_weight=1e-2)
    before = model.item_adj.values().clone()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    for epoch in (1, 2):
        model.on_epoch_start(epoch)
        optimizer.zero_grad()
        model.loss(*random_batch(small)).backward()
        optimizer.step()
    assert torch.equal(before, model.item_adj.values())
    assert torch.allclose(model.item_adj.to_dense(),
                          get_item_graph(small, k=10).to_dense())


def test_gradients_reach_every_parameter(small):
    model = FREEDOM(small, reg_weight=1e-3)
    model.on_epoch_start(1)
    model.loss(*random_batch(small)).backward()
    assert_every_parameter_has_gradient(model)
    assert set(model.projections) == {'image', 'text', 'audio'}


def test_state_dict_round_trip(small):
    assert_round_trip_from_other_init(lambda: FREEDOM(small))


def test_argument_checks(small):
    with pytest.raises(ValueError, match="'dropout'"):
        FREEDOM(small, dropout=1.0)
    with pytest.raises(ValueError, match="'embedding_dim'"):
        FREEDOM(small, embedding_dim=0)


def test_beats_popularity_on_synthetic():
    config = TrainConfig(epochs=15, lr=5e-3, progress=False)
    result, pop = fit_against_popularity(
        'freedom', short_run_data(), config,
        popularity_config=popularity_config(), reg_weight=1e-3)
    assert result.test['Recall@20'] > pop.test['Recall@20']
    assert result.test['NDCG@20'] > pop.test['NDCG@20']


@pytest.mark.slow
@pytest.mark.real_data
def test_lastfm2k_reaches_reference():
    from lirdrec_pyg.data import DatasetNotFoundError, load_dataset
    from lirdrec_pyg.train import seed_everything
    try:
        data = load_dataset('lastfm2k')
    except DatasetNotFoundError as e:
        pytest.skip(str(e))
    seed_everything(2024)
    model = create_model('freedom', data, reg_weight=0.0, dropout=0.8,
                         num_ui_layers=2)
    result = Trainer(model, data, TrainConfig(progress=False)).fit()
    # The public implementation: Recall@20 0.3877, NDCG@20 0.2661.
    assert_reaches(result.test, 0.3877, 0.2661)
