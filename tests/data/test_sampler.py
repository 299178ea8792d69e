from collections import Counter

import pytest
import torch

from lirdrec_pyg.data import BPRSampler


def random_graph(num_users=30, num_items=12, num_edges=150, seed=0):
    gen = torch.Generator().manual_seed(seed)
    users = torch.randint(num_users, (num_edges, ), generator=gen)
    items = torch.randint(num_items, (num_edges, ), generator=gen)
    return torch.stack([users, items])


def test_bpr_sampler_triples():
    edge_index = random_graph()
    # A user with all items but one, which must always be its negative.
    dense = torch.stack([torch.full((11, ), 29), torch.arange(11)])
    edge_index = torch.cat([edge_index[:, edge_index[0] != 29], dense], 1)
    sampler = BPRSampler(edge_index, 30, 12)
    train = {(u, i) for u, i in edge_index.t().tolist()}
    assert len(sampler) == len(train)
    assert repr(sampler) == ('BPRSampler(num_users=30, num_items=12, '
                             f'num_edges={len(train)})')

    gen = torch.Generator().manual_seed(0)
    for _ in range(20):
        users, pos, neg = sampler.sample(gen)
        assert Counter(zip(users.tolist(), pos.tolist())) == Counter(train)
        for u, j in zip(users.tolist(), neg.tolist()):
            assert 0 <= j < 12 and (u, j) not in train
        assert set(neg[users == 29].tolist()) == {11}
        assert sampler.contains(users, pos).all()
        assert not sampler.contains(users, neg).any()


def test_bpr_sampler_negatives_uniform():
    # User 0 has items {1, 4}: negatives uniform over the other 6 items.
    edge_index = torch.tensor([[0, 0, 1], [1, 4, 0]])
    sampler = BPRSampler(edge_index, 2, 8)
    gen = torch.Generator().manual_seed(1)
    users = torch.zeros(60000, dtype=torch.long)
    counts = torch.bincount(sampler.sample_negatives(users, gen),
                            minlength=8)
    assert counts[1] == 0 and counts[4] == 0
    freq = counts[[0, 2, 3, 5, 6, 7]].float() / 60000
    assert torch.allclose(freq, torch.full((6, ), 1 / 6), atol=0.01)


def test_bpr_sampler_determinism():
    sampler = BPRSampler(random_graph(), 30, 12)
    a = sampler.sample(torch.Generator().manual_seed(5))
    b = sampler.sample(torch.Generator().manual_seed(5))
    c = sampler.sample(torch.Generator().manual_seed(6))
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not torch.equal(a[0], c[0]) and not torch.equal(a[2], c[2])


def test_bpr_sampler_full_user():
    edge_index = torch.tensor([[0, 0, 0, 1], [0, 1, 2, 0]])
    with pytest.raises(ValueError, match='User 0 .* all 3 items'):
        BPRSampler(edge_index, 2, 3)
    with pytest.raises(ValueError, match='outside'):
        BPRSampler(torch.tensor([[0], [3]]), 2, 3)


def test_negative_pool_restricts_negatives():
    # User 0 has items {1, 4}; the pool {0, 1, 2, 4, 6}: negatives uniform
    # over {0, 2, 6}, never outside the pool.
    edge_index = torch.tensor([[0, 0, 1, 1], [1, 4, 0, 2]])
    sampler = BPRSampler(edge_index, 2, 8,
                         negative_items=torch.tensor([6, 0, 1, 2, 4, 4]))
    gen = torch.Generator().manual_seed(3)
    users = torch.zeros(30000, dtype=torch.long)
    counts = torch.bincount(sampler.sample_negatives(users, gen),
                            minlength=8)
    assert counts[[1, 3, 4, 5, 7]].sum() == 0
    assert torch.allclose(counts[[0, 2, 6]].float() / 30000,
                          torch.full((3, ), 1 / 3), atol=0.015)
    # User 1's positives {0, 2} lie in the pool: negatives among {1, 4, 6}.
    neg = sampler.sample_negatives(torch.ones(3000, dtype=torch.long), gen)
    assert set(neg.tolist()) == {1, 4, 6}
    assert 'pool_size=5' in repr(sampler)


def test_negative_pool_user_with_whole_pool():
    edge_index = torch.tensor([[0, 0, 1], [0, 1, 2]])
    with pytest.raises(ValueError, match='all 2 items of the negative pool'):
        BPRSampler(edge_index, 2, 5, negative_items=torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"ids in \[0, 5\)"):
        BPRSampler(edge_index, 2, 5, negative_items=torch.tensor([7]))


def test_test_only_items_never_drawn_under_default():
    from lirdrec_pyg.data import build_hetero_data
    from lirdrec_pyg.data.sampler import negative_pool
    gen = torch.Generator().manual_seed(0)
    train = torch.stack([torch.randint(20, (200, ), generator=gen),
                         torch.randint(10, (200, ), generator=gen)])
    # Items 10-14 occur only in the test split.
    test = torch.stack([torch.arange(20), 10 + torch.arange(20) % 5])
    valid = torch.stack([torch.arange(20), torch.arange(20) % 10])
    data = build_hetero_data(20, 15, train, valid, test)
    pool = negative_pool(data)
    assert pool.tolist() == list(range(10))
    sampler = BPRSampler(data['user', 'interacts', 'item'].edge_index, 20,
                         15, negative_items=pool)
    _, _, neg = sampler.sample(gen)
    assert int(neg.max()) < 10
    # all_items draws them (and is the old behaviour).
    assert negative_pool(data, 'all_items') is None
    _, _, neg_all = BPRSampler(data['user', 'interacts', 'item'].edge_index,
                               20, 15).sample(gen)
    assert int(neg_all.max()) >= 10


def test_cold_items_never_drawn_under_all_items():
    from lirdrec_pyg.data import make_synthetic
    from lirdrec_pyg.data.cold_start import hold_out_items
    from lirdrec_pyg.data.sampler import negative_pool
    data, cold = hold_out_items(make_synthetic(200, 100, seed=1), 0.2,
                                seed=0)
    for mode in ('train_items', 'all_items'):
        pool = negative_pool(data, mode)
        assert not set(pool.tolist()) & set(cold.items.tolist())
