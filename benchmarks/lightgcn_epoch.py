"""One LightGCN training epoch: ours against PyG's ``LightGCN`` used as in
PyG's example (``examples/lightgcn.py``: an ``edge_index`` input, propagation
over all nodes for every batch, ``recommendation_loss``).

    python benchmarks/lightgcn_epoch.py --dataset amazon_baby --threads 1

Same data, batch size, embedding size, layers, sampled triples and thread
count; prints seconds per epoch for each and the ratio (PyG / ours).
"""
import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lirdrec_pyg.data import UI, BPRSampler, load_dataset  # noqa: E402
from lirdrec_pyg.models import LightGCN  # noqa: E402


def epoch_ours(model, optimizer, triples, batch_size):
    users, pos, neg = triples
    for start in range(0, users.numel(), batch_size):
        sl = slice(start, start + batch_size)
        loss = model.loss(users[sl], pos[sl], neg[sl])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def epoch_pyg(model, optimizer, triples, batch_size, edge_index, num_users):
    users, pos, neg = triples
    for start in range(0, users.numel(), batch_size):
        sl = slice(start, start + batch_size)
        u = users[sl]
        label = torch.stack([torch.cat([u, u]),
                             torch.cat([pos[sl], neg[sl]]) + num_users])
        pos_rank, neg_rank = model(edge_index, label).chunk(2)
        loss = model.recommendation_loss(pos_rank, neg_rank,
                                         node_id=label.unique(),
                                         lambda_reg=1e-4)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def timed(fn, repeats):
    best = float('inf')
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--dataset', default='amazon_baby')
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--batch-size', type=int, default=2048)
    parser.add_argument('--layers', type=int, default=2)
    parser.add_argument('--repeats', type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    from torch_geometric.nn.models import LightGCN as PyGLightGCN

    data = load_dataset(args.dataset)
    train = data[UI].edge_index
    num_users, num_items = data['user'].num_nodes, data['item'].num_nodes
    triples = BPRSampler(train, num_users, num_items).sample(
        torch.Generator().manual_seed(0))

    torch.manual_seed(0)
    ours = LightGCN(data, embedding_dim=64, num_layers=args.layers)
    opt_ours = torch.optim.Adam(ours.parameters(), lr=1e-3)
    pyg = PyGLightGCN(num_users + num_items, 64, args.layers)
    opt_pyg = torch.optim.Adam(pyg.parameters(), lr=1e-3)
    homogeneous = torch.cat([
        torch.stack([train[0], train[1] + num_users]),
        torch.stack([train[1] + num_users, train[0]])], dim=1)

    t_ours = timed(lambda: epoch_ours(ours, opt_ours, triples,
                                      args.batch_size), args.repeats)
    t_pyg = timed(lambda: epoch_pyg(pyg, opt_pyg, triples, args.batch_size,
                                    homogeneous, num_users), args.repeats)
    report = {
        'dataset': args.dataset, 'batches': -(-len(triples[0]) //
                                               args.batch_size),
        'layers': args.layers, 'threads': torch.get_num_threads(),
        'ours_s_per_epoch': round(t_ours, 3),
        'pyg_s_per_epoch': round(t_pyg, 3),
        'speedup': round(t_pyg / t_ours, 2),
    }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == '__main__':
    sys.exit(main())
