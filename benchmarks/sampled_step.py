"""One sampled-subgraph training step of LightGCN by phase, before and after
the node-wise changes, alternated in one process (the ratio is what this
loaded machine can measure; absolute times are noisy).

    python benchmarks/sampled_step.py --size 1e6 --rounds 6 --threads 1

The graph is the one of ``benchmarks/scale_sweep.py`` at ``--size``
training interactions. Each round runs ``--steps`` steps of each variant on
the same batches, in the order AB BA AB ..., each variant with its own model
and optimiser from the same seed:

- ``before``: :class:`torch.optim.SparseAdam` (coalesces the gradient, then
  updates through sparse tensors), the subgraph matrix's transpose for
  the backward pass by a 64-bit (row, column) key sort, and the loss from
  five gathers of subgraph rows (each with its own backward buffer), as
  before;
- ``after``: :class:`~lirdrec_pyg.train.row_adam.RowAdam` (index operations
  on the touched rows, the gradient used as it is when its rows are
  distinct), :func:`~lirdrec_pyg.nn.propagation.transpose_csr`'s stable
  32-bit sort by column, and :meth:`LightGCN.subgraph_loss`'s two gathers.

Both sample with the current sampler (its per-node factor tables are not
in the comparison). The script checks whether both give the same losses
and tables to the bit (the gathers' gradient buffers add the same terms,
possibly in another order). Phases:
sampling, gather (the subgraph's embedding rows), forward (propagation and
loss), transpose (for the backward pass), backward, coalesce (SparseAdam's,
timed on its own), optimizer. JSON on stdout and in ``--json``.
"""
import argparse
import json
import math
import statistics
import sys
import time
from typing import Any, Dict, List

from scale_sweep import ROOT, TRAIN_PER_USER, USERS_PER_ITEM

PHASES = ('sample', 'gather', 'forward', 'transpose', 'backward', 'coalesce',
          'optimizer')


def key_sort_transpose(adj):
    r"""The transpose as it was built before: a sort of 64-bit (row,
    column) keys through :func:`~lirdrec_pyg.transforms.csr_from_coo`."""
    from lirdrec_pyg.nn.propagation import _csr_rows
    from lirdrec_pyg.transforms.adjacency import csr_from_coo
    cached = getattr(adj, '_lirdrec_transpose', None)
    if cached is None:
        cached = csr_from_coo(adj.col_indices(), _csr_rows(adj), adj.values(),
                              adj.size(1), adj.size(0))
        adj._lirdrec_transpose = cached
    return cached


class Variant:
    def __init__(self, name: str, data: Any, num_neighbors: List[int],
                 seed: int) -> None:
        import torch

        from lirdrec_pyg.models import LightGCN
        from lirdrec_pyg.nn import propagation
        from lirdrec_pyg.train.row_adam import RowAdam
        from lirdrec_pyg.train.sampled import (make_sampled_optimizer,
                                               make_subgraph_sampler)
        self.name = name
        torch.manual_seed(seed)
        self.model = LightGCN(data)
        self.model.train()
        self.sampler = make_subgraph_sampler(self.model, data, num_neighbors)
        optimizer = torch.optim.SparseAdam if name == 'before' else RowAdam
        self.optimizer = make_sampled_optimizer(self.model, 1e-3,
                                                sparse_optimizer=optimizer)
        self.transpose = (key_sort_transpose if name == 'before'
                          else propagation.transpose_csr)
        self.times: Dict[str, List[float]] = {p: [] for p in PHASES}
        self.losses: List[float] = []
        self.nodes: List[int] = []

    def step(self, users, pos, neg, generator) -> None:
        import torch

        from lirdrec_pyg.models.base import (dot_bpr_loss,
                                             embedding_bpr_loss,
                                             embedding_norm_loss)
        from lirdrec_pyg.nn import gather_rows, propagation
        model = self.model
        propagation.transpose_csr = self.transpose
        clock = [time.perf_counter()]

        def tick(phase: str) -> None:
            now = time.perf_counter()
            self.times[phase].append(now - clock[0])
            clock[0] = now

        self.sampler.generator = generator
        batch = self.sampler.sample(users, pos, neg)
        tick('sample')
        ego = gather_rows(model.embedding.weight, batch.node)
        tick('gather')
        out = model.subgraph_propagation(ego, batch.adj)
        if self.name == 'before':
            # Five gathers of the subgraph's rows, five backward buffers.
            loss = embedding_bpr_loss(
                out, out, batch.users, batch.pos_items, batch.neg_items) + \
                model.reg_weight * embedding_norm_loss(
                    ego[batch.users], ego[batch.pos_items],
                    ego[batch.neg_items])
        else:
            # LightGCN.subgraph_loss, its first gather timed apart.
            triples = torch.cat([batch.users, batch.pos_items,
                                 batch.neg_items])
            b = batch.users.numel()
            loss = dot_bpr_loss(*out.index_select(0, triples).split(b)) + \
                model.reg_weight * embedding_norm_loss(
                    *ego.index_select(0, triples).split(b))
        if not self.losses and self.name == 'after':
            # The timed formulation is the model's own (in the warm-up).
            again = model.subgraph_loss(batch).detach()
            self.same_as_model = bool(torch.equal(loss.detach(), again))
        tick('forward')
        self.transpose(batch.adj)  # cached on the matrix for the backward
        tick('transpose')
        self.optimizer.zero_grad()
        loss.backward()
        tick('backward')
        table = model.embedding.weight
        if self.name == 'before':
            table.grad = table.grad.coalesce()
        tick('coalesce')
        self.optimizer.step()
        tick('optimizer')
        self.losses.append(float(loss.detach()))
        self.nodes.append(batch.node.numel())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--size', type=float, default=1e6)
    parser.add_argument('--rounds', type=int, default=6)
    parser.add_argument('--steps', type=int, default=4,
                        help='steps of each variant per round')
    parser.add_argument('--batch-size', type=int, default=2048)
    parser.add_argument('--num-neighbors', nargs='+', type=int,
                        default=[10, 10])
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--json', default=None)
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    import torch

    from lirdrec_pyg.data import UI, BPRSampler, make_synthetic
    from lirdrec_pyg.nn import propagation
    from lirdrec_pyg.nn.kernels import csr_spmm_kernel
    torch.set_num_threads(args.threads)
    compiled = csr_spmm_kernel() is not None
    size = int(args.size)
    num_users = max(size // TRAIN_PER_USER, 100)
    num_items = max(num_users // USERS_PER_ITEM, 50)
    start = time.perf_counter()
    data = make_synthetic(num_users=num_users, num_items=num_items,
                          interactions_per_user=20, modality_dims={},
                          method='candidates', seed=args.seed)
    generate = time.perf_counter() - start
    edge_index = data[UI].edge_index
    users, pos, neg = BPRSampler(edge_index, num_users, num_items).sample(
        torch.Generator().manual_seed(args.seed))
    bs = args.batch_size
    num_batches = math.ceil(users.numel() / bs)
    new_transpose = propagation.transpose_csr
    variants = {name: Variant(name, data, args.num_neighbors, args.seed)
                for name in ('before', 'after')}
    step = 0
    for r in range(args.rounds + 1):  # round 0 warms up
        order = ('before', 'after') if r % 2 == 0 else ('after', 'before')
        for name in order:
            for s in range(args.steps):
                b = (step + s) % num_batches
                sl = slice(b * bs, (b + 1) * bs)
                # The same batch and draws for both variants.
                generator = torch.Generator().manual_seed(args.seed + step
                                                          + s)
                variants[name].step(users[sl], pos[sl], neg[sl], generator)
        step += args.steps
        if r == 0:
            for v in variants.values():
                v.times = {p: [] for p in PHASES}
    propagation.transpose_csr = new_transpose
    before, after = variants['before'], variants['after']
    same = (before.losses == after.losses and torch.equal(
        before.model.embedding.weight, after.model.embedding.weight))

    def ms(times: List[float]) -> float:
        return round(1e3 * statistics.median(times), 2)

    phases = {name: {p: ms(v.times[p]) for p in PHASES}
              for name, v in variants.items()}
    totals = {name: [sum(v.times[p][i] for p in PHASES)
                     for i in range(len(v.times['sample']))]
              for name, v in variants.items()}
    nodes = statistics.mean(after.nodes)
    result = dict(
        size=int(edge_index.size(1)), num_users=num_users,
        num_items=num_items, generate_seconds=round(generate, 1),
        threads=torch.get_num_threads(), compiled_spmm=compiled,
        batch_size=bs, num_neighbors=args.num_neighbors,
        rounds=args.rounds, steps_per_round=args.steps,
        subgraph_nodes=round(nodes), phases_ms=phases,
        step_ms={name: ms(t) for name, t in totals.items()},
        ratio_before_over_after=round(
            statistics.median(totals['before'])
            / statistics.median(totals['after']), 3),
        optimizer_ratio=round(
            (phases['before']['coalesce'] + phases['before']['optimizer'])
            / max(phases['after']['coalesce']
                  + phases['after']['optimizer'], 1e-9), 2),
        transpose_ratio=round(phases['before']['transpose']
                              / phases['after']['transpose'], 2),
        us_per_node={name: round(1e3 * t / nodes, 3) for name, t in
                     ((n, ms(totals[n])) for n in totals)},
        same_losses_and_tables=bool(same),
        max_loss_difference=max(abs(a - b) for a, b in
                                zip(before.losses, after.losses)),
        max_table_difference=float((before.model.embedding.weight.detach()
                                    - after.model.embedding.weight.detach())
                                   .abs().max()),
        after_is_the_models_loss=after.same_as_model,
        command='python benchmarks/sampled_step.py ' + ' '.join(sys.argv[1:]))
    print(json.dumps(result), flush=True)
    if args.json:
        from lirdrec_pyg.train.io import atomic_write_json
        atomic_write_json(args.json, result)


if __name__ == '__main__':
    main()
