import math

import pytest
import torch

from lirdrec_pyg.train.metrics import (
    RankingMetricAccumulator,
    check_ks,
    hits_matrix,
    isin_sorted,
    ranking_metrics,
)


def log2(x):
    return math.log2(x)


def naive_metrics(hits_row, num_rel, k):
    """Per-user metrics from a list of 0/1 relevances, written as loops."""
    hits = [bool(h) for h in hits_row[:k]]
    n = sum(hits)
    if num_rel == 0:
        return dict(Recall=0.0, NDCG=0.0, Precision=0.0, MAP=0.0, Hit=0.0)
    m = min(num_rel, k)
    dcg = sum(1 / log2(r + 1) for r, h in enumerate(hits, 1) if h)
    idcg = sum(1 / log2(r + 1) for r in range(1, m + 1))
    ap, seen = 0.0, 0
    for r, h in enumerate(hits, 1):
        if h:
            seen += 1
            ap += seen / r
    return dict(Recall=n / num_rel, NDCG=dcg / idcg, Precision=n / k,
                MAP=ap / m, Hit=float(n > 0))


def test_hits_matrix_coo_and_dense():
    topk = torch.tensor([[1, 0, 4], [5, 1, 3], [0, 1, 3]])
    # user 0: {1, 4}; user 1: {0, 2, 3, 5} (+ a duplicate); user 2: {2}
    rel = torch.tensor([[0, 0, 1, 1, 1, 1, 1, 2], [1, 4, 0, 2, 3, 5, 5, 2]])
    expected = torch.tensor([[True, False, True], [True, False, True],
                             [False, False, False]])
    assert torch.equal(hits_matrix(topk, rel), expected)

    dense = torch.zeros(3, 6, dtype=torch.bool)
    dense[rel[0], rel[1]] = True
    assert torch.equal(hits_matrix(topk, dense), expected)

    empty = torch.empty(2, 0, dtype=torch.long)
    assert not hits_matrix(topk, empty).any()


def test_hits_matrix_errors():
    topk = torch.tensor([[0, 1]])
    with pytest.raises(ValueError, match="batch positions"):
        hits_matrix(topk, torch.tensor([[1], [0]]))
    with pytest.raises(ValueError, match=r"\[1, num_items\]"):
        hits_matrix(topk, torch.zeros(2, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"\[2, E\]"):
        hits_matrix(topk, torch.zeros(3, 3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\[B, K\]"):
        hits_matrix(torch.tensor([0, 1]), torch.tensor([[0], [0]]))


def test_isin_sorted():
    keys = torch.tensor([2, 5, 9])
    q = torch.tensor([[0, 2, 3], [9, 10, 5]])
    assert torch.equal(isin_sorted(q, keys),
                       torch.tensor([[False, True, False], [True, False,
                                                            True]]))
    assert not isin_sorted(q, torch.empty(0, dtype=torch.long)).any()


def test_ranking_metrics_hand_computed():
    # user 0: 2 relevant, hits at ranks 1 and 3
    # user 1: 4 relevant (> K = 3), hits at ranks 1 and 3
    # user 2: 1 relevant, no hit
    hits = torch.tensor([[1, 0, 1], [1, 0, 1], [0, 0, 0]], dtype=torch.bool)
    num_rel = torch.tensor([2, 4, 1])
    out = ranking_metrics(hits, num_rel, ks=[1, 3])

    assert list(out) == [
        'Recall@1', 'Recall@3', 'NDCG@1', 'NDCG@3', 'Precision@1',
        'Precision@3', 'MAP@1', 'MAP@3', 'Hit@1', 'Hit@3'
    ]
    expected = {
        'Recall@3': [2 / 2, 2 / 4, 0.0],  # denominator |rel|, not min(|rel|,K)
        'Precision@3': [2 / 3, 2 / 3, 0.0],
        'NDCG@3': [
            (1 / log2(2) + 1 / log2(4)) / (1 / log2(2) + 1 / log2(3)),
            (1 / log2(2) + 1 / log2(4)) /
            (1 / log2(2) + 1 / log2(3) + 1 / log2(4)),  # IDCG over min(4,3)
            0.0,
        ],
        'MAP@3': [(1 / 1 + 2 / 3) / 2, (1 / 1 + 2 / 3) / 3, 0.0],
        'Hit@3': [1.0, 1.0, 0.0],
        'Recall@1': [1 / 2, 1 / 4, 0.0],
        'Precision@1': [1.0, 1.0, 0.0],
        'NDCG@1': [1.0, 1.0, 0.0],
        'MAP@1': [1.0, 1.0, 0.0],
        'Hit@1': [1.0, 1.0, 0.0],
    }
    for key, value in expected.items():
        assert out[key].dtype == torch.float64
        assert torch.allclose(out[key], torch.tensor(value,
                                                     dtype=torch.float64),
                              atol=1e-12), key


def test_ranking_metrics_zero_relevant_is_zero():
    hits = torch.tensor([[False, False]])
    out = ranking_metrics(hits, torch.tensor([0]), ks=[2])
    assert all(float(v) == 0.0 for v in out.values())


@pytest.mark.parametrize('ks', [[1], [5, 10], [3, 7, 20]])
def test_ranking_metrics_matches_naive(ks):
    B, k_max = 64, 20
    hits = torch.rand(B, k_max) < 0.3
    num_rel = hits.sum(1) + torch.randint(0, 30, (B, ))
    num_rel[0] = 0
    hits[0] = False
    out = ranking_metrics(hits, num_rel, ks)
    for b in range(B):
        for k in ks:
            ref = naive_metrics(hits[b].tolist(), int(num_rel[b]), k)
            for name, value in ref.items():
                assert abs(float(out[f'{name}@{k}'][b]) - value) < 1e-12


def test_ranking_metrics_errors():
    hits = torch.zeros(2, 5, dtype=torch.bool)
    with pytest.raises(ValueError, match="largest cut-off"):
        ranking_metrics(hits, torch.tensor([1, 1]), ks=[10])
    with pytest.raises(ValueError, match="positive integers"):
        ranking_metrics(hits, torch.tensor([1, 1]), ks=[0, 5])
    with pytest.raises(ValueError, match="num_relevant"):
        ranking_metrics(hits, torch.tensor([1, 1, 1]), ks=[5])
    with pytest.raises(ValueError, match="at least one"):
        check_ks([])
    assert check_ks([20, 5, 5]) == [5, 20]
    assert check_ks(3) == [3]


def test_accumulator_equal_user_weight_over_batches():
    ks = [2, 4]
    hits = torch.rand(10, 4) < 0.5
    num_rel = hits.sum(1) + 1
    num_rel[3] = 0  # skipped user
    hits[3] = False

    acc = RankingMetricAccumulator(ks)
    assert 'num_users=0' in repr(acc)
    with pytest.raises(ValueError, match="at least one user"):
        acc.compute()
    acc.update(hits[:7], num_rel[:7])
    acc.update(hits[7:], num_rel[7:])
    assert acc.num_users == 9
    assert repr(acc) == 'RankingMetricAccumulator(ks=[2, 4], num_users=9)'
    out = acc.compute()

    keep = [b for b in range(10) if b != 3]
    for k in ks:
        for name in ('Recall', 'NDCG', 'Precision', 'MAP', 'Hit'):
            ref = sum(
                naive_metrics(hits[b].tolist(), int(num_rel[b]), k)[name]
                for b in keep) / len(keep)
            assert abs(out[f'{name}@{k}'] - ref) < 1e-12

    acc.reset()
    assert acc.num_users == 0
    acc.update(hits[:1], num_rel[:1])
    assert acc.compute()['Precision@2'] == float(hits[0, :2].sum()) / 2
