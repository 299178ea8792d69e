"""The cold-start item protocol: items whose interactions are all held out."""
from dataclasses import dataclass
from typing import Tuple

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from lirdrec_pyg.data.hetero import (build_hetero_data, get_modalities,
                                     num_items, num_users, split_edge_index)


@dataclass
class ColdItems:
    r"""Held-out items and all their interactions.

    Attributes:
        items (torch.Tensor): The held-out item ids (sorted).
        edge_index (torch.Tensor): Every interaction (from any split) of a
            held-out item, by a user that still has training interactions.
    """
    items: Tensor
    edge_index: Tensor


def hold_out_items(data: HeteroData, fraction: float,
                   seed: int = 0) -> Tuple[HeteroData, ColdItems]:
    r"""Removes a random :obj:`fraction` of the items with interactions from
    every split (their features stay, as a new item's would arrive with its
    features) and returns the reduced graph with the held-out interactions.

    A model that represents items from their features can then rank the
    held-out items for users; an ID-based model has never trained their
    embeddings.

    Args:
        data (HeteroData): The dataset.
        fraction (float): Share of the interacted items to hold out, in
            :math:`(0, 1)`.
        seed (int, optional): Fixes the choice. (default: :obj:`0`)
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"'cold_item_fraction' must lie in (0, 1) "
                         f"(got {fraction})")
    splits = [split_edge_index(data, s) for s in ('train', 'valid', 'test')]
    seen = torch.unique(torch.cat([e[1] for e in splits]))
    generator = torch.Generator().manual_seed(seed)
    count = max(1, int(round(fraction * seen.numel())))
    items = seen[torch.randperm(seen.numel(), generator=generator)[:count]]
    items = items.sort().values
    is_cold = torch.zeros(num_items(data), dtype=torch.bool)
    is_cold[items] = True
    kept = [e[:, ~is_cold[e[1]]] for e in splits]
    held = torch.cat([e[:, is_cold[e[1]]] for e in splits], dim=1)
    features = {m: data['item'][m] for m in get_modalities(data)}
    reduced = build_hetero_data(num_users(data), num_items(data), kept[0],
                                kept[1], kept[2], features=features,
                                name=getattr(data, 'name', ''))
    # Held-out items are never drawn as BPR negatives (see negative_pool).
    reduced.cold_items = items
    has_train = torch.zeros(num_users(data), dtype=torch.bool)
    has_train[kept[0][0]] = True
    held = held[:, has_train[held[0]]]
    if held.size(1) == 0:
        raise ValueError("no held-out interaction belongs to a user with "
                         "training interactions; raise 'cold_item_fraction'")
    return reduced, ColdItems(items, held)
