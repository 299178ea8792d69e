r"""Dataset statistics: sizes, density, degree distributions and connected
components of the training graph, modalities."""
from typing import Any, Dict, List, Tuple

import numpy as np
from torch import Tensor
from torch_geometric.data import HeteroData

from lirdrec_pyg.data.hetero import (
    ITEM,
    SPLITS,
    get_modalities,
    num_items,
    num_users,
    split_edge_index,
)


def _degree_stats(index: Tensor, num_nodes: int) -> Dict[str, float]:
    degree = np.bincount(index.cpu().numpy(), minlength=num_nodes)
    return dict(min=int(degree.min()), mean=float(degree.mean()),
                median=float(np.median(degree)), max=int(degree.max()))


def _components(train: Tensor, num_u: int, num_i: int) -> Tuple[int, int]:
    # Imported here: networkx adds ~12 MiB to every process that imports
    # the package, and only the summary needs it.
    import networkx as nx
    graph = nx.Graph()
    graph.add_nodes_from(range(num_u + num_i))
    edges = train.cpu().numpy()
    graph.add_edges_from(zip(edges[0].tolist(),
                             (edges[1] + num_u).tolist()))
    sizes = [len(c) for c in nx.connected_components(graph)]
    return len(sizes), max(sizes)


def dataset_summary(data: HeteroData) -> Dict[str, Any]:
    r"""Computes the statistics of a dataset built by
    :func:`~lirdrec_pyg.data.hetero.build_hetero_data`.

    Returns:
        A dictionary with keys :obj:`name`, :obj:`users`, :obj:`items`,
        :obj:`interactions` (per split and :obj:`total`), :obj:`density`
        (all interactions over :math:`U \cdot I`), :obj:`user_degree` and
        :obj:`item_degree` (training-graph :obj:`min`, :obj:`mean`,
        :obj:`median`, :obj:`max`), :obj:`components` and
        :obj:`largest_component` (of the training graph over all
        :math:`U + I` nodes, isolated nodes counting as components),
        :obj:`modalities` (name to dimension) and
        :obj:`dropped_cold_users`.
    """
    num_u, num_i = num_users(data), num_items(data)
    counts = {s: int(split_edge_index(data, s).size(1)) for s in SPLITS}
    counts['total'] = sum(counts.values())
    train = split_edge_index(data, 'train')
    components, largest = _components(train, num_u, num_i)
    return dict(
        name=str(getattr(data, 'name', '') or ''),
        users=num_u,
        items=num_i,
        interactions=counts,
        density=counts['total'] / (num_u * num_i),
        user_degree=_degree_stats(train[0], num_u),
        item_degree=_degree_stats(train[1], num_i),
        components=components,
        largest_component=largest,
        modalities={m: int(data[ITEM][m].size(-1))
                    for m in get_modalities(data)},
        dropped_cold_users=int(getattr(data, 'num_dropped_cold_users', 0)),
    )


def _fmt_degree(stats: Dict[str, float]) -> str:
    return (f"{stats['min']:,} / {stats['mean']:,.2f} / "
            f"{stats['median']:,.1f} / {stats['max']:,}")


def format_summary(summary: Dict[str, Any]) -> str:
    r"""Formats the output of :func:`dataset_summary` as a two-column
    table."""
    inter = summary['interactions']
    modalities = ', '.join(f'{m} ({d})'
                           for m, d in summary['modalities'].items())
    rows: List[Tuple[str, str]] = [
        ('users', f"{summary['users']:,}"),
        ('items', f"{summary['items']:,}"),
        ('interactions train / valid / test',
         f"{inter['train']:,} / {inter['valid']:,} / {inter['test']:,}"),
        ('interactions total', f"{inter['total']:,}"),
        ('density', f"{summary['density']:.4%}"),
        ('user degree min / mean / median / max',
         _fmt_degree(summary['user_degree'])),
        ('item degree min / mean / median / max',
         _fmt_degree(summary['item_degree'])),
        ('connected components (train graph)',
         f"{summary['components']:,} (largest: "
         f"{summary['largest_component']:,} nodes)"),
        ('modalities', modalities or 'none'),
        ('dropped cold users', f"{summary['dropped_cold_users']:,}"),
    ]
    width = max(len(k) for k, _ in rows)
    title = f"Dataset: {summary['name'] or '(unnamed)'}"
    lines = [title, '-' * max(len(title), width + 2 + max(
        len(v) for _, v in rows))]
    lines += [f'{k:<{width}}  {v}' for k, v in rows]
    return '\n'.join(lines)
