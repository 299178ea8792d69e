"""Two Gloo processes on this machine train one model together."""
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from lirdrec_pyg.models import create_model
from lirdrec_pyg.train.trainer import CHECKPOINT, Trainer, seed_everything
from tests.distributed.workers import (MODELS, free_port, small_data,
                                       train_config, worker)


@pytest.fixture(scope='module')
def ranks(tmp_path_factory):
    # Two processes of a few seconds each on a quiet machine; the timeout
    # leaves room for a machine shared with other jobs.
    out = tmp_path_factory.mktemp('two_ranks')
    # The checkpoint of one process after epoch 1, for the ranks to resume.
    data = small_data()
    seed_everything(0)
    Trainer(create_model('lirdrec', data), data, train_config(epochs=1),
            out_dir=out / 'from_one').fit()
    mp.spawn(worker, args=(2, free_port(), str(out)), nprocs=2, join=True)
    return [torch.load(out / f'rank{r}.pt', weights_only=False)
            for r in range(2)]


@pytest.fixture(scope='module')
def one_process_checkpoint(tmp_path_factory):
    data = small_data()
    out = tmp_path_factory.mktemp('one_process')
    seed_everything(0)
    Trainer(create_model('lirdrec', data), data, train_config(),
            out_dir=out).fit()
    return torch.load(out / CHECKPOINT, weights_only=True)


@pytest.fixture(scope='module')
def one_process():
    data = small_data()
    out = {}
    for name in MODELS:
        seed_everything(0)
        trainer = Trainer(create_model(name, data), data, train_config())
        out[name] = (trainer.fit(), trainer.model.state_dict())
    return out


pytestmark = pytest.mark.timeout(1800)


@pytest.mark.parametrize('name', MODELS)
def test_one_step_gradient_equals_one_process(ranks, name):
    for rank in ranks:
        g = rank['gradients'][name]
        # The shares of the loss add up to the loss of the whole batch, and
        # the summed gradients to its gradient.
        assert g['loss_sharded'] == pytest.approx(g['loss_full'], abs=1e-6)
        assert g['grad_scale'] > 1e-4
        assert g['grad_diff'] <= 1e-5


def test_gradient_buckets_sum_over_ranks_in_order(ranks):
    for rank in ranks:
        b = rank['buckets']
        # Reverse parameter order, a new bucket once one holds 5 entries.
        assert b['sizes'] == [[5], [2, 4], [3]]
        # The first bucket left during the backward pass; the second never
        # completes (its unused parameter gets zeros in wait()), and the
        # third, complete, waits for it: the order is kept.
        assert b['launched_in_backward'] == 1
        assert b['equal']


def test_bipartite_propagation_of_two_ranks_is_the_propagation(ranks):
    for rank in ranks:
        for case in ('2_sum', '3_mean'):
            assert rank['bipartite'][case]['forward'] <= 1e-6
            assert rank['bipartite'][case]['backward'] <= 1e-6


def test_gather_items_with_and_without_padding(ranks):
    for r, rank in enumerate(ranks):
        for num_items, block in ((6, 3), (7, 3 + r)):
            g = rank['gathers'][num_items]
            assert g['rows'] == list(range(num_items))
            assert g['grad'] == [3.0] * block


@pytest.mark.parametrize('name', MODELS)
def test_parameters_identical_across_ranks(ranks, name):
    a, b = ranks[0][f'state_{name}'], ranks[1][f'state_{name}']
    assert a.keys() == b.keys()
    for key in a:
        # Bit for bit: the same update from the same summed gradient.
        assert torch.equal(a[key], b[key]), key
    if name == 'lirdrec':  # PWC's schedule and copied attention included
        assert {'pwc.theta', 'pwc.w1', 'pwc.last_alpha',
                'pwc.last_epoch'} <= a.keys()
        assert int(a['pwc.last_epoch']) == 2


@pytest.mark.parametrize('name', MODELS)
def test_training_matches_one_process(ranks, one_process, name):
    fit, state = one_process[name]
    two = ranks[0]['fit'][name]
    assert two == ranks[1]['fit'][name]  # every rank reports the same
    # The same computation up to the order of floating-point sums.
    assert two['losses'] == pytest.approx(
        [r['loss'] for r in fit.history], rel=1e-4)
    for key, value in state.items():
        assert torch.allclose(ranks[0][f'state_{name}'][key].float(),
                              value.float(), atol=1e-4), key
    for metric in ('Recall@20', 'NDCG@20'):
        assert two['test'][metric] == pytest.approx(fit.test[metric],
                                                    abs=0.01)


def test_resume_continues_like_one_uninterrupted_run(ranks):
    for rank in ranks:
        resumed, straight = rank['state_resumed'], rank['state_lirdrec']
        for key in straight:
            assert torch.allclose(resumed[key], straight[key],
                                  atol=1e-6), key
    # Only rank 0 wrote; the folder holds one checkpoint and one best model.
    assert ranks[0]['files'] == ['best_model.pt', 'checkpoint.pt']


def test_checkpoint_optimizer_state_is_the_one_process_state(
        ranks, one_process_checkpoint, tmp_path_factory):
    # Rank 0's checkpoint after 2 epochs holds the whole Adam state (the
    # per-user rows gathered from both ranks), as one process writes it.
    run = Path(ranks[0]['run_dir'])
    two = torch.load(run / CHECKPOINT, weights_only=True)['optimizer']
    one = one_process_checkpoint['optimizer']
    assert two['param_groups'] == one['param_groups']
    assert two['state'].keys() == one['state'].keys()
    for i, entry in one['state'].items():
        assert torch.equal(two['state'][i]['step'], entry['step'])
        for key in ('exp_avg', 'exp_avg_sq'):
            assert two['state'][i][key].shape == entry[key].shape
            assert torch.allclose(two['state'][i][key], entry[key],
                                  rtol=1e-3, atol=1e-7), (i, key)


def test_two_processes_resume_a_one_process_checkpoint(ranks):
    for rank in ranks:
        resumed, straight = rank['state_from_one'], rank['state_lirdrec']
        for key in straight:
            assert torch.allclose(resumed[key].float(),
                                  straight[key].float(), atol=1e-4), key
    for key, value in ranks[0]['state_from_one'].items():
        assert torch.equal(value, ranks[1]['state_from_one'][key]), key


def test_other_models_refuse_clearly(ranks):
    assert 'FREEDOM runs in one process only' in ranks[0]['refusal']
