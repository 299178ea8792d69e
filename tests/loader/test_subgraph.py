import pytest
import torch

from lirdrec_pyg.data import BPRSampler, make_synthetic
from lirdrec_pyg.loader import (
    BPRSubgraphLoader,
    BPRSubgraphSampler,
    resolve_num_neighbors,
)
from lirdrec_pyg.models import create_model
from lirdrec_pyg.models.base import UI
from lirdrec_pyg.train.sampled import subgraph_batch_loss


def small_data():
    return make_synthetic(num_users=50, num_items=35, interactions_per_user=6,
                          modality_dims={'image': 8, 'text': 6}, seed=3)


def triples(data, size=24, seed=0):
    sampler = BPRSampler(data[UI].edge_index, data['user'].num_nodes,
                         data['item'].num_nodes)
    users, pos, neg = sampler.sample(torch.Generator().manual_seed(seed))
    return users[:size], pos[:size], neg[:size]


def dense_grads(model):
    return {name: (p.grad.to_dense() if p.grad.is_sparse else p.grad)
            for name, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize('num_layers,combine', [(1, 'mean'), (2, 'mean'),
                                                (3, 'sum')])
def test_lightgcn_every_neighbour_equals_full_graph(num_layers, combine):
    data = small_data()
    model = create_model('lightgcn', data, num_layers=num_layers,
                         combine=combine, reg_weight=1e-2)
    users, pos, neg = triples(data)

    model.zero_grad()
    full = model.loss(users, pos, neg)
    full.backward()
    full_grads = dense_grads(model)
    user_out, item_out = model.forward()

    sampler = BPRSubgraphSampler(data[UI].edge_index, model.num_users,
                                 model.num_items, [-1] * num_layers)
    batch = sampler.sample(users, pos, neg)
    model.zero_grad()
    sampled = model.subgraph_loss(batch)
    sampled.backward()
    assert model.embedding.weight.grad.is_sparse
    sampled_grads = dense_grads(model)

    # The batch's representations.
    from lirdrec_pyg.nn import gather_rows
    ego = gather_rows(model.embedding.weight.detach(), batch.node)
    out = model.subgraph_propagation(ego, batch.adj)
    U = model.num_users
    torch.testing.assert_close(out[batch.users], user_out[users],
                               atol=1e-6, rtol=0)
    torch.testing.assert_close(out[batch.pos_items], item_out[pos],
                               atol=1e-6, rtol=0)
    torch.testing.assert_close(out[batch.neg_items], item_out[neg],
                               atol=1e-6, rtol=0)
    assert torch.equal(batch.node[batch.users], users)
    assert torch.equal(batch.node[batch.neg_items], neg + U)
    # Loss and gradients.
    assert abs(float(sampled) - float(full)) < 1e-6
    assert full_grads.keys() == sampled_grads.keys()
    for name in full_grads:
        torch.testing.assert_close(sampled_grads[name], full_grads[name],
                                   atol=1e-6, rtol=0)


def test_lirdrec_every_neighbour_equals_full_graph_without_regulariser():
    # The BPR term only reads the batch's rows, so with every neighbour kept
    # it matches full-graph training exactly, for every parameter; the
    # regulariser differs on purpose (batch rows, not all rows).
    data = small_data()
    model = create_model('lirdrec', data, reg_weight=0.0, knn_k=4)
    users, pos, neg = triples(data)

    model.zero_grad()
    full = model.loss(users, pos, neg)
    full.backward()
    full_grads = dense_grads(model)

    sampler = BPRSubgraphSampler(data[UI].edge_index, model.num_users,
                                 model.num_items, [-1, -1])
    model.zero_grad()
    sampled = subgraph_batch_loss(model, sampler, users, pos, neg)
    sampled.backward()
    assert model.user_preference.grad.is_sparse
    sampled_grads = dense_grads(model)
    assert abs(float(sampled) - float(full)) < 1e-6
    assert full_grads.keys() == sampled_grads.keys()
    for name in full_grads:
        torch.testing.assert_close(sampled_grads[name], full_grads[name],
                                   atol=1e-6, rtol=1e-5)


def test_lirdrec_subgraph_encodes_only_the_sampled_items():
    data = small_data()
    model = create_model('lirdrec', data, knn_k=3)
    users, pos, neg = triples(data, size=4)
    seen = []
    model.encoders[0].register_forward_hook(
        lambda m, inp, out: seen.append(inp[0].size(0)))
    sampler = BPRSubgraphSampler(data[UI].edge_index, model.num_users,
                                 model.num_items, [2, 2])
    items = torch.unique(torch.cat([pos, neg]))
    seeds = model.subgraph_item_seeds(items)
    batch = sampler.sample(users, pos, neg, seeds)
    model.subgraph_loss(batch).backward()
    assert seen == [int((batch.node >= model.num_users).sum())]
    assert seen[0] < model.num_items
    # The item graph's neighbours of the batch's items are seeds.
    assert set(seeds.tolist()) >= set(items.tolist())


def test_sampled_neighbourhoods_are_graph_edges_with_the_fan_out():
    data = small_data()
    U = data['user'].num_nodes
    edge_index = data[UI].edge_index
    sampler = BPRSubgraphSampler(edge_index, U, data['item'].num_nodes,
                                 [3, 2])
    users, pos, neg = triples(data, size=10)
    batch = sampler.sample(users, pos, neg)
    adj = batch.adj.to_sparse_coo().coalesce()
    dst, src = batch.node[adj.indices()]
    edges = {(int(u), int(i) + U) for u, i in edge_index.t()}
    for a, b in zip(dst.tolist(), src.tolist()):
        assert (a, b) in edges or (b, a) in edges
    degree = sampler.degree
    in_deg = torch.bincount(adj.indices()[0], minlength=batch.node.numel())
    seeds = batch.node[:batch.num_seeds]
    assert torch.equal(in_deg[:batch.num_seeds],
                       degree[seeds].long().clamp(max=3))


def test_sampled_propagation_is_unbiased():
    # d_v / s_v rescaling: averaged over many draws, one sampled layer at
    # the seeds approaches the full-graph layer.
    data = small_data()
    U, I = data['user'].num_nodes, data['item'].num_nodes
    sampler = BPRSubgraphSampler(data[UI].edge_index, U, I, [2])
    x = torch.randn(U + I, 3)
    full = torch.sparse.mm(
        create_model('lightgcn', data).adj.to_sparse_coo(), x)
    users, pos, neg = triples(data, size=8)
    torch.manual_seed(0)
    total, draws = 0, 400
    for _ in range(draws):
        batch = sampler.sample(users, pos, neg)
        out = torch.sparse.mm(batch.adj.to_sparse_coo(), x[batch.node])
        total = total + out[:batch.num_seeds]
    mean = total / draws
    seeds = batch.node[:batch.num_seeds]
    error = (mean - full[seeds]).abs().max()
    one_draw = (out[:batch.num_seeds] - full[seeds]).abs().max()
    assert error < 0.25 * one_draw


def test_loader_covers_the_epoch_in_batches():
    data = small_data()
    users, pos, neg = triples(data, size=25)
    sampler = BPRSubgraphSampler(data[UI].edge_index,
                                 data['user'].num_nodes,
                                 data['item'].num_nodes, [2])
    loader = BPRSubgraphLoader(sampler, users, pos, neg, batch_size=10)
    batches = list(loader)
    assert len(loader) == len(batches) == 3
    assert torch.equal(torch.cat([b.user_ids for b in batches]), users)
    assert torch.equal(torch.cat([b.neg_item_ids for b in batches]), neg)


def test_resolve_num_neighbors():
    assert resolve_num_neighbors(5, 3) == [5, 5, 5]
    assert resolve_num_neighbors([-1, 4], 2) == [-1, 4]
    with pytest.raises(ValueError, match='2 hop.*3 layer'):
        resolve_num_neighbors([1, 2], 3)
    with pytest.raises(ValueError, match='num_neighbors'):
        resolve_num_neighbors([0, 2], 2)
