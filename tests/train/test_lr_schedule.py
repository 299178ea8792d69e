import math

import pytest
import torch

from lirdrec_pyg.train import TrainConfig, Trainer
from lirdrec_pyg.train.trainer import CHECKPOINT, learning_rate

from tests.train.test_trainer import Interrupt, data, fit  # noqa: F401


def test_learning_rate_by_hand():
    cfg = TrainConfig(lr=1e-3, lr_decay=0.96, lr_decay_step=50)
    # The toolbox's LambdaLR factor 0.96 ** (epoch_index / 50), epoch_index
    # counted from 0, stepped after each epoch.
    assert learning_rate(cfg, 1) == 1e-3
    assert math.isclose(learning_rate(cfg, 51), 0.96e-3, rel_tol=1e-12)
    assert math.isclose(learning_rate(cfg, 26), 1e-3 * math.sqrt(0.96),
                        rel_tol=1e-12)
    assert math.isclose(learning_rate(cfg, 101), 1e-3 * 0.9216,
                        rel_tol=1e-12)
    assert learning_rate(TrainConfig(lr=2e-3), 500) == 2e-3


def test_learning_rate_matches_torch_lambda_lr():
    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=1e-2)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda e: 0.5 ** (e / 3))
    cfg = TrainConfig(lr=1e-2, lr_decay=0.5, lr_decay_step=3)
    for epoch in range(1, 11):
        assert math.isclose(opt.param_groups[0]['lr'],
                            learning_rate(cfg, epoch), rel_tol=1e-12)
        opt.step()
        sched.step()


def test_trainer_uses_the_schedule(data, tmp_path):  # noqa: F811
    seen = []
    original = Trainer._train_epoch

    def spy(self, epoch, sampler, optimizer):
        loss = original(self, epoch, sampler, optimizer)
        seen.append(optimizer.param_groups[0]['lr'])
        return loss

    Trainer._train_epoch = spy
    try:
        fit(data, epochs=4, lr=8e-3, lr_decay=0.5, lr_decay_step=2)
    finally:
        Trainer._train_epoch = original
    expected = [8e-3, 8e-3 * 0.5 ** 0.5, 4e-3, 4e-3 * 0.5 ** 0.5]
    assert seen == pytest.approx(expected, rel=1e-12)


def test_resume_across_a_decay_step(data, tmp_path):  # noqa: F811
    kwargs = dict(epochs=5, lr=8e-3, lr_decay=0.25, lr_decay_step=2)
    full, full_net = fit(data, out_dir=tmp_path / 'full', **kwargs)
    constant, _ = fit(data, epochs=5, lr=8e-3)
    assert full.history[-1]['loss'] != constant.history[-1]['loss']

    # Die inside epoch 3, the first epoch after the rate has decayed.
    original = Trainer._train_epoch

    def dying(self, epoch, sampler, optimizer):
        if epoch == 3:
            raise Interrupt()
        return original(self, epoch, sampler, optimizer)

    Trainer._train_epoch = dying
    try:
        with pytest.raises(Interrupt):
            fit(data, out_dir=tmp_path / 'cut', **kwargs)
    finally:
        Trainer._train_epoch = original
    saved = torch.load(tmp_path / 'cut' / CHECKPOINT, weights_only=False)
    assert saved['trainer']['epoch'] == 2
    assert saved['optimizer']['param_groups'][0]['lr'] == pytest.approx(
        8e-3 * 0.25 ** 0.5)

    resumed, resumed_net = fit(data, out_dir=tmp_path / 'cut', resume=True,
                               **kwargs)
    assert [h['loss'] for h in resumed.history] == [
        h['loss'] for h in full.history]
    assert resumed.test == full.test
    for a, b in zip(full_net.state_dict().values(),
                    resumed_net.state_dict().values()):
        assert torch.equal(a, b)


def test_lr_decay_checks():
    with pytest.raises(ValueError, match=r'train.lr_decay must lie in'):
        TrainConfig(lr_decay=0.0)
    with pytest.raises(ValueError, match='train.lr_decay_step must be a '
                       'positive integer'):
        TrainConfig(lr_decay_step=0)
