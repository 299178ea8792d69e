r"""FREEDOM's degree-sensitive edge dropout on the user-item graph."""
from typing import Optional

import torch
from torch import Tensor

from lirdrec_pyg.transforms.adjacency import (bipartite_normalized_adjacency,
                                              check_edge_index,
                                              interaction_degrees)


def degree_sensitive_edge_weight(edge_index: Tensor, num_users: int,
                                 num_items: int,
                                 eps: float = 1e-7) -> Tensor:
    r"""The sampling weight :math:`w_{ui} = 1/\sqrt{d_u d_i}` of every
    user-item edge (the entries of the normalised bipartite adjacency), with
    the degrees :math:`d` of the full training graph.

    Args:
        edge_index (torch.Tensor): Interactions :obj:`[2, num_edges]` (row 0
            users, row 1 items), without duplicates.
        num_users (int): The number of users.
        num_items (int): The number of items.
        eps (float, optional): Added to the degrees. (default: :obj:`1e-7`)
    """
    check_edge_index(edge_index, num_users, num_items)
    user, item = edge_index[0], edge_index[1]
    deg_u, deg_i = interaction_degrees(edge_index, num_users, num_items)
    return (deg_u[user] + eps).pow(-0.5) * (deg_i[item] + eps).pow(-0.5)


def degree_sensitive_edge_dropout(
    edge_index: Tensor,
    num_users: int,
    num_items: int,
    p: float,
    edge_weight: Optional[Tensor] = None,
    generator: Optional[torch.Generator] = None,
) -> Tensor:
    r"""The degree-sensitive edge pruning of `"A Tale of Two Graphs: Freezing
    and Denoising Graph Structures for Multimodal Recommendation"
    <https://arxiv.org/abs/2211.06924>`_ (FREEDOM): keeps
    :math:`n = \lfloor (1-p)|\mathcal{E}| \rfloor` edges drawn without
    replacement with probability proportional to

    .. math::
        w_{ui} = \frac{1}{\sqrt{d_u}\sqrt{d_i}},

    so edges between high-degree nodes (popular items, heavy users) are the
    most likely to be dropped. Sampling uses exponential races: the
    :math:`n` edges with the smallest :math:`\epsilon_e / w_e`,
    :math:`\epsilon_e \sim \mathrm{Exp}(1)`, are exactly a successive
    weighted draw without replacement (the law of
    :obj:`torch.multinomial(w, n)`), without its :math:`2^{24}`-category
    limit. Returns the kept edges in their original order; build the
    renormalised adjacency with :func:`dropped_ui_adjacency`.

    Args:
        edge_index (torch.Tensor): Interactions :obj:`[2, num_edges]` (row 0
            users, row 1 items), without duplicates.
        num_users (int): The number of users.
        num_items (int): The number of items.
        p (float): The fraction of edges to drop, in :math:`[0, 1)`.
        edge_weight (torch.Tensor, optional): Precomputed sampling weights
            (default: :obj:`None`, :func:`degree_sensitive_edge_weight`).
        generator (torch.Generator, optional): Source of randomness
            (default: :obj:`None`, the global one).
    """
    if not 0.0 <= p < 1.0:
        raise ValueError(f"'p' (the dropout ratio) must lie in [0, 1) "
                         f"(got {p})")
    if edge_weight is None:
        edge_weight = degree_sensitive_edge_weight(edge_index, num_users,
                                                   num_items)
    elif edge_weight.numel() != edge_index.size(1):
        raise ValueError(f"'edge_weight' has {edge_weight.numel()} entries "
                         f"but 'edge_index' has {edge_index.size(1)} edges")
    num_keep = int(edge_index.size(1) * (1.0 - p))
    if p == 0.0 or num_keep == edge_index.size(1):
        return edge_index
    # Drawn on the CPU so that a seed gives the same edges on every device.
    uniform = torch.rand(edge_weight.numel(), generator=generator)
    uniform = uniform.to(edge_weight.device)
    race = -torch.log1p(-uniform) / edge_weight
    keep = race.topk(num_keep, largest=False).indices.sort().values
    return edge_index[:, keep]


def dropped_ui_adjacency(
    edge_index: Tensor,
    num_users: int,
    num_items: int,
    p: float,
    edge_weight: Optional[Tensor] = None,
    generator: Optional[torch.Generator] = None,
) -> Tensor:
    r"""The normalised bipartite adjacency
    (:func:`~lirdrec_pyg.transforms.adjacency.bipartite_normalized_adjacency`)
    of the edges kept by :func:`degree_sensitive_edge_dropout`, with the
    degrees recomputed on the kept graph (FREEDOM's renormalisation). Takes
    the same arguments."""
    kept = degree_sensitive_edge_dropout(edge_index, num_users, num_items, p,
                                         edge_weight, generator)
    return bipartite_normalized_adjacency(kept, num_users, num_items)
