"""The CUDA paths: every test here needs a GPU and is skipped without one
(they are not counted as passes); ``benchmarks/gpu_check.sh`` runs them on a
GPU machine."""
import pytest
import torch

from lirdrec_pyg.data import UI, BPRSampler, make_synthetic
from lirdrec_pyg.distributed import resolve_device
from lirdrec_pyg.models import create_model
from lirdrec_pyg.nn import LightGCNPropagation
from lirdrec_pyg.train import FullRankingEvaluator
from lirdrec_pyg.train.trainer import (TrainConfig, Trainer, make_adam,
                                       seed_everything)
from lirdrec_pyg.transforms.adjacency import get_ui_adjacency

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(),
                       reason='needs a CUDA device (run '
                       'benchmarks/gpu_check.sh on a GPU machine)'),
]

MODELS = ('lirdrec', 'lightgcn', 'bpr')


@pytest.fixture(scope='module')
def data():
    return make_synthetic(num_users=80, num_items=60, interactions_per_user=8,
                          modality_dims={'image': 16, 'text': 8}, seed=2)


def test_auto_device_is_cuda():
    assert resolve_device('auto').type == 'cuda'
    assert resolve_device('cuda', local_rank=0) == torch.device('cuda:0')


def test_sampler_on_cuda_draws_only_negatives(data):
    edge_index = data[UI].edge_index
    sampler = BPRSampler(edge_index.cuda(), 80, 60)
    users, pos, neg = sampler.sample(torch.Generator('cuda').manual_seed(0))
    assert users.is_cuda and neg.is_cuda
    assert sampler.contains(users, pos).all()
    assert not sampler.contains(users, neg).any()


def test_propagation_on_cuda_equals_cpu(data):
    adj = get_ui_adjacency(data)
    x = torch.randn(adj.size(0), 8, requires_grad=True)
    prop = LightGCNPropagation(2, 'mean')
    out = prop(x, adj)
    out.square().sum().backward()
    xc = x.detach().cuda().requires_grad_()
    outc = prop(xc, adj.cuda())
    outc.square().sum().backward()
    assert torch.allclose(outc.cpu(), out, atol=1e-5)
    assert torch.allclose(xc.grad.cpu(), x.grad, atol=1e-5)


@pytest.mark.parametrize('name', MODELS)
def test_loss_and_gradient_on_cuda_equal_cpu(data, name):
    seed_everything(0)
    cpu = create_model(name, data)
    seed_everything(0)
    gpu = create_model(name, data).cuda()
    users = torch.arange(40)
    pos = data[UI].edge_index[1][:40]
    neg = torch.randint(0, 60, (40, ))
    loss = cpu.loss(users, pos, neg)
    loss.backward()
    loss_gpu = gpu.loss(users.cuda(), pos.cuda(), neg.cuda())
    loss_gpu.backward()
    assert float(loss_gpu) == pytest.approx(float(loss), rel=1e-4)
    for a, b in zip(cpu.parameters(), gpu.parameters()):
        assert torch.allclose(b.grad.cpu(), a.grad, atol=1e-5)


@pytest.mark.parametrize('name', MODELS)
def test_training_step_never_waits_for_the_host(data, name):
    seed_everything(0)
    model = create_model(name, data).cuda()
    model.train()
    optimizer = make_adam(model.parameters(), 1e-3)
    users = torch.arange(40, device='cuda')
    pos = data[UI].edge_index[1][:40].cuda()
    neg = torch.randint(0, 60, (40, ), device='cuda')
    model.loss(users, pos, neg).backward()  # warm-up (lazy caches)
    optimizer.step()
    torch.cuda.set_sync_debug_mode('error')
    try:
        loss = model.loss(users, pos, neg)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    finally:
        torch.cuda.set_sync_debug_mode('default')


def test_evaluator_on_cuda_equals_cpu(data):
    evaluator = FullRankingEvaluator.from_data(data, 'test', ks=[5, 10])
    scores = torch.randn(80, 60)
    cpu = evaluator.evaluate(lambda users: scores[users].clone())
    gpu = evaluator.evaluate(lambda users: scores.cuda()[users.cuda()])
    assert gpu == pytest.approx(cpu, abs=1e-12)


@pytest.mark.parametrize('name', MODELS)
def test_trainer_on_cuda_matches_cpu(data, name):
    config = dict(epochs=3, batch_size=128, progress=False, ks=[5, 10])
    results = {}
    for device in ('cpu', 'cuda'):
        seed_everything(0)
        trainer = Trainer(create_model(name, data), data,
                          TrainConfig(device=device, **config))
        results[device] = trainer.fit()
        assert next(trainer.model.parameters()).device.type == device
    # Different random streams for the negatives on the GPU: close, not equal.
    assert results['cuda'].test['Recall@10'] == pytest.approx(
        results['cpu'].test['Recall@10'], abs=0.1)


@pytest.mark.parametrize('name', sorted(
    n for n in __import__('lirdrec_pyg.models', fromlist=['MODELS']).MODELS))
def test_every_model_runs_two_epochs_on_cuda(data, name):
    # Every tensor a model uses must have moved with it (buffers, graphs,
    # per-epoch rebuilt graphs); a CPU leftover fails here.
    seed_everything(0)
    trainer = Trainer(create_model(name, data), data,
                      TrainConfig(device='cuda', epochs=2, batch_size=128,
                                  progress=False, ks=[5, 10]))
    result = trainer.fit()
    assert 0.0 <= result.test['Recall@10'] <= 1.0
