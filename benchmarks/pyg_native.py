"""The library's PyG-facing pieces against PyG's own, in one process.

    python benchmarks/pyg_native.py --threads 1

Three ratios, each timed alternately in this process (best of several
rounds, see ``benchmarks/timing.py``), with the thread count recorded:

* ``propagation``: forward + backward of 2-layer mean LightGCN propagation at
  width 64 over a real training graph, for the library's marked CSR
  adjacency (the fast path the models use), the same graph as a plain
  ``edge_index`` (normalised once, cached on the tensor), and two stacked
  ``torch_geometric.nn.LGConv`` on that ``edge_index``;
* ``lightgcn``: one BPR step of ``lirdrec_pyg.nn.LightGCN`` (on the CSR
  adjacency) against ``torch_geometric.nn.models.LightGCN`` (on the
  ``edge_index``), same interface, batch 2048;
* ``metrics``: the evaluator's metric maths (``ranking_metrics``: Recall,
  NDCG, Precision, MAP, Hit at K in {5, 10, 20, 50} from one hit matrix)
  against ``torch_geometric.metrics`` (the five ``LinkPred*`` metrics at the
  same cut-offs in one ``LinkPredMetricCollection``, from the same top-50
  lists), for 4096 users; the outputs are compared too.
"""
import argparse
import json
import platform
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.timing import best_ms  # noqa: E402
from lirdrec_pyg.data import load_dataset  # noqa: E402
from lirdrec_pyg.nn import LightGCN, LightGCNPropagation  # noqa: E402
from lirdrec_pyg.nn.graph_conv import bipartite_edge_index  # noqa: E402
from lirdrec_pyg.nn.kernels import csr_spmm_kernel  # noqa: E402
from lirdrec_pyg.train.metrics import (isin_sorted,  # noqa: E402
                                       ranking_metrics)
from lirdrec_pyg.transforms import get_ui_adjacency  # noqa: E402

KS = (5, 10, 20, 50)


def time_propagation(adj, edge_index, width):
    from torch_geometric.nn import LGConv
    x = torch.randn(adj.size(0), width, requires_grad=True)
    layer = LightGCNPropagation(2)
    conv = LGConv()

    def ours(graph):
        return lambda: layer(x, graph).sum().backward()

    def pyg():
        h1 = conv(x, edge_index)
        h2 = conv(h1, edge_index)
        ((x + h1 + h2) / 3).sum().backward()
    return dict(csr_ms=best_ms(ours(adj), calls=5),
                edge_index_ms=best_ms(ours(edge_index), calls=5),
                pyg_lgconv_ms=best_ms(pyg, calls=5))


def time_lightgcn(adj, edge_index, num_users, num_items):
    from torch_geometric.nn.models import LightGCN as PyGLightGCN
    n = num_users + num_items
    g = torch.Generator().manual_seed(0)
    users = torch.randint(0, num_users, (2048, ), generator=g)
    pos = torch.randint(0, num_items, (2048, ), generator=g) + num_users
    neg = torch.randint(0, num_items, (2048, ), generator=g) + num_users
    out = {}
    for name, model, graph in (('ours', LightGCN(n, 64, 2), adj),
                               ('pyg', PyGLightGCN(n, 64, 2), edge_index)):
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)

        def step(model=model, graph=graph, opt=opt):
            emb = model.get_embedding(graph)
            pos_rank = (emb[users] * emb[pos]).sum(-1)
            neg_rank = (emb[users] * emb[neg]).sum(-1)
            loss = model.recommendation_loss(pos_rank, neg_rank,
                                             torch.cat([users, pos, neg]))
            opt.zero_grad()
            loss.backward()
            opt.step()
        out[f'{name}_step_ms'] = best_ms(step, calls=3)
    return out


def time_metrics(num_users=4096, num_items=3000):
    from torch_geometric.metrics import (LinkPredHitRatio, LinkPredMAP,
                                         LinkPredMetricCollection,
                                         LinkPredNDCG, LinkPredPrecision,
                                         LinkPredRecall)
    g = torch.Generator().manual_seed(0)
    top = torch.rand(num_users, num_items, generator=g).topk(KS[-1]).indices
    per_user = torch.randint(1, 30, (num_users, ), generator=g)
    user = torch.repeat_interleave(torch.arange(num_users), per_user)
    item = torch.randint(0, num_items, (user.numel(), ), generator=g)
    label = torch.unique(user * num_items + item)
    label_index = torch.stack([label // num_items, label % num_items])
    num_relevant = torch.bincount(label_index[0], minlength=num_users)
    keys = label_index[0] * num_items + label_index[1]

    def ours():
        # As the evaluator finds hits: sorted (user, item) keys.
        hits = isin_sorted(top + (torch.arange(num_users) *
                                  num_items).view(-1, 1), keys)
        return {k: v.mean() for k, v in
                ranking_metrics(hits, num_relevant, KS).items()}

    classes = dict(Recall=LinkPredRecall, NDCG=LinkPredNDCG,
                   Precision=LinkPredPrecision, MAP=LinkPredMAP,
                   Hit=LinkPredHitRatio)

    def pyg():
        # The collection shares the relevance matrix between its metrics.
        collection = LinkPredMetricCollection(
            {f'{name}@{k}': cls(k) for name, cls in classes.items()
             for k in KS})
        collection.update(top, label_index)
        return collection.compute()
    a, b = ours(), pyg()
    diff = max(abs(float(a[key]) - float(b[key])) for key in b)
    return dict(ours_ms=best_ms(ours, calls=3),
                pyg_ms=best_ms(pyg, calls=3), max_abs_difference=diff)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--dataset', default='lastfm2k')
    parser.add_argument('--threads', type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    data = load_dataset(args.dataset)
    adj = get_ui_adjacency(data)
    num_users = data['user'].num_nodes
    num_items = data['item'].num_nodes
    edge_index = bipartite_edge_index(
        data['user', 'interacts', 'item'].edge_index, num_users)
    result = dict(
        dataset=args.dataset, nodes=adj.size(0), edges=edge_index.size(1),
        propagation=time_propagation(adj, edge_index, 64),
        lightgcn=time_lightgcn(adj, edge_index, num_users, num_items),
        metrics=time_metrics(),
        threads=torch.get_num_threads(),
        compiled_kernel=csr_spmm_kernel() is not None,
        torch=torch.__version__, machine=platform.processor() or
        platform.machine())
    print(json.dumps(result, indent=1))
    return 0


if __name__ == '__main__':
    sys.exit(main())
