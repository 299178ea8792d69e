"""What every process of the multi-process tests runs (spawned by
torch.multiprocessing, so it lives in an importable module)."""
import os
import socket
import time
from pathlib import Path
from typing import Any, Dict

import torch
import torch.distributed as dist

from lirdrec_pyg.data import make_synthetic
from lirdrec_pyg.distributed import (GradientBuckets, Sharding,
                                    bipartite_blocks, bipartite_propagation,
                                    init_process_group, split_range)
from lirdrec_pyg.models import create_model
from lirdrec_pyg.nn import LightGCNPropagation
from lirdrec_pyg.train.trainer import TrainConfig, Trainer, seed_everything
from lirdrec_pyg.transforms.adjacency import get_ui_adjacency

MODELS = ('lirdrec', 'lightgcn', 'bpr')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def small_data() -> Any:
    # 61 users and 41 items: the blocks of two ranks differ in size, which
    # exercises the padding of the gathers.
    return make_synthetic(num_users=61, num_items=41, interactions_per_user=8,
                          modality_dims={'image': 8, 'text': 6}, seed=1)


def train_config(**kwargs: Any) -> TrainConfig:
    defaults = dict(epochs=2, batch_size=100, eval_every=1, patience=50,
                    progress=False, seed=7, ks=[5, 10, 20])
    defaults.update(kwargs)
    return TrainConfig(**defaults)


def one_step_gradients(name: str, data: Any) -> Dict[str, Any]:
    r"""The loss and gradient of one batch, by one process on the full
    graph and by this rank's share (gradients summed over ranks)."""
    seed_everything(0)
    full = create_model(name, data)
    seed_everything(0)
    sharded = create_model(name, data)
    sharding = Sharding.from_process_group(full.num_users, full.num_items)
    sharded.shard(sharding)
    generator = torch.Generator().manual_seed(3)
    users = torch.randint(0, full.num_users, (99, ), generator=generator)
    pos = torch.randint(0, full.num_items, (99, ), generator=generator)
    neg = torch.randint(0, full.num_items, (99, ), generator=generator)
    loss_full = full.loss(users, pos, neg)
    loss_full.backward()
    share = sharded.loss(*sharding.split_batch(users, pos, neg))
    share.backward()
    grads = summed_gradients(sharded, sharding)
    total = sharding.all_reduce_(share.detach().clone())
    diff = max(float((a.grad - grads[name]).abs().max())
               for name, a in full.named_parameters())
    scale = max(float(a.grad.abs().max()) for a in full.parameters())
    return dict(loss_full=float(loss_full.detach()),
                loss_sharded=float(total),
                grad_diff=diff, grad_scale=scale)


def summed_gradients(model: Any, sharding: Sharding) -> Dict[str, Any]:
    r"""The whole gradient of every parameter of a sharded model after the
    backward pass of the ranks' loss shares: the shared parameters' summed
    over the ranks, the owned rows' gathered from their owners (as
    :class:`~lirdrec_pyg.distributed.ShardedAdam` reads them)."""
    owned = model.owned_parameters()
    out = {}
    for name, p in model.named_parameters():
        if name in owned:
            start, end = split_range(p.size(0), sharding.world_size,
                                     sharding.rank)
            grad = owned[name].grad
            if grad is None:
                grad = (p.grad[start:end] if p.grad is not None
                        else torch.zeros_like(owned[name]))
            out[name] = sharding.gather_blocks(grad.contiguous(),
                                               p.size(0))
        else:
            grad = p.grad.clone() if p.grad is not None \
                else torch.zeros_like(p)
            out[name] = sharding.all_reduce_(grad)
    return out


def bucket_sums(rank: int) -> Dict[str, Any]:
    r"""Gradients summed by :class:`GradientBuckets` during a backward pass
    (three buckets of at most 5 entries; one parameter without gradient),
    against the sum over ranks of every rank's known gradient."""
    sharding = Sharding.from_process_group(2, 2)
    params = [torch.nn.Parameter(torch.zeros(n)) for n in (3, 4, 2, 5)]
    buckets = GradientBuckets(params, sharding, cap=5)
    buckets.arm()
    scale = [torch.arange(1.0, p.numel() + 1) for p in params]
    # Rank r's gradient of parameter i is (r + 1) * (i + 1) * scale[i];
    # parameter 2 is not used.
    loss = sum((rank + 1) * (i + 1) * (p * scale[i]).sum()
               for i, p in enumerate(params) if i != 2)
    loss.backward()
    launched = len(buckets._works)
    buckets.wait()
    expected = [3 * (i + 1) * scale[i] if i != 2 else torch.zeros(2)
                for i in range(4)]
    return dict(sizes=[[p.numel() for p in b] for b in buckets.buckets],
                launched_in_backward=launched,
                equal=all(torch.equal(p.grad, e)
                          for p, e in zip(params, expected)))


def bipartite(rank: int) -> Dict[str, Any]:
    r""":func:`bipartite_propagation` of two ranks against the dense
    propagation, forward and backward, for 2 layers summed (one all-reduce
    each way) and 3 layers averaged (two): the largest differences of the
    rows and of the summed gradients."""
    data = make_synthetic(num_users=9, num_items=6, interactions_per_user=3,
                          seed=2)
    adj = get_ui_adjacency(data)
    sharding = Sharding.from_process_group(9, 6)
    blocks = bipartite_blocks(adj, sharding)
    dense = adj.to_dense()
    out: Dict[str, Any] = {}
    for num_layers, combine in ((2, 'sum'), (3, 'mean')):
        propagation = LightGCNPropagation(num_layers, combine,
                                          normalize=False)
        x = torch.randn(15, 4, generator=torch.Generator().manual_seed(0))
        weight = torch.randn(15, 4,
                             generator=torch.Generator().manual_seed(1))
        us, ue = sharding.user_range
        users = x[us:ue].clone().requires_grad_()
        items = x[9:].clone().requires_grad_()
        out_users, out_items = bipartite_propagation(
            propagation, users * 1.0, items * 1.0, *blocks, sharding)
        # The item rows' loss is shared: each rank takes half of it.
        ((out_users * weight[us:ue]).sum() +
         (out_items * weight[9:]).sum() / 2).backward()
        grad_users = sharding.gather_users(users.grad)
        grad_items = sharding.all_reduce_(items.grad.clone())
        xd = x.clone().requires_grad_()
        layers = [xd]
        for _ in range(num_layers):
            layers.append(dense @ layers[-1])
        expected = sum(layers) / (1 if combine == 'sum' else len(layers))
        (expected * weight).sum().backward()
        expected = expected.detach()
        out[f'{num_layers}_{combine}'] = dict(
            forward=max(float((out_users - expected[us:ue]).abs().max()),
                        float((out_items - expected[9:]).abs().max())),
            backward=float((torch.cat([grad_users, grad_items]) -
                            xd.grad).abs().max()))
    return out


def gathered_items(rank: int) -> Dict[str, Any]:
    r"""``gather_items`` of equal blocks (no padding, no reordering) and of
    unequal ones, forward and backward: every row is its owner's, and each
    rank gets the sum over ranks of its rows' gradient."""
    out = {}
    for num_items in (6, 7):
        sharding = Sharding.from_process_group(4, num_items)
        start, end = sharding.item_range
        local = torch.arange(start, end, dtype=torch.float).unsqueeze(1)
        local.requires_grad_()
        items = sharding.gather_items(local * 1.0)
        # Rank r weights item i by (r + 1): the summed gradient is 3.
        (items.squeeze(1) * (rank + 1)).sum().backward()
        out[num_items] = dict(rows=items.detach().squeeze(1).tolist(),
                              grad=local.grad.squeeze(1).tolist())
    return out


def worker(rank: int, world_size: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port),
                      RANK=str(rank), WORLD_SIZE=str(world_size),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    init_process_group(torch.device('cpu'))
    data = small_data()
    result: Dict[str, Any] = {'rank': rank, 'gradients': {}, 'fit': {}}
    for name in MODELS:
        result['gradients'][name] = one_step_gradients(name, data)
    result['buckets'] = bucket_sums(rank)
    result['bipartite'] = bipartite(rank)
    result['gathers'] = gathered_items(rank)
    for name in MODELS:
        start = time.perf_counter()
        seed_everything(0)
        trainer = Trainer(create_model(name, data), data, train_config())
        fit = trainer.fit()
        result['fit'][name] = dict(valid=fit.valid, test=fit.test,
                                   best_epoch=fit.best_epoch,
                                   losses=[r['loss'] for r in fit.history])
        result[f'state_{name}'] = {k: v.clone() for k, v in
                                   trainer.model.state_dict().items()}
        result['seconds_' + name] = time.perf_counter() - start
    # --resume: 1 epoch, then on to 2 from the checkpoint, against 2 at once.
    run = Path(out) / 'run'
    seed_everything(0)
    Trainer(create_model('lirdrec', data), data, train_config(epochs=1),
            out_dir=run).fit()
    dist.barrier()  # rank 0's checkpoint is on disk for every rank
    seed_everything(0)
    resumed = Trainer(create_model('lirdrec', data), data, train_config(),
                      out_dir=run, resume=True)
    resumed.fit()
    result['state_resumed'] = {k: v.clone() for k, v in
                               resumed.model.state_dict().items()}
    result['files'] = sorted(p.name for p in run.iterdir())
    result['run_dir'] = str(run)
    # --resume from a checkpoint one process wrote after epoch 1 (prepared
    # by the test): the per-user optimizer state is split on loading.
    seed_everything(0)
    from_one = Trainer(create_model('lirdrec', data), data, train_config(),
                       out_dir=Path(out) / 'from_one', resume=True)
    from_one.fit()
    result['state_from_one'] = {k: v.clone() for k, v in
                                from_one.model.state_dict().items()}
    try:
        Trainer(create_model('freedom', data), data, train_config())
        result['refusal'] = None
    except ValueError as error:
        result['refusal'] = str(error)
    torch.save(result, Path(out) / f'rank{rank}.pt')
    dist.destroy_process_group()
