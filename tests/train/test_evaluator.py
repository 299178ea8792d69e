import math

import pytest
import torch
from torch_geometric.data import HeteroData

from lirdrec_pyg.train.evaluator import FullRankingEvaluator

NAMES = ('Recall', 'NDCG', 'Precision', 'MAP', 'Hit')


def log2(x):
    return math.log2(x)


def make_data(num_users, num_items, train, val, test):
    data = HeteroData()
    data['user'].num_nodes = num_users
    data['item'].num_nodes = num_items
    store = data['user', 'interacts', 'item']
    store.edge_index = torch.tensor(train).t().reshape(2, -1)
    store.val_edge_index = torch.tensor(val).t().reshape(2, -1)
    store.test_edge_index = torch.tensor(test).t().reshape(2, -1)
    return data


def naive_evaluate(scores, eval_edges, mask_edges, ks):
    """Per-user reference with Python lists, sorting and loops."""
    relevant, masked = {}, {}
    for u, i in eval_edges.t().tolist():
        relevant.setdefault(u, set()).add(i)
    for edges in mask_edges:
        for u, i in edges.t().tolist():
            masked.setdefault(u, set()).add(i)
    sums = {f'{n}@{k}': 0.0 for n in NAMES for k in ks}
    for u, rel in relevant.items():
        row = scores[u].tolist()
        ranked = sorted((i for i in range(len(row))
                         if i not in masked.get(u, set())),
                        key=lambda i: -row[i])
        for k in ks:
            top = ranked[:k]
            hit_ranks = [r for r, i in enumerate(top, 1) if i in rel]
            m = min(len(rel), k)
            idcg = sum(1 / log2(r + 1) for r in range(1, m + 1))
            ap = sum((j + 1) / r for j, r in enumerate(hit_ranks))
            sums[f'Recall@{k}'] += len(hit_ranks) / len(rel)
            sums[f'NDCG@{k}'] += sum(1 / log2(r + 1)
                                     for r in hit_ranks) / idcg
            sums[f'Precision@{k}'] += len(hit_ranks) / k
            sums[f'MAP@{k}'] += ap / m
            sums[f'Hit@{k}'] += float(len(hit_ranks) > 0)
    return {key: value / len(relevant) for key, value in sums.items()}


# Hand-computed case: 3 users, 6 items.
SCORES = torch.tensor([
    [0.9, 0.8, 0.1, 0.7, 0.2, 0.3],  # user 0
    [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],  # user 1 (nothing to evaluate)
    [0.5, 0.6, 0.4, 0.3, 0.2, 0.1],  # user 2
])
TRAIN = [(0, 0), (1, 2), (2, 5)]
VALID = [(0, 1), (0, 4), (2, 0), (2, 2), (2, 3), (2, 4)]
TEST = [(0, 3), (1, 5)]


def score_fn(users):
    return SCORES[users]


def test_hand_computed_with_masking():
    data = make_data(3, 6, TRAIN, VALID, TEST)
    evaluator = FullRankingEvaluator.from_data(data, 'valid', ks=[1, 3])
    assert evaluator.users.tolist() == [0, 2]  # user 1 has no valid item
    assert evaluator.num_relevant.tolist() == [2, 4]
    out = evaluator.evaluate(score_fn)

    # User 0: train item 0 (best score 0.9) masked -> ranking 1, 3, 5, 4, 2;
    # relevant {1, 4} -> hits at rank 1 only within the top 3.
    # User 2: train item 5 masked -> ranking 1, 0, 2, 3, 4;
    # relevant {0, 2, 3, 4} (4 > K) -> hits at ranks 2 and 3.
    u0 = {
        'Recall@1': 1 / 2, 'Precision@1': 1 / 1, 'NDCG@1': 1.0,
        'MAP@1': 1.0, 'Hit@1': 1.0,
        'Recall@3': 1 / 2, 'Precision@3': 1 / 3,
        'NDCG@3': (1 / log2(2)) / (1 / log2(2) + 1 / log2(3)),
        'MAP@3': (1 / 1) / min(2, 3), 'Hit@3': 1.0,
    }
    u2 = {
        'Recall@1': 0.0, 'Precision@1': 0.0, 'NDCG@1': 0.0,
        'MAP@1': 0.0, 'Hit@1': 0.0,
        'Recall@3': 2 / 4, 'Precision@3': 2 / 3,
        'NDCG@3': (1 / log2(3) + 1 / log2(4)) /
        (1 / log2(2) + 1 / log2(3) + 1 / log2(4)),
        'MAP@3': (1 / 2 + 2 / 3) / min(4, 3), 'Hit@3': 1.0,
    }
    assert set(out) == set(u0)
    for key in u0:
        assert out[key] == pytest.approx((u0[key] + u2[key]) / 2, abs=1e-12)

    # Without the mask, user 0's top item is the (irrelevant) train item 0.
    unmasked = FullRankingEvaluator(data['user', 'item'].val_edge_index, 3,
                                    6, ks=[1, 3]).evaluate(score_fn)
    assert unmasked['Hit@1'] == pytest.approx(0.0)
    # User 0 ranks 0, 1, 3 (one hit); user 2 ranks 1, 0, 2 as before.
    assert unmasked['Recall@3'] == pytest.approx((1 / 2 + 2 / 4) / 2)
    assert unmasked['NDCG@3'] < out['NDCG@3']


def test_mask_valid_in_test():
    data = make_data(3, 6, TRAIN, VALID, TEST)
    plain = FullRankingEvaluator.from_data(data, 'test', ks=[1])
    masked = FullRankingEvaluator.from_data(data, 'test', ks=[1],
                                            mask_valid_in_test=True)
    assert plain.users.tolist() == masked.users.tolist() == [0, 1]
    # User 0: valid item 1 (0.8) stays and beats test item 3 (0.7) unless
    # masked. User 1: test item 5 has the best score either way.
    assert plain.evaluate(score_fn)['Hit@1'] == pytest.approx(1 / 2)
    assert masked.evaluate(score_fn)['Hit@1'] == pytest.approx(2 / 2)
    assert plain.num_masks == 1 and masked.num_masks == 2


def test_topk_excludes_masked_items():
    data = make_data(3, 6, TRAIN, VALID, TEST)
    evaluator = FullRankingEvaluator.from_data(data, 'valid', ks=[1])
    users, items = evaluator.topk(score_fn, 3)
    assert users.tolist() == [0, 2]
    assert items.tolist() == [[1, 3, 5], [1, 0, 2]]
    with pytest.raises(ValueError, match="'k'"):
        evaluator.topk(score_fn, 7)


def test_masked_items_never_hit_when_few_unmasked():
    # Item 0 is both trained and evaluated; with K = num_items the masked
    # item enters the top K at -inf and must not count.
    eval_edges = torch.tensor([[0, 0], [0, 1]])
    evaluator = FullRankingEvaluator(eval_edges, 1, 3,
                                     mask_edge_index=torch.tensor([[0], [0]]),
                                     ks=[3])
    out = evaluator.evaluate(lambda u: torch.tensor([[5.0, 1.0, 2.0]]))
    # Ranking: 2, 1, (0 masked): one hit out of |rel| = 2 at rank 2.
    assert out['Recall@3'] == pytest.approx(1 / 2)
    assert out['Precision@3'] == pytest.approx(1 / 3)
    assert out['NDCG@3'] == pytest.approx(
        (1 / log2(3)) / (1 / log2(2) + 1 / log2(3)))


def test_ties():
    # All scores equal: whatever order torch.topk picks, the top 4 of the 4
    # unmasked items contains both relevant items.
    eval_edges = torch.tensor([[0, 0, 1], [1, 2, 3]])
    mask = torch.tensor([[0, 0, 1, 1], [0, 4, 0, 4]])
    evaluator = FullRankingEvaluator(eval_edges, 2, 6, mask, ks=[4])
    out = evaluator.evaluate(lambda u: torch.zeros(u.numel(), 6))
    assert out['Recall@4'] == pytest.approx(1.0)
    assert out['Hit@4'] == pytest.approx(1.0)
    assert out['Precision@4'] == pytest.approx((2 / 4 + 1 / 4) / 2)

    # Two relevant items tied at the top: any tie-break gives ranks 1 and 2.
    evaluator = FullRankingEvaluator(eval_edges[:, :2], 1, 6, ks=[2, 3])
    out = evaluator.evaluate(
        lambda u: torch.tensor([[0.0, 1.0, 1.0, 0.5, 0.5, 0.0]]))
    assert out['NDCG@2'] == pytest.approx(1.0)
    assert out['MAP@3'] == pytest.approx(1.0)


@pytest.mark.parametrize('split', ['valid', 'test'])
@pytest.mark.parametrize('batch_size', [1, 37, 64, 4096])
@pytest.mark.parametrize('ks', [(5, 10, 20, 50), (1, 3, 17)])
def test_matches_naive_reference(split, batch_size, ks):
    num_users, num_items = 200, 300
    gen = torch.Generator().manual_seed(7)

    def edges(n):
        return torch.stack([
            torch.randint(0, num_users, (n, ), generator=gen),
            torch.randint(0, num_items, (n, ), generator=gen),
        ])

    train, val, test = edges(3000), edges(400), edges(400)
    data = HeteroData()
    data['user'].num_nodes = num_users
    data['item'].num_nodes = num_items
    store = data['user', 'interacts', 'item']
    store.edge_index, store.val_edge_index, store.test_edge_index = \
        train, val, test
    # Distinct scores per row (a random permutation) so the ranking is
    # unique and the reference is exact.
    scores = torch.stack([
        torch.randperm(num_items, generator=gen) for _ in range(num_users)
    ]).float()
    seen = []

    def fn(users):
        seen.append(users)
        return scores[users]

    for mask_valid in (False, True):
        evaluator = FullRankingEvaluator.from_data(
            data, split, ks=ks, batch_size=batch_size,
            mask_valid_in_test=mask_valid)
        seen.clear()
        out = evaluator.evaluate(fn)
        assert torch.equal(torch.cat(seen), evaluator.users)
        assert len(seen) == math.ceil(evaluator.users.numel() / batch_size)

        eval_edges = val if split == 'valid' else test
        masks = [train] + ([val] if split == 'test' and mask_valid else [])
        ref = naive_evaluate(scores, eval_edges, masks, ks)
        assert set(out) == set(ref)
        for key in ref:
            assert abs(out[key] - ref[key]) < 1e-6, key


def test_float64_and_device_cache():
    data = make_data(3, 6, TRAIN, VALID, TEST)
    evaluator = FullRankingEvaluator.from_data(data, 'valid', ks=[1, 3])
    ref = evaluator.evaluate(score_fn)
    out = evaluator.evaluate(lambda u: SCORES[u].double())
    assert out == pytest.approx(ref)


def test_errors():
    ev = torch.tensor([[0, 1], [2, 3]])
    with pytest.raises(ValueError, match="'eval_edge_index' is empty"):
        FullRankingEvaluator(torch.empty(2, 0, dtype=torch.long), 2, 5,
                             ks=[1])
    with pytest.raises(ValueError, match=r"'eval_edge_index\[1\]'.*\[0, 3\)"):
        FullRankingEvaluator(ev, 2, 3, ks=[1])
    with pytest.raises(ValueError, match=r"'eval_edge_index\[0\]'.*user"):
        FullRankingEvaluator(ev, 1, 5, ks=[1])
    with pytest.raises(ValueError, match=r"'mask_edge_index\[1\]\[0\]'"):
        FullRankingEvaluator(ev, 2, 5, [ev, torch.tensor([[-1], [0]])],
                             ks=[1])
    with pytest.raises(ValueError, match=r"\[2, E\]"):
        FullRankingEvaluator(ev.t().reshape(-1), 2, 5, ks=[1])
    with pytest.raises(ValueError, match="integer ids"):
        FullRankingEvaluator(ev.float(), 2, 5, ks=[1])
    with pytest.raises(ValueError, match="positive integers"):
        FullRankingEvaluator(ev, 2, 5, ks=[0, 5])
    with pytest.raises(ValueError, match="exceeds 'num_items'"):
        FullRankingEvaluator(ev, 2, 5, ks=[10])
    with pytest.raises(ValueError, match="'batch_size'"):
        FullRankingEvaluator(ev, 2, 5, ks=[1], batch_size=0)

    evaluator = FullRankingEvaluator(ev, 2, 5, ks=[1])
    with pytest.raises(ValueError, match=r"shape \[2, 5\].*got \[2, 4\]"):
        evaluator.evaluate(lambda u: torch.zeros(u.numel(), 4))
    with pytest.raises(ValueError, match=r"shape \[2, 5\].*got list"):
        evaluator.evaluate(lambda u: [0.0] * 5)
    with pytest.raises(ValueError, match="floating-point"):
        evaluator.evaluate(lambda u: torch.zeros(u.numel(), 5,
                                                 dtype=torch.long))

    data = make_data(3, 6, TRAIN, VALID, TEST)
    with pytest.raises(ValueError, match="'split'"):
        FullRankingEvaluator.from_data(data, 'train')
    del data['user', 'interacts', 'item'].test_edge_index
    with pytest.raises(ValueError, match="neither 'test_edge_index'"):
        FullRankingEvaluator.from_data(data, 'test', ks=[1])


def test_repr():
    evaluator = FullRankingEvaluator.from_data(
        make_data(3, 6, TRAIN, VALID, TEST), 'valid', ks=[3, 1],
        batch_size=2)
    assert repr(evaluator) == (
        'FullRankingEvaluator(num_users=3, num_items=6, num_eval_users=2, '
        'num_masks=1, ks=[1, 3], batch_size=2)')


def test_per_user_values_hand_computed():
    data = make_data(3, 6, TRAIN, VALID, TEST)
    evaluator = FullRankingEvaluator.from_data(data, 'valid', ks=[1, 3],
                                               batch_size=1)
    out = evaluator.evaluate_per_user(score_fn)
    # The users of test_hand_computed_with_masking, one value each.
    assert out['user'].tolist() == [0, 2]
    assert out['Recall@3'].tolist() == pytest.approx([1 / 2, 2 / 4])
    assert out['Hit@1'].tolist() == [1.0, 0.0]
    assert out['NDCG@3'][1].item() == pytest.approx(
        (1 / log2(3) + 1 / log2(4)) /
        (1 / log2(2) + 1 / log2(3) + 1 / log2(4)))
    means = evaluator.evaluate(score_fn)
    for key, value in means.items():
        assert out[key].mean().item() == pytest.approx(value, abs=1e-12)


def random_split_data(seed=0, num_users=30, num_items=40):
    g = torch.Generator().manual_seed(seed)
    keys = torch.randperm(num_users * num_items, generator=g)[:300]
    pairs = torch.stack([keys // num_items, keys % num_items])
    thirds = pairs.split([200, 50, 50], dim=1)
    return thirds, torch.randn(num_users, num_items, generator=g)


@pytest.mark.parametrize('k', [1, 5, 20])
def test_equals_torch_geometric_metrics_on_identical_scores(k):
    from torch_geometric.metrics import (LinkPredHitRatio, LinkPredMAP,
                                         LinkPredNDCG, LinkPredPrecision,
                                         LinkPredRecall)
    (train, _, test), scores = random_split_data(seed=k)
    ours = FullRankingEvaluator(test, 30, 40, mask_edge_index=train,
                                ks=[k]).evaluate(lambda u: scores[u].clone())
    # PyG's metrics on the same masked top-k lists.
    masked = scores.clone()
    masked[train[0], train[1]] = float('-inf')
    top = masked.topk(k, dim=1).indices
    pyg = {'Recall': LinkPredRecall(k), 'NDCG': LinkPredNDCG(k),
           'Precision': LinkPredPrecision(k), 'MAP': LinkPredMAP(k),
           'Hit': LinkPredHitRatio(k)}
    for name, metric in pyg.items():
        metric.update(top, test)
        assert ours[f'{name}@{k}'] == pytest.approx(
            float(metric.compute()), abs=1e-6), name


def test_other_relation_name_and_node_counts():
    (train, val, test), scores = random_split_data()
    data = HeteroData()
    data['user'].num_nodes, data['item'].num_nodes = 30, 40
    store = data['user', 'rates', 'item']
    store.edge_index, store.val_edge_index, store.test_edge_index = \
        train, val, test
    expected = FullRankingEvaluator(test, 30, 40, mask_edge_index=train,
                                    ks=[5]).evaluate(lambda u: scores[u])
    for edge_type in (None, ('user', 'rates', 'item')):
        got = FullRankingEvaluator.from_data(
            data, 'test', ks=[5], edge_type=edge_type).evaluate(
                lambda u: scores[u].clone())
        assert got == expected
    data['user', 'clicks', 'item'].edge_index = train
    with pytest.raises(ValueError, match='pass edge_type='):
        FullRankingEvaluator.from_data(data, 'test')
    with pytest.raises(ValueError, match="'edge_type'"):
        FullRankingEvaluator.from_data(data, edge_type=('user', 'x', 'item'))


def test_random_link_split_output():
    from torch_geometric.transforms import RandomLinkSplit
    (train, val, test), scores = random_split_data()
    data = HeteroData()
    data['user'].num_nodes, data['item'].num_nodes = 30, 40
    data['user', 'rates', 'item'].edge_index = torch.cat([train, val, test],
                                                         1)
    data['item', 'rev_rates', 'user'].edge_index = data[
        'user', 'rates', 'item'].edge_index.flip(0)
    torch.manual_seed(0)
    train_data, val_data, test_data = RandomLinkSplit(
        num_val=0.2, num_test=0.2, edge_types=[('user', 'rates', 'item')],
        rev_edge_types=[('item', 'rev_rates', 'user')])(data)
    for split_data, name in ((val_data, 'valid'), (test_data, 'test')):
        store = split_data['user', 'rates', 'item']
        positives = store.edge_label_index[:, store.edge_label > 0]
        assert bool((store.edge_label == 0).any())  # negatives were added
        expected = FullRankingEvaluator(
            positives, 30, 40, mask_edge_index=store.edge_index,
            ks=[5, 10]).evaluate(lambda u: scores[u].clone())
        got = FullRankingEvaluator.from_data(split_data, name, ks=[5, 10])
        assert got.evaluate(lambda u: scores[u].clone()) == expected
        # The evaluated users are exactly the users with positive pairs.
        assert torch.equal(got.users, positives[0].unique())
