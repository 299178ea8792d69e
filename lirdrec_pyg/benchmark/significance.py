r"""Paired significance tests between models over the same test users.

Every run saves its test users' Recall@K and NDCG@K
(:func:`~lirdrec_pyg.train.experiment.save_per_user`). Two models are
compared on the users both were evaluated on, each user's value averaged
over the seeds both models ran (under the cold-start protocol the held-out
items, and so the users, depend on the seed): the Wilcoxon signed-rank test
(:func:`scipy.stats.wilcoxon`, two-sided) on the paired differences. The
p-values of one dataset and metric (the target against every other model)
are corrected for multiple comparisons with Holm's step-down method.
"""
from typing import Any, Dict, List, Mapping, Sequence, Tuple

import numpy as np

#: Per-seed values of one model: ``{seed: (user ids, values)}``.
PerSeed = Mapping[int, Tuple[np.ndarray, np.ndarray]]


def paired_values(a: PerSeed, b: PerSeed) -> Tuple[np.ndarray, np.ndarray]:
    r"""Aligns two models' per-user values: the seeds both ran, the users
    both evaluated in a seed, then each user's mean over those seeds.

    Returns:
        Two arrays of the same length, one entry per user.
    """
    sums: Dict[int, List[float]] = {}
    for seed in sorted(set(a) & set(b)):
        users_a, values_a = a[seed]
        users_b, values_b = b[seed]
        common, ia, ib = np.intersect1d(users_a, users_b,
                                        return_indices=True)
        for user, va, vb in zip(common.tolist(), values_a[ia], values_b[ib]):
            entry = sums.setdefault(user, [0.0, 0.0, 0])
            entry[0] += float(va)
            entry[1] += float(vb)
            entry[2] += 1
    users = sorted(sums)
    x = np.array([sums[u][0] / sums[u][2] for u in users], dtype=np.float64)
    y = np.array([sums[u][1] / sums[u][2] for u in users], dtype=np.float64)
    return x, y


def paired_test(x: np.ndarray, y: np.ndarray) -> float:
    r"""The two-sided p-value of the Wilcoxon signed-rank test that the
    paired differences :obj:`x - y` are centred on zero (1.0 when every
    difference is zero)."""
    from scipy.stats import wilcoxon

    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"paired samples must be 1-D of one length (got "
                         f"{x.shape} and {y.shape})")
    if not np.any(x != y):
        return 1.0
    return float(wilcoxon(x, y, zero_method='wilcox',
                          alternative='two-sided').pvalue)


def holm(pvalues: Sequence[float]) -> List[float]:
    r"""Holm's step-down adjusted p-values (family-wise error rate): the
    :math:`i`-th smallest of :math:`m` p-values becomes
    :math:`\max_{j \le i} \min(1, (m - j + 1)\, p_{(j)})`."""
    p = np.asarray(pvalues, dtype=np.float64)
    m = p.size
    adjusted = np.empty(m)
    running = 0.0
    for rank, i in enumerate(np.argsort(p, kind='stable')):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    return adjusted.tolist()


def compare(target: PerSeed, others: Mapping[str, PerSeed],
            alpha: float = 0.05) -> Dict[str, Dict[str, Any]]:
    r"""The target against every other model on one metric.

    Returns:
        Per other model: ``users`` (paired users), ``target_mean`` and
        ``other_mean`` over them, ``p`` (raw), ``p_holm`` and ``outcome``:
        ``win`` (the target is significantly better at level :obj:`alpha`
        after Holm), ``loss`` (significantly worse) or ``tie``.
    """
    rows: Dict[str, Dict[str, Any]] = {}
    for name, runs in others.items():
        x, y = paired_values(target, runs)
        if x.size == 0:
            continue
        rows[name] = {'users': int(x.size), 'target_mean': float(x.mean()),
                      'other_mean': float(y.mean()), 'p': paired_test(x, y)}
    for row, p in zip(rows.values(), holm([r['p'] for r in rows.values()])):
        row['p_holm'] = p
        better = row['target_mean'] > row['other_mean']
        row['outcome'] = ('tie' if p >= alpha else
                          'win' if better else 'loss')
    return rows
