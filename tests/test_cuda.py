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
    config = dict(epochs=3, batch_size=128, progress=False, ks=[5, 10],
                  valid_metric='Recall@10')
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
                                  progress=False, ks=[5, 10],
                                  valid_metric='Recall@10'))
    result = trainer.fit()
    assert 0.0 <= result.test['Recall@10'] <= 1.0


def test_subgraph_sampler_on_cuda_equals_cpu_with_every_neighbour(data):
    from lirdrec_pyg.loader import BPRSubgraphSampler
    edge_index = data[UI].edge_index
    users, pos = torch.arange(20), edge_index[1][:20]
    neg = torch.randint(0, 60, (20, ))
    batches = {}
    for device in ('cpu', 'cuda'):
        sampler = BPRSubgraphSampler(edge_index, 80, 60, [-1, -1],
                                     device=device)
        assert sampler.rowptr.device.type == device
        # CPU ids are moved to the sampler's device.
        batches[device] = sampler.sample(users, pos, neg)
    cpu, gpu = batches['cpu'], batches['cuda']
    assert gpu.node.is_cuda and gpu.adj.is_cuda
    assert torch.equal(gpu.node.cpu(), cpu.node)
    assert torch.equal(gpu.adj.col_indices().cpu(), cpu.adj.col_indices())
    assert torch.allclose(gpu.adj.values().cpu(), cpu.adj.values())


def test_subgraph_sampler_refuses_a_generator_of_another_device(data):
    from lirdrec_pyg.loader import BPRSubgraphSampler
    with pytest.raises(ValueError, match="'generator' is on"):
        BPRSubgraphSampler(data[UI].edge_index, 80, 60, [3],
                           generator=torch.Generator(), device='cuda')


def test_sampled_draws_on_cuda_are_graph_edges(data):
    from lirdrec_pyg.loader import BPRSubgraphSampler
    edge_index = data[UI].edge_index
    sampler = BPRSubgraphSampler(
        edge_index, 80, 60, [3, 2], device='cuda',
        generator=torch.Generator('cuda').manual_seed(0))
    batch = sampler.sample(torch.arange(30), edge_index[1][:30],
                           torch.randint(0, 60, (30, )))
    node = batch.node.cpu()
    crow, col = batch.adj.crow_indices().cpu(), batch.adj.col_indices().cpu()
    row = torch.arange(node.numel()).repeat_interleave(crow.diff())
    graph = {(int(u), 80 + int(i)) for u, i in edge_index.t()}
    graph |= {(i, u) for u, i in graph}
    assert all((int(node[r]), int(node[c])) in graph
               for r, c in zip(row, col))
    assert int(crow.diff()[:batch.num_seeds].max()) <= 3


@pytest.mark.parametrize('name', ['lightgcn', 'lirdrec'])
def test_sampled_loss_on_cuda_equals_cpu_with_every_neighbour(data, name):
    from lirdrec_pyg.train.sampled import (make_subgraph_sampler,
                                           subgraph_batch_loss)
    users = torch.arange(40)
    pos = data[UI].edge_index[1][:40]
    neg = torch.randint(0, 60, (40, ))
    losses, grads = {}, {}
    for device in ('cpu', 'cuda'):
        seed_everything(0)
        model = create_model(name, data).to(device)
        sampler = make_subgraph_sampler(model, data, -1)
        assert sampler.rowptr.device.type == device
        loss = subgraph_batch_loss(model, sampler, users.to(device),
                                   pos.to(device), neg.to(device))
        loss.backward()
        losses[device] = float(loss)
        grads[device] = [p.grad.to_dense().cpu() for p in model.parameters()
                         if p.grad is not None]
    assert losses['cuda'] == pytest.approx(losses['cpu'], rel=1e-4)
    for a, b in zip(grads['cpu'], grads['cuda']):
        assert torch.allclose(b, a, atol=1e-5)


@pytest.mark.parametrize('name', ['lightgcn', 'lirdrec'])
def test_sampled_trainer_on_cuda_keeps_the_graph_there(data, name):
    seed_everything(0)
    trainer = Trainer(create_model(name, data), data,
                      TrainConfig(device='cuda', epochs=2, batch_size=128,
                                  progress=False, ks=[5, 10],
                                  valid_metric='Recall@10', mode='sampled'))
    result = trainer.fit()
    assert trainer.subgraph_sampler.rowptr.is_cuda
    assert trainer.subgraph_sampler.node_map.is_cuda
    assert 0.0 <= result.test['Recall@10'] <= 1.0
