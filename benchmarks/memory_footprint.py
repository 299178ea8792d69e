"""Memory of the models' tensors per million users, items and training
interactions, measured by counting the bytes of every tensor a training run
holds after one step: parameters, gradients, Adam state, buffers (features,
their DCT) and the fixed graphs (the normalised adjacency, the item kNN
graph), for full-graph and sampled-subgraph training.

    python benchmarks/memory_footprint.py --models lightgcn bpr lirdrec --out docs/data/memory_footprint.json

Five synthetic graphs (a base one, twice the users, twice the items,
twice the interactions per user, and a mix) give the bytes per user, per
item and per interaction by least squares; the fit's largest residual is
printed (near zero when memory is linear in the three counts). Activations of a
step are not counted (full-graph training holds a few ``[N, d]`` buffers per
layer; the sampled mode a few per sampled node); the peak resident memory of
whole runs is in ``benchmarks/scale_sweep.py``.
"""
import argparse
import json
import sys
from pathlib import Path
from typing import Any, Dict, Iterable, List

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

BASE = dict(num_users=8000, num_items=2000, per_user=20)
CONFIGS = [BASE, dict(BASE, num_users=16000), dict(BASE, num_items=4000),
           dict(BASE, per_user=40),
           dict(num_users=24000, num_items=3000, per_user=30)]
LIRDREC_FEATURES = {'image': 4096, 'text': 384}  # Amazon Baby's sizes


def _tensors(obj: Any) -> Iterable[torch.Tensor]:
    if isinstance(obj, torch.Tensor):
        if obj.layout == torch.sparse_csr:
            yield from (obj.crow_indices(), obj.col_indices(), obj.values())
            cached = getattr(obj, '_lirdrec_transpose', None)
            if cached is not None:
                yield from _tensors(cached)
        elif obj.is_sparse:
            yield from (obj._indices(), obj._values())
        else:
            yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _tensors(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _tensors(v)


def nbytes(objs: Iterable[Any]) -> int:
    seen, total = set(), 0
    for obj in objs:
        for t in _tensors(obj):
            key = (t.untyped_storage().data_ptr(), t.untyped_storage().nbytes())
            if key[0] == 0 or key in seen:
                continue
            seen.add(key)
            total += key[1]
    return total


def measure(model_name: str, mode: str, cfg: Dict[str, int]) -> Dict[str, Any]:
    from lirdrec_pyg.data import UI, BPRSampler, make_synthetic
    from lirdrec_pyg.models import create_model
    from lirdrec_pyg.train.sampled import (make_sampled_optimizer,
                                           make_subgraph_sampler,
                                           subgraph_batch_loss)
    from lirdrec_pyg.train.trainer import make_adam

    data = make_synthetic(num_users=cfg['num_users'],
                          num_items=cfg['num_items'],
                          interactions_per_user=cfg['per_user'],
                          modality_dims=LIRDREC_FEATURES
                          if model_name == 'lirdrec' else {},
                          method='candidates', seed=0)
    torch.manual_seed(0)
    model = create_model(model_name, data)
    edge_index = data[UI].edge_index
    sampler = BPRSampler(edge_index, model.num_users, model.num_items)
    users, pos, neg = sampler.sample(torch.Generator().manual_seed(0))
    b = slice(0, 2048)
    if mode == 'sampled':
        subgraph = make_subgraph_sampler(model, data, 10)
        optimizer = make_sampled_optimizer(model, 1e-3)
        loss = subgraph_batch_loss(model, subgraph, users[b], pos[b], neg[b])
        extra = [subgraph.degree, subgraph.deg_inv_sqrt,
                 subgraph.sampler.colptr, subgraph.sampler.row,
                 subgraph.sampler.perm]
    else:
        optimizer = make_adam(model.parameters(), 1e-3)
        loss = model.loss(users[b], pos[b], neg[b])
        extra = []
    loss.backward()
    optimizer.step()
    params = list(model.parameters())
    opt_state = optimizer.state_dict()
    parts = {
        'parameters': nbytes(params),
        'gradients': nbytes([p.grad for p in params if p.grad is not None]),
        'adam_state': nbytes([opt_state]),
        'buffers': nbytes(list(model.buffers())),
        'graphs': nbytes(list(model._graphs.values())),
        'sampler': nbytes([sampler.key, sampler.users, sampler.items,
                           sampler.degree, sampler.ptr, sampler._gap_key,
                           edge_index] + extra),
    }
    parts['total'] = sum(parts.values())
    return dict(num_users=model.num_users, num_items=model.num_items,
                num_edges=int(edge_index.size(1)), **parts)


def per_million(rows: List[Dict[str, Any]]) -> Dict[str, Dict[str, float]]:
    import numpy as np
    x = np.array([[r['num_users'], r['num_items'], r['num_edges'], 1.0]
                  for r in rows])
    out = {}
    for part in ('parameters', 'gradients', 'adam_state', 'buffers',
                 'graphs', 'sampler', 'total'):
        y = np.array([r[part] for r in rows], dtype=float)
        coef, *_ = np.linalg.lstsq(x, y, rcond=None)
        residual = float(np.abs(x @ coef - y).max())
        mib = coef[:3] * 1e6 / 2**20
        out[part] = dict(per_million_users_mib=round(float(mib[0]), 1),
                         per_million_items_mib=round(float(mib[1]), 1),
                         per_million_edges_mib=round(float(mib[2]), 1),
                         max_residual_bytes=round(residual))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--models', nargs='+',
                        default=['lightgcn', 'bpr', 'lirdrec'])
    parser.add_argument('--modes', nargs='+', default=['full', 'sampled'])
    parser.add_argument('--out', help='write the results as JSON here')
    args = parser.parse_args()
    torch.set_num_threads(1)
    from lirdrec_pyg.models import create_model  # noqa: F401
    from lirdrec_pyg.models.registry import MODELS
    results = []
    for name in args.models:
        for mode in args.modes:
            if mode == 'sampled' and not getattr(
                    MODELS[name], 'supports_subgraph', False):
                continue
            rows = [measure(name, mode, cfg) for cfg in CONFIGS]
            row = dict(model=name, mode=mode,
                       per_million=per_million(rows), graphs=rows)
            print(json.dumps(dict(model=name, mode=mode,
                                  total=row['per_million']['total'])),
                  flush=True)
            results.append(row)
    if args.out:
        from lirdrec_pyg.train.io import atomic_write_json
        atomic_write_json(args.out, results)


if __name__ == '__main__':
    main()
