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
