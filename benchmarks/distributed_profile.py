"""Where the time of one LIRDRec training step goes, with 1 or 2 processes
(one thread each): a timeline of events per step (forward phases entered
and left, the gradient reaching each phase's output and each encoder's
first layer, every collective's start and end, the optimiser), averaged
over the timed steps, with wall and process CPU milliseconds per interval;
and for every collective of a multi-process run, how long this rank waited
for the other to arrive (imbalance) and how long the transfer took after
the last rank arrived.

    python benchmarks/distributed_profile.py --processes 1 2 --steps 6

Every configuration runs in fresh processes started by ``torchrun``. One
JSON line per rank and configuration (``intervals``: label, wall ms, CPU
ms per step; ``collectives``: kind, MB, wait ms, transfer ms per step),
then a table per configuration on stderr.
"""
import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable, Dict, List

ROOT = Path(__file__).resolve().parents[1]


class Timeline:
    r"""Events ``(label, wall, cpu)`` of the current step, and the
    collectives' start and end times."""
    def __init__(self) -> None:
        self.events: List[tuple] = []
        self.collectives: List[dict] = []
        self.on = False

    def mark(self, label: str) -> None:
        if self.on:
            self.events.append((label, time.perf_counter(),
                                time.process_time()))


def instrument(model: Any, timeline: Timeline) -> None:
    r"""Wraps the phases of LIRDRec's step (both its one-process and its
    sharded path) and the collectives with events."""
    import torch
    import torch.distributed as dist

    import lirdrec_pyg.distributed.sharding as sharding_mod
    import lirdrec_pyg.models.lirdrec as lirdrec_mod

    def hook_output(name: str, out: Any) -> None:
        tensors = out if isinstance(out, (tuple, list)) else (out, )
        for t in tensors:
            if isinstance(t, torch.Tensor) and t.requires_grad:
                t.register_hook(lambda g, n=name: timeline.mark(f'grad@{n}'))

    def timed(name: str, fn: Callable) -> Callable:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            timeline.mark(f'>{name}')
            out = fn(*args, **kwargs)
            timeline.mark(f'<{name}')
            hook_output(name, out)
            return out
        return wrapper

    names = list(model.modalities) + (['shared'] if model.shared is not None
                                      else [])
    encoders = list(model.encoders) + ([model.shared] if model.shared
                                       is not None else [])
    for name, enc in zip(names, encoders):
        enc.forward = timed(f'enc:{name}', enc.forward)
        first = enc.encoder.lin1 if name == 'shared' else enc.lin1
        first.weight.register_post_accumulate_grad_hook(
            lambda p, n=name: timeline.mark(f'done:enc:{n}'))
    if model.pwc is not None:
        model.pwc.forward = timed('pwc', model.pwc.forward)
    model.propagation.forward = timed('propagation', model.propagation.forward)
    for fn in ('bipartite_propagation', 'sparse_propagate', 'l2_normalize',
               'dot_bpr_loss', 'embedding_bpr_loss', 'mean_square'):
        label = {'sparse_propagate': 'item_graph',
                 'bipartite_propagation': 'propagation'}.get(fn, fn)
        setattr(lirdrec_mod, fn, timed(label, getattr(lirdrec_mod, fn)))

    def collective(kind: str, fn: Callable) -> Callable:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            tensor = next(a for a in args if isinstance(a, torch.Tensor))
            timeline.mark(f'>{kind}')
            start = time.perf_counter()
            out = fn(*args, **kwargs)
            end = time.perf_counter()
            timeline.mark(f'<{kind}')
            if timeline.on:
                timeline.collectives.append({
                    'kind': kind, 'start': start, 'end': end,
                    'mb': round(tensor.numel() * tensor.element_size() / 2**20,
                                2)})
            return out
        return wrapper

    sharding_mod._all_gather_single = collective(
        'all_gather', sharding_mod._all_gather_single)
    for kind in ('all_reduce', 'all_to_all_single'):
        setattr(dist, kind, collective(kind, getattr(dist, kind)))


def child(args: argparse.Namespace) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import torch
    import torch.distributed as dist

    from epoch_timing import build_trainer, load
    from lirdrec_pyg.data import UI, BPRSampler
    torch.set_num_threads(1)
    data = load(args.dataset)
    trainer = build_trainer('lirdrec', args.dataset, data, 'cpu')
    model, sharding = trainer.model, trainer.sharding
    timeline = Timeline()
    instrument(model, timeline)
    optimizer = trainer.make_optimizer()
    if hasattr(optimizer, 'adam'):
        optimizer.adam.step = _timed_step(optimizer.adam.step, timeline)
    else:
        optimizer.step = _timed_step(optimizer.step, timeline)
    sampler = BPRSampler(trainer.data[UI].edge_index, model.num_users,
                         model.num_items)
    users, pos, neg = sampler.sample(torch.Generator().manual_seed(0))
    bs = trainer.config.batch_size
    batches = -(-users.numel() // bs)
    model.train()
    model.on_epoch_start(1)
    steps: List[List[tuple]] = []
    colls: List[List[dict]] = []
    for b in range(args.warmup + args.steps):
        sl = slice(b % batches * bs, (b % batches + 1) * bs)
        timeline.events, timeline.collectives = [], []
        timeline.on = b >= args.warmup
        if sharding.world_size > 1:
            dist.barrier()
        timeline.mark('step')
        loss = model.loss(*trainer._batch(users[sl], pos[sl], neg[sl]))
        timeline.mark('backward')
        optimizer.zero_grad()
        loss.backward()
        timeline.mark('optimizer')
        optimizer.step()
        timeline.mark('end')
        if timeline.on:
            steps.append(timeline.events)
            colls.append(timeline.collectives)
    timeline.on = False
    row = {'processes': sharding.world_size, 'rank': sharding.rank,
           'threads': torch.get_num_threads(), 'steps': args.steps,
           'intervals': _intervals(steps), 'collectives': []}
    if sharding.world_size > 1:
        everyone = [None] * sharding.world_size
        dist.all_gather_object(everyone, colls)
        row['collectives'] = _waits(everyone, sharding.rank, args.steps)
        dist.destroy_process_group()
    sys.stdout.write(json.dumps(row) + '\n')
    sys.stdout.flush()
    return 0


def _timed_step(step: Callable, timeline: Timeline) -> Callable:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        timeline.mark('>adam')
        out = step(*args, **kwargs)
        timeline.mark('<adam')
        return out
    return wrapper


def _intervals(steps: List[List[tuple]]) -> List[list]:
    # Every interval between consecutive events, labelled 'a -> b', in the
    # order of the first step; wall and CPU ms per step.
    total: Dict[str, List[float]] = defaultdict(lambda: [0.0, 0.0])
    order: List[str] = []
    for events in steps:
        part = 'forward'
        for (a, wa, ca), (b, wb, cb) in zip(events, events[1:]):
            part = {'backward': 'backward', 'optimizer': 'optimizer'}.get(
                a, part)
            label = f'{part}: {a} -> {b}'
            if label not in total:
                order.append(label)
            total[label][0] += (wb - wa) * 1e3
            total[label][1] += (cb - ca) * 1e3
    n = len(steps)
    return [[label, round(total[label][0] / n, 2),
             round(total[label][1] / n, 2)] for label in order]


def _waits(everyone: List[Any], rank: int, steps: int) -> List[dict]:
    # perf_counter is the machine's monotonic clock, the same in every
    # process: a collective ends no earlier than the last rank's arrival.
    out: Dict[tuple, List[float]] = {}
    mine = everyone[rank]
    for s, step in enumerate(mine):
        for i, c in enumerate(step):
            last = max(r[s][i]['start'] for r in everyone)
            key = (i, c['kind'], c['mb'])
            entry = out.setdefault(key, [0.0, 0.0])
            entry[0] += (last - c['start']) * 1e3
            entry[1] += (c['end'] - last) * 1e3
    return [{'index': i, 'kind': kind, 'mb': mb,
             'wait_ms': round(w / steps, 2), 'transfer_ms': round(t / steps, 2)}
            for (i, kind, mb), (w, t) in sorted(out.items())]


def run(processes: int, args: argparse.Namespace) -> List[dict]:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from distributed import launch
    return launch(__file__, processes,
                  ['--dataset', args.dataset, '--steps', str(args.steps),
                   '--warmup', str(args.warmup)])


def main(argv: Any = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--processes', type=int, nargs='+', default=[1, 2])
    parser.add_argument('--dataset', default='baby_sized')
    parser.add_argument('--steps', type=int, default=6)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--child', action='store_true', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)
    for processes in args.processes:
        for row in sorted(run(processes, args), key=lambda r: r['rank']):
            print(json.dumps(row), flush=True)
            print(f"--- {processes} process(es), rank {row['rank']}: "
                  f"ms per step (wall, CPU)", file=sys.stderr)
            for label, wall, cpu in row['intervals']:
                print(f'{wall:9.2f} {cpu:9.2f}  {label}', file=sys.stderr)
            for c in row['collectives']:
                print(f"  #{c['index']} {c['kind']} {c['mb']} MB: wait "
                      f"{c['wait_ms']} ms, transfer {c['transfer_ms']} ms",
                      file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
