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

Two ways to draw the interactions (:obj:`method`):

* :obj:`"exact"`: the Gumbel top-:math:`k` over **all** items of every
  user, an exact draw without replacement; its cost grows with
  :math:`U \cdot I`, i.e. with the square of the graph (800k interactions
  take about 30 s).
* :obj:`"candidates"`: per user, :math:`M` candidate items are drawn from a
  proposal :math:`q(i \mid u) = \frac{1}{2} \pi_i^{s} / Z +
  \frac{1}{2} \mathbb{1}[c_i = c_u] / |C_{c_u}|` (popularity, and uniform
  over the items of the user's factor cluster), and the Gumbel top-:math:`k`
  runs over the distinct candidates with the importance log-weights
  :math:`\mathbf{p}_u^{\top} \mathbf{q}_i / \tau + s \log \pi_i - \log
  q(i \mid u)` (sampling-importance-resampling without replacement). Its
  cost is :math:`O(U M)`, linear in the number of interactions: 10^7
  interactions take about a minute. A user gets fewer than its count when
  its candidates hold fewer distinct items.
"""
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import HeteroData

from lirdrec_pyg.data.hetero import build_hetero_data
from lirdrec_pyg.data.splits import random_split_per_user

_BLOCK = 4096  # users per block when drawing interactions (memory bound)
_CANDIDATE_BLOCK = 65536  # users per block of the candidate method
METHODS = ('exact', 'candidates')


def _clustered_factors(centres: Tensor, num: int, spread: float,
                       gen: torch.Generator) -> Tuple[Tensor, Tensor]:
    num_clusters, dim = centres.shape
    cluster = torch.randint(num_clusters, (num, ), generator=gen)
    noise = torch.randn(num, dim, generator=gen) * spread / dim**0.5
    return F.normalize(centres[cluster] + noise, dim=-1), cluster


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


def _draw_interactions_candidates(user_f: Tensor, user_c: Tensor,
                                  item_f: Tensor, item_c: Tensor,
                                  log_pop: Tensor, counts: Tensor,
                                  temperature: float, num_clusters: int,
                                  oversample: int,
                                  gen: torch.Generator) -> Tensor:
    # Sampling-importance-resampling (see the module docstring): candidates
    # from q(i | u), then the Gumbel top-k of log p(i | u) - log q(i | u)
    # over the distinct candidates of each user.
    num_items = item_f.size(0)
    max_count = int(counts.max())
    num_pop = oversample * max_count
    num_cluster = oversample * max_count
    pop = torch.softmax(log_pop.double(), 0)
    cdf = pop.cumsum(0)
    cdf /= cdf[-1].clone()
    by_cluster = torch.argsort(item_c, stable=True)
    size = torch.bincount(item_c, minlength=num_clusters)
    start = size.cumsum(0) - size
    users, items = [], []
    for lo in range(0, user_f.size(0), _CANDIDATE_BLOCK):
        hi = min(lo + _CANDIDATE_BLOCK, user_f.size(0))
        n, cluster = hi - lo, user_c[lo:hi, None]
        u = torch.rand(n, num_pop, generator=gen, dtype=torch.float64)
        from_pop = torch.searchsorted(cdf, u).clamp_(max=num_items - 1)
        r = torch.rand(n, num_cluster, generator=gen, dtype=torch.float64)
        has = size[cluster] > 0
        within = (r * size[cluster]).long().clamp_(min=0)
        within = torch.minimum(within, (size[cluster] - 1).clamp(min=0))
        from_cluster = by_cluster[(start[cluster] + within).clamp_(
            max=num_items - 1)]
        # A user whose cluster holds no item draws popularity only.
        from_cluster = torch.where(has, from_cluster, from_pop[:, :1])
        cand = torch.cat([from_pop, from_cluster], dim=1)
        cand = cand.sort(dim=1).values
        duplicate = torch.zeros_like(cand, dtype=torch.bool)
        duplicate[:, 1:] = cand[:, 1:] == cand[:, :-1]
        same = (item_c[cand] == cluster).double()
        q = torch.where(has, 0.5 * pop[cand] + 0.5 * same / size[cluster]
                        .clamp(min=1), pop[cand])
        logits = (user_f[lo:hi, None, :] * item_f[cand]).sum(-1)
        logw = (logits / temperature + log_pop[cand]).double() - q.log()
        gumbel = -torch.log(-torch.log(torch.rand(
            cand.shape, generator=gen, dtype=torch.float64).clamp_(
                min=1e-12)))
        key = (logw + gumbel).masked_fill_(duplicate, -float('inf'))
        k = min(max_count, cand.size(1))
        top_key, top = key.topk(k, dim=1)
        keep = (torch.arange(k) < counts[lo:hi, None]) & (top_key > -float(
            'inf'))
        rows = torch.arange(lo, hi)[:, None].expand_as(top)
        users.append(rows[keep])
        items.append(cand.gather(1, top)[keep])
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
    method: str = 'exact',
    oversample: int = 2,
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
        method (str, optional): How interactions are drawn:
            :obj:`"exact"` (quadratic cost) or :obj:`"candidates"` (linear
            cost, for large graphs); see the module docstring.
            (default: :obj:`"exact"`)
        oversample (int, optional): With :obj:`method="candidates"`, each
            user draws :obj:`oversample` times its largest count from each
            half of the proposal. (default: :obj:`2`)
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
    if method not in METHODS:
        raise ValueError(f"'method' must be one of {list(METHODS)} "
                         f"(got {method!r})")
    if isinstance(oversample, bool) or not isinstance(oversample, int) \
            or oversample < 1:
        raise ValueError(f"'oversample' must be a positive integer "
                         f"(got {oversample!r})")
    gen = torch.Generator().manual_seed(int(seed))
    centres = F.normalize(torch.randn(num_clusters, num_factors,
                                      generator=gen), dim=-1)
    user_f, user_c = _clustered_factors(centres, num_users, cluster_spread,
                                        gen)
    item_f, item_c = _clustered_factors(centres, num_items, cluster_spread,
                                        gen)

    rank = torch.randperm(num_items, generator=gen).double() + 1
    log_pop = (-popularity_skew * torch.log(rank)).float()

    low = max(3, (interactions_per_user + 1) // 2)
    high = max(low, 3 * interactions_per_user // 2)
    # Leave every user at least one item to be sampled as a negative.
    counts = torch.randint(low, high + 1, (num_users, ), generator=gen)
    counts = counts.clamp(max=num_items - 1)
    if method == 'exact':
        edge_index = _draw_interactions(user_f, item_f, log_pop, counts,
                                        temperature, gen)
    else:
        edge_index = _draw_interactions_candidates(
            user_f, user_c, item_f, item_c, log_pop, counts, temperature,
            num_clusters, oversample, gen)

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
