import pytest
import torch

from lirdrec_pyg.data import make_synthetic
from lirdrec_pyg.distributed import (Sharding, ShardedAdam, adjacency_rows,
                                     bipartite_blocks, bipartite_propagation,
                                     check_device, resolve_device,
                                     sharded_adjacency, split_range)
from lirdrec_pyg.models import create_model
from lirdrec_pyg.nn import LightGCNPropagation
from lirdrec_pyg.train import FullRankingEvaluator
from lirdrec_pyg.train.trainer import TrainConfig, make_adam, seed_everything
from lirdrec_pyg.transforms.adjacency import get_ui_adjacency
from tests.distributed.workers import summed_gradients


def test_split_range_covers_every_row_once():
    for size, world in ((10, 3), (7, 7), (5, 2), (0, 2)):
        blocks = [split_range(size, world, r) for r in range(world)]
        assert blocks[0][0] == 0 and blocks[-1][1] == size
        assert all(a[1] == b[0] for a, b in zip(blocks, blocks[1:]))
        sizes = [e - s for s, e in blocks]
        assert max(sizes) - min(sizes) <= 1
    with pytest.raises(ValueError, match="'rank' must lie in"):
        split_range(10, 2, 2)


def test_adjacency_rows_against_dense():
    dense = torch.tensor([[0., 1, 0, 2], [3, 0, 0, 0], [0, 0, 0, 0],
                          [0, 4, 5, 0]])
    rows = adjacency_rows(dense.to_sparse_csr(), [(0, 1), (2, 4)])
    assert rows.layout == torch.sparse_csr
    assert torch.equal(rows.to_dense(), dense[[0, 2, 3]])


def test_sharded_adjacency_holds_the_ranks_users_then_items():
    data = make_synthetic(num_users=20, num_items=12,
                          interactions_per_user=4, seed=0)
    adj = get_ui_adjacency(data)
    sharding = Sharding(20, 12)
    sharding.user_range, sharding.item_range = (5, 9), (3, 7)
    rows = sharded_adjacency(adj, sharding).to_dense()
    expected = adj.to_dense()[list(range(5, 9)) + list(range(23, 27))]
    assert torch.equal(rows, expected)
    assert torch.equal(sharding.local_nodes(),
                       torch.tensor([5, 6, 7, 8, 23, 24, 25, 26]))


def test_one_process_sharding_is_the_identity():
    sharding = Sharding(4, 3)
    x = torch.randn(7, 2)
    assert sharding.gather_nodes(x) is x
    assert sharding.split_batch(*(torch.arange(5), ) * 3)[0].numel() == 5
    assert sharding.batch_mean(torch.ones(5)) == 1
    assert sharding.share(torch.tensor(3.)) == 3
    with pytest.raises(ValueError, match="'local' must have 7 rows"):
        sharding.gather_nodes(torch.randn(6, 2))


def test_sharding_arguments_are_checked():
    with pytest.raises(ValueError, match="'num_users' must be positive"):
        Sharding(0, 3)
    with pytest.raises(ValueError, match='cannot share 2 users'):
        Sharding(2, 5, world_size=3)
    with pytest.raises(RuntimeError, match='initialised torch.distributed'):
        Sharding(4, 4, rank=1, world_size=2)


@pytest.mark.parametrize('name', ['lirdrec', 'lightgcn', 'bpr'])
def test_sharded_model_in_one_process_equals_the_model(name):
    # The sharded code path (local rows, row-block propagation, shares of
    # the loss) with one process computes the model's loss and gradient.
    data = make_synthetic(num_users=30, num_items=20,
                          interactions_per_user=5,
                          modality_dims={'image': 8, 'text': 4}, seed=0)
    seed_everything(0)
    plain = create_model(name, data)
    seed_everything(0)
    sharded = create_model(name, data)
    sharding = Sharding(30, 20)
    sharded.shard(sharding)
    assert sharded.sharding is sharding
    users, pos, neg = (torch.randint(0, n, (25, )) for n in (30, 20, 20))
    loss = plain.loss(users, pos, neg)
    loss.backward()
    share = sharded.loss(*sharding.split_batch(users, pos, neg))
    share.backward()
    assert float(share.detach()) == pytest.approx(float(loss.detach()),
                                                  rel=1e-6)
    grads = summed_gradients(sharded, sharding)
    for name, a in plain.named_parameters():
        assert torch.allclose(a.grad, grads[name], atol=1e-7), name


def test_unshardable_model_accepts_one_process():
    data = make_synthetic(num_users=30, num_items=20,
                          interactions_per_user=5,
                          modality_dims={'image': 8}, seed=0)
    model = create_model('vbpr', data)
    assert not model.shardable
    model.shard(Sharding(30, 20))  # one process: nothing to split
    assert model.sharding is None


def test_evaluation_split_by_users_adds_up_to_the_whole():
    data = make_synthetic(num_users=50, num_items=30,
                          interactions_per_user=6, seed=3)
    evaluator = FullRankingEvaluator.from_data(data, 'test', ks=[5, 10],
                                               batch_size=7)
    scores = torch.randn(50, 30)

    def score(users):
        return scores[users].clone()

    whole = evaluator.evaluate(score)
    n = evaluator.users.numel()
    # Three blocks of users, one of them empty; an all-reduce that sees
    # every block's sums (captured first) adds them up.
    blocks = [evaluator.accumulate(score, 0, n // 3),
              evaluator.accumulate(score, n // 3, n),
              evaluator.accumulate(score, n, n)]
    flats = []
    for acc in blocks:
        acc.all_reduce_(lambda flat: flats.append(flat.clone()) or flat)
    for acc in blocks:
        acc.all_reduce_(lambda flat: flat.copy_(sum(flats)))
        assert acc.compute() == pytest.approx(whole, abs=1e-12)
    with pytest.raises(ValueError, match='0 <= start <= end'):
        evaluator.accumulate(score, 3, 2)


def test_devices():
    assert resolve_device('cpu') == torch.device('cpu')
    assert resolve_device('auto').type == ('cuda' if torch.cuda.is_available()
                                           else 'cpu')
    for bad in ('gpu', 'cuda:x', 'cpu:0'):
        with pytest.raises(ValueError, match='train.device must be one of'):
            check_device(bad)
    with pytest.raises(ValueError, match='train.device must be one of'):
        TrainConfig(device='tpu')
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match='no CUDA device is available'):
            resolve_device('cuda')


def _two_ranks(monkeypatch, num_users, num_items, rank):
    # A rank's share of two processes, built without a process group: only
    # the layout is used, no collective.
    monkeypatch.setattr(torch.distributed, 'is_initialized', lambda: True)
    return Sharding(num_users, num_items, rank=rank, world_size=2)


def test_split_by_user_keeps_the_whole_batch_and_masks_the_owners(
        monkeypatch):
    sharding = _two_ranks(monkeypatch, 10, 4, rank=1)
    users = torch.tensor([0, 5, 9, 4, 7])
    assert sharding.split_batch(users, users, users)[0].numel() == 3
    sharding.split_by_user = True
    assert sharding.split_batch(users, users, users)[0] is users
    mask = sharding.user_mask(users)
    assert mask.tolist() == [False, True, True, False, True]
    values = torch.tensor([1., 2, 3, 4, 5])
    # The owned triples' sum over the whole batch's size.
    assert sharding.batch_mean(values, mask) == pytest.approx(10 / 5)


def test_sharded_adam_in_one_process_is_adam():
    # One process: the owned rows are all rows, and the optimizer must be
    # one Adam over every parameter, state dict included.
    torch.manual_seed(0)
    table = torch.nn.Parameter(torch.randn(6, 3))
    weight = torch.nn.Parameter(torch.randn(4))
    a = [table.detach().clone().requires_grad_(),
         weight.detach().clone().requires_grad_()]
    sharding = Sharding(6, 2)

    def make(params):
        return make_adam(params, lr=0.1, weight_decay=0.01)

    # One process owns all rows: the leaf aliases the whole table.
    leaf = torch.nn.Parameter(table.data[0:6])
    sharded = ShardedAdam([('table', table), ('weight', weight)],
                          {'table': leaf}, sharding, make)
    plain = make(a)
    for step in range(3):
        grads = [torch.randn(6, 3), torch.randn(4)]
        table.grad, weight.grad = grads[0].clone(), grads[1].clone()
        a[0].grad, a[1].grad = grads[0].clone(), grads[1].clone()
        sharded.step()
        plain.step()
        sharded.zero_grad()
        assert table.grad is None
    assert torch.equal(table, a[0]) and torch.equal(weight, a[1])
    state, expected = sharded.state_dict(), plain.state_dict()
    assert state['param_groups'] == expected['param_groups']
    for i in (0, 1):
        for key in ('step', 'exp_avg', 'exp_avg_sq'):
            assert torch.equal(state['state'][i][key],
                               expected['state'][i][key])
    # A fresh optimizer loaded from the state continues identically.
    again = ShardedAdam([('table', table), ('weight', weight)],
                        {'table': leaf}, sharding, make)
    again.load_state_dict(state)
    table.grad, weight.grad = torch.ones(6, 3), torch.ones(4)
    a[0].grad, a[1].grad = torch.ones(6, 3), torch.ones(4)
    again.step()
    plain.step()
    assert torch.equal(table, a[0]) and torch.equal(weight, a[1])
    # A gradient on the leaf (the step read the rows through it) is used.
    again.zero_grad()
    leaf.grad, weight.grad = torch.full((6, 3), 2.0), torch.ones(4)
    a[0].grad, a[1].grad = torch.full((6, 3), 2.0), torch.ones(4)
    again.step()
    plain.step()
    assert torch.equal(table, a[0]) and torch.equal(weight, a[1])
    with pytest.raises(ValueError, match="owned parameter 'weight' must be "
                       "a trainable parameter mapped to a leaf aliasing"):
        ShardedAdam([('weight', weight)],
                    {'weight': torch.nn.Parameter(weight.data.clone())},
                    sharding, make)


@pytest.mark.parametrize('rank', [0, 1])
def test_bipartite_blocks_are_the_ranks_users_blocks(monkeypatch, rank):
    data = make_synthetic(num_users=7, num_items=4, interactions_per_user=2,
                          seed=3)
    adj = get_ui_adjacency(data)
    sharding = _two_ranks(monkeypatch, 7, 4, rank)
    user_item, item_user = bipartite_blocks(adj, sharding)
    dense = adj.to_dense()
    us, ue = sharding.user_range
    assert torch.equal(user_item.to_dense(), dense[us:ue, 7:])
    assert torch.equal(item_user.to_dense(), dense[7:, us:ue])
    with pytest.raises(ValueError, match='must be bipartite'):
        bipartite_blocks((dense + torch.eye(11)).to_sparse_csr(), sharding)


@pytest.mark.parametrize('combine', ['sum', 'mean', 'last'])
@pytest.mark.parametrize('num_layers', [1, 2, 3])
def test_bipartite_propagation_equals_the_propagation(combine, num_layers):
    # Users and items propagated separately (users from items, items from
    # users, the two parity chains' item layers reduced together) against
    # the dense power series, forward and backward.
    data = make_synthetic(num_users=9, num_items=6, interactions_per_user=3,
                          seed=2)
    adj = get_ui_adjacency(data)
    sharding = Sharding(9, 6)
    propagation = LightGCNPropagation(num_layers, combine, normalize=False)
    x = torch.randn(15, 4, requires_grad=True)
    weight = torch.randn(15, 4)
    users, items = bipartite_propagation(propagation, x[:9], x[9:],
                                         *bipartite_blocks(adj, sharding),
                                         sharding)
    out = torch.cat([users, items])
    (out * weight).sum().backward()
    grad, x.grad = x.grad, None
    dense = adj.to_dense()
    layers = [x]
    for _ in range(num_layers):
        layers.append(dense @ layers[-1])
    expected = {'sum': sum(layers), 'mean': sum(layers) / len(layers),
                'last': layers[-1]}[combine]
    (expected * weight).sum().backward()
    assert torch.allclose(out, expected, atol=1e-6)
    assert torch.allclose(grad, x.grad, atol=1e-6)


def test_gather_blocks_and_all_reduce_sum_in_one_process():
    sharding = Sharding(5, 3)
    x = torch.randn(5, 2, requires_grad=True)
    assert sharding.all_reduce_sum(x) is x
    assert torch.equal(sharding.gather_blocks(x.detach(), 5), x.detach())
    with pytest.raises(ValueError, match="'local' must have 5 rows"):
        sharding.gather_blocks(x.detach()[:4], 5)
