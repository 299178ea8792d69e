import pytest
import torch

from lirdrec_pyg.models import create_model
from lirdrec_pyg.train import TrainConfig, Trainer
from lirdrec_pyg.train.row_adam import RowAdam
from lirdrec_pyg.train.sampled import (CombinedOptimizer,
                                       make_sampled_optimizer,
                                       make_subgraph_sampler,
                                       subgraph_batch_loss)
from lirdrec_pyg.train.trainer import CHECKPOINT
from tests.train import helpers
from tests.train.helpers import small_data


@pytest.fixture(scope='module')
def data():
    return small_data()


def fit(data, **train):
    return helpers.fit(data, **{'epochs': 4, 'mode': 'sampled',
                                'num_neighbors': 5, **train})


def test_sampled_training_beats_popularity(data):
    pop, _ = fit(data, model='popularity')
    trained, net = fit(data, epochs=30, lr=1e-2)
    assert trained.test['Recall@20'] > 1.3 * pop.test['Recall@20']


def test_sampled_lirdrec_trains(data):
    result, net = fit(data, model='lirdrec', epochs=3, lr=1e-3)
    losses = [h['loss'] for h in result.history]
    assert losses[-1] < losses[0]
    # Every batch adds its users' attention to the record that the next
    # epoch copies into theta: after an epoch, every user is recorded.
    users = data['user', 'interacts', 'item'].edge_index[0].unique()
    assert int(net.pwc.recorded.sum()) == users.numel()


def test_sampled_resume_gives_the_uninterrupted_result(data, tmp_path):
    full, _ = fit(data, out_dir=tmp_path / 'full')
    original = Trainer._train_epoch

    def dying(self, epoch, sampler, optimizer):
        if epoch == 3:
            raise KeyboardInterrupt()
        return original(self, epoch, sampler, optimizer)

    Trainer._train_epoch = dying
    try:
        with pytest.raises(KeyboardInterrupt):
            fit(data, out_dir=tmp_path / 'cut')
    finally:
        Trainer._train_epoch = original
    saved = torch.load(tmp_path / 'cut' / CHECKPOINT, weights_only=False)
    assert set(saved['optimizer']) == {'sparse'}
    resumed, _ = fit(data, out_dir=tmp_path / 'cut', resume=True)
    assert resumed.test == full.test
    assert [h['loss'] for h in resumed.history] == [
        h['loss'] for h in full.history]


def test_unsupported_model_refuses_the_sampled_mode(data):
    net = create_model('bpr', data)
    with pytest.raises(ValueError, match="train.mode='sampled' is not "
                       "supported by BPR"):
        Trainer(net, data, TrainConfig(mode='sampled', progress=False))


def test_config_checks_of_the_sampled_mode():
    with pytest.raises(ValueError, match="train.mode must be 'full' or "
                       "'sampled'"):
        TrainConfig(mode='minibatch')
    with pytest.raises(ValueError, match='train.num_neighbors'):
        TrainConfig(num_neighbors=0)
    with pytest.raises(ValueError, match='train.num_neighbors'):
        TrainConfig(num_neighbors=[10, 'all'])
    assert TrainConfig(mode='sampled', num_neighbors=[-1, 5]
                       ).num_neighbors == [-1, 5]


def test_a_fan_out_without_the_sampled_mode_is_a_warning(recwarn):
    TrainConfig(mode='sampled', num_neighbors=5)
    TrainConfig()
    assert len(recwarn) == 0
    with pytest.warns(UserWarning, match=r"train.num_neighbors=\[5, 5\] has "
                      r"no effect with train.mode='full'"):
        TrainConfig(num_neighbors=[5, 5])


def test_sampled_optimizer_splits_sparse_tables(data):
    net = create_model('lirdrec', data, embedding_dim=8)
    opt = make_sampled_optimizer(net, lr=1e-3)
    assert isinstance(opt, CombinedOptimizer)
    assert isinstance(opt.optimizers['sparse'], RowAdam)
    sparse = opt.optimizers['sparse'].param_groups[0]['params']
    assert len(sparse) == 1 and sparse[0] is net.user_preference
    dense = opt.optimizers['dense'].param_groups[0]['params']
    assert all(p is not net.user_preference for p in dense)
    assert len(sparse) + len(dense) == len(list(net.parameters()))
    with pytest.raises(ValueError, match='train.weight_decay must be 0'):
        make_sampled_optimizer(net, lr=1e-3, weight_decay=1e-5)
    with pytest.raises(ValueError, match='another train.mode'):
        opt.load_state_dict({'dense': {}})


@pytest.mark.parametrize('name', ['lightgcn', 'lirdrec'])
def test_row_adam_steps_equal_sparse_adam_steps(data, name):
    # The sampled mode's optimiser replaced SparseAdam with the same update:
    # the same seed gives the same subgraphs, losses and tables, to the bit.
    from lirdrec_pyg.data import BPRSampler
    from lirdrec_pyg.models.base import UI
    users, pos, neg = BPRSampler(
        data[UI].edge_index, data['user'].num_nodes,
        data['item'].num_nodes).sample(torch.Generator().manual_seed(0))
    runs = []
    for optimizer in (RowAdam, torch.optim.SparseAdam):
        torch.manual_seed(0)
        model = create_model(name, data)
        sampler = make_subgraph_sampler(model, data, [3] * model.num_hops)
        opt = make_sampled_optimizer(model, 0.01, sparse_optimizer=optimizer)
        losses = []
        for b in range(4):
            sl = slice(b * 32, (b + 1) * 32)
            loss = subgraph_batch_loss(model, sampler, users[sl], pos[sl],
                                       neg[sl])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss))
        runs.append((losses, [p.detach().clone()
                              for p in model.parameters()]))
    assert runs[0][0] == runs[1][0]
    assert all(torch.equal(a, b) for a, b in zip(runs[0][1], runs[1][1]))
