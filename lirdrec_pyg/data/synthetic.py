r"""A synthetic multimodal recommendation dataset with planted structure.

Users and items get latent factors :math:`\mathbf{p}_u, \mathbf{q}_i` drawn
around shared cluster centres (unit-normalised). User :math:`u` interacts
with :math:`n_u` distinct items drawn without replacement with probability

.. math::
    P(i \mid u) \propto \exp\left(\mathbf{p}_u^{\top} \mathbf{q}_i / \tau
    \right) \cdot \pi_i^{\,s},

where :math:`\pi_i \propto 1 / \mathrm{rank}_i` is a Zipf popularity and
:math:`s` the popularity skew. Each modality :math:`m` is a noisy, optionally
non-linear view of the item factors,

.. math::
    \mathbf{X}_m = \sigma(\mathbf{Q} \mathbf{W}_m) + \epsilon
    \mathbf{N}_m, \qquad \mathbf{W}_m, \mathbf{N}_m \sim \mathcal{N}(0, 1),

so both collaborative signals and features are informative.
"""
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import HeteroData

from lirdrec_pyg.data.hetero import build_hetero_data
from lirdrec_pyg.data.splits import random_split_per_user

_BLOCK = 4096  # users per block when drawing interactions (memory bound)


def _clustered_factors(centres: Tensor, num: int, spread: float,
                       gen: torch.Generator) -> Tensor:
    num_clusters, dim = centres.shape
    cluster = torch.randint(num_clusters, (num, ), generator=gen)
    noise = torch.randn(num, dim, generator=gen) * spread / dim**0.5
    return F.normalize(centres[cluster] + noise, dim=-1)


def _draw_interactions(user_f: Tensor, item_f: Tensor, log_pop: Tensor,
                       counts: Tensor, temperature: float,
                       gen: torch.Generator) -> Tensor:
    # Gumbel top-k: the k largest of (log-weight + Gumbel noise) are a draw
    # of k items without replacement with probability proportional to the
    # weights.
    max_count = int(counts.max())
    users, items = [], []
    for start in range(0, user_f.size(0), _BLOCK):
        logits = user_f[start:start + _BLOCK] @ item_f.t() / temperature
        logits = logits + log_pop
        uniform = torch.rand(logits.shape, generator=gen).clamp_(min=1e-12)
        top = (logits - torch.log(-torch.log(uniform))).topk(max_count).indices
        keep = torch.arange(max_count) < counts[start:start + _BLOCK, None]
        rows = torch.arange(start, start + top.size(0))[:, None]
        users.append(rows.expand_as(top)[keep])
        items.append(top[keep])
    return torch.stack([torch.cat(users), torch.cat(items)])


def make_synthetic(
    num_users: int = 2000,
    num_items: int = 1000,
    modality_dims: Optional[Dict[str, int]] = None,
    num_factors: int = 16,
    num_clusters: int = 8,
    cluster_spread: float = 1.0,
    interactions_per_user: int = 20,
    feature_noise: float = 0.5,
    popularity_skew: float = 1.0,
    temperature: float = 0.1,
    nonlinear: bool = True,
    ratios: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    name: str = 'synthetic',
    return_factors: bool = False,
) -> Union[HeteroData, Tuple[HeteroData, Tuple[Tensor, Tensor]]]:
    r"""Generates a synthetic multimodal dataset (see the module docstring)
    with a per-user random split.

    Args:
        num_users (int, optional): Number of users. (default: :obj:`2000`)
        num_items (int, optional): Number of items. (default: :obj:`1000`)
        modality_dims (dict, optional): Feature dimension per modality.
            (default: :obj:`{'image': 256, 'text': 128}`)
        num_factors (int, optional): Latent dimension.
            (default: :obj:`16`)
        num_clusters (int, optional): Number of factor clusters.
            (default: :obj:`8`)
        cluster_spread (float, optional): Spread of factors around their
            cluster centre (relative to the unit-norm centres).
            (default: :obj:`1.0`)
        interactions_per_user (int, optional): Mean number of interactions
            per user; each user gets a uniform count in
            :math:`[\lceil n/2 \rceil, \lfloor 3n/2 \rfloor]`, at least 3.
            (default: :obj:`20`)
        feature_noise (float, optional): Standard deviation
            :math:`\epsilon` of the feature noise. (default: :obj:`0.5`)
        popularity_skew (float, optional): Exponent :math:`s` of the
            popularity term. (default: :obj:`1.0`)
        temperature (float, optional): Softmax temperature :math:`\tau`.
            (default: :obj:`0.1`)
        nonlinear (bool, optional): Apply :math:`\sigma = \tanh` to the
            projected factors. (default: :obj:`True`)
        ratios (tuple, optional): Train, validation, test fractions.
            (default: :obj:`(0.8, 0.1, 0.1)`)
        seed (int, optional): Random seed. (default: :obj:`0`)
        name (str, optional): Dataset name. (default: :obj:`'synthetic'`)
        return_factors (bool, optional): Also return the planted user and
            item factors. (default: :obj:`False`)
    """
    if modality_dims is None:
        modality_dims = {'image': 256, 'text': 128}
    if num_users < 1 or num_items < 2:
        raise ValueError(f"Need at least one user and two items (got "
                         f"num_users={num_users}, num_items={num_items})")
    if interactions_per_user < 1 or temperature <= 0:
        raise ValueError(f"'interactions_per_user' ({interactions_per_user})"
                         f" and 'temperature' ({temperature}) must be "
                         f"positive")
    gen = torch.Generator().manual_seed(int(seed))
    centres = F.normalize(torch.randn(num_clusters, num_factors,
                                      generator=gen), dim=-1)
    user_f = _clustered_factors(centres, num_users, cluster_spread, gen)
    item_f = _clustered_factors(centres, num_items, cluster_spread, gen)

    rank = torch.randperm(num_items, generator=gen).double() + 1
    log_pop = (-popularity_skew * torch.log(rank)).float()

    low = max(3, (interactions_per_user + 1) // 2)
    high = max(low, 3 * interactions_per_user // 2)
    # Leave every user at least one item to be sampled as a negative.
    counts = torch.randint(low, high + 1, (num_users, ), generator=gen)
    counts = counts.clamp(max=num_items - 1)
    edge_index = _draw_interactions(user_f, item_f, log_pop, counts,
                                    temperature, gen)

    features = {}
    for modality, dim in modality_dims.items():
        signal = item_f @ torch.randn(num_factors, dim, generator=gen)
        if nonlinear:
            signal = torch.tanh(signal)
        noise = torch.randn(num_items, dim, generator=gen)
        features[modality] = signal + feature_noise * noise

    train, val, test = random_split_per_user(edge_index, num_users, ratios,
                                             seed=seed)
    data = build_hetero_data(num_users, num_items, edge_index[:, train],
                             edge_index[:, val], edge_index[:, test],
                             features=features, name=name)
    if return_factors:
        return data, (user_f, item_f)
    return data
