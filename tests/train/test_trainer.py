
import pytest
import torch

from lirdrec_pyg.models import create_model
from lirdrec_pyg.train import TrainConfig, Trainer, seed_everything
from lirdrec_pyg.train.trainer import CHECKPOINT, make_adam
from tests.train.helpers import fit, small_data


@pytest.fixture(scope='module')
def data():
    return small_data()


class Interrupt(Exception):
    pass


def test_resume_gives_the_uninterrupted_result(data, tmp_path):
    full, _ = fit(data, out_dir=tmp_path / 'full')

    # Kill the run inside epoch 4: epochs 1-3 are checkpointed.
    calls = {'n': 0}
    original = Trainer._train_epoch

    def dying(self, epoch, sampler, optimizer):
        if epoch == 4:
            raise Interrupt()
        calls['n'] += 1
        return original(self, epoch, sampler, optimizer)

    Trainer._train_epoch = dying
    try:
        with pytest.raises(Interrupt):
            fit(data, out_dir=tmp_path / 'cut')
    finally:
        Trainer._train_epoch = original
    saved = torch.load(tmp_path / 'cut' / CHECKPOINT, weights_only=False)
    assert saved['trainer']['epoch'] == 3

    resumed, _ = fit(data, out_dir=tmp_path / 'cut', resume=True)
    assert resumed.epochs == full.epochs == 6
    assert resumed.best_epoch == full.best_epoch
    assert resumed.test == full.test
    assert resumed.valid == full.valid


def test_same_seed_same_result_and_seed_matters(data):
    a, _ = fit(data, epochs=2)
    b, _ = fit(data, epochs=2)
    c, _ = fit(data, epochs=2, seed=8)
    assert a.test == b.test
    assert a.history[-1]['loss'] != c.history[-1]['loss']


def test_early_stopping_and_best_epoch(data):
    result, _ = fit(data, epochs=200, lr=0.5, patience=2)
    assert result.stopped_early
    assert result.epochs == result.best_epoch + 2
    best = max(h['valid']['Recall@20'] for h in result.history)
    assert result.valid['Recall@20'] == best


def test_training_beats_popularity(data):
    pop, _ = fit(data, model='popularity')
    trained, _ = fit(data, epochs=30, lr=1e-2)
    assert pop.epochs == 0
    assert trained.test['Recall@20'] > 1.3 * pop.test['Recall@20']


def test_config_checks():
    with pytest.raises(ValueError, match=r"unknown train key\(s\) \['lrr'\]"):
        TrainConfig.from_dict({'lrr': 1e-3})
    with pytest.raises(ValueError, match='train.batch_size must be a '
                       'positive integer'):
        TrainConfig(batch_size=0)
    with pytest.raises(ValueError, match=r"train.valid_metric must be .*"
                       r"\(got 'Recall@30'\)"):
        TrainConfig(valid_metric='Recall@30')
    with pytest.raises(ValueError, match=r"Metric in \['Recall'.*"
                       r"\(got 'Foo@20'\)"):
        TrainConfig(valid_metric='Foo@20')
    with pytest.raises(ValueError, match="train.lr must be a number "
                       r"\(got 'abc'\)"):
        TrainConfig(lr='abc')
    with pytest.raises(ValueError, match=r"train.negatives must be one of "
                       r"\['train_items', 'all_items'\]"):
        TrainConfig(negatives='some')


def test_nan_loss_is_reported(data):
    seed_everything(0)
    net = create_model('bpr', data)
    net.loss = lambda u, p, n: torch.tensor(float('nan'), requires_grad=True)
    trainer = Trainer(net, data, TrainConfig(epochs=1, progress=False))
    with pytest.raises(FloatingPointError, match='at epoch 1, batch 0'):
        trainer.fit()


def test_make_adam_is_fused_and_equals_the_loop():
    torch.manual_seed(0)
    a = torch.nn.Linear(6, 4)
    b = torch.nn.Linear(6, 4)
    b.load_state_dict(a.state_dict())
    fused = make_adam(a.parameters(), lr=1e-2, weight_decay=1e-3)
    loop = torch.optim.Adam(b.parameters(), lr=1e-2, weight_decay=1e-3,
                            foreach=False)
    assert fused.defaults['fused']
    x = torch.randn(16, 6)
    for _ in range(5):
        for model, opt in ((a, fused), (b, loop)):
            opt.zero_grad()
            model(x).pow(2).sum().backward()
            opt.step()
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.allclose(p, q, atol=1e-6)
