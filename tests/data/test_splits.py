import pytest
import torch

from lirdrec_pyg.data import (
    drop_cold_users,
    global_temporal_split,
    random_split_per_user,
    temporal_split_per_user,
)


def random_edges(num_users=40, num_items=30, seed=0):
    gen = torch.Generator().manual_seed(seed)
    counts = torch.randint(1, 25, (num_users, ), generator=gen)
    users = torch.repeat_interleave(torch.arange(num_users), counts)
    items = torch.cat([torch.randperm(num_items, generator=gen)[:int(c)]
                       for c in counts])
    perm = torch.randperm(users.numel(), generator=gen)
    time = torch.randint(0, 50, (users.numel(), ), generator=gen)
    return torch.stack([users, items])[:, perm], time, counts


def check_partition(parts, num_edges):
    all_idx = torch.cat(parts)
    assert all_idx.numel() == num_edges  # disjoint and covering
    assert torch.equal(all_idx.sort()[0], torch.arange(num_edges))
    for p in parts:
        assert torch.equal(p, p.sort()[0])


def check_ratios(edge_index, parts, num_users, ratios):
    for u in range(num_users):
        n = int((edge_index[0] == u).sum())
        sizes = [int((edge_index[0, p] == u).sum()) for p in parts]
        assert sizes[0] >= 1  # every user keeps a training item
        if n >= 3:
            for size, r in zip(sizes, ratios):
                assert abs(size - n * r) <= 1, (u, n, sizes)


@pytest.mark.parametrize('ratios', [(0.8, 0.1, 0.1), (0.6, 0.2, 0.2),
                                    (0.5, 0.5, 0.0), (0.2, 0.4, 0.4)])
def test_random_split_per_user(ratios):
    edge_index, _, counts = random_edges()
    parts = random_split_per_user(edge_index, 40, ratios, seed=3)
    check_partition(parts, edge_index.size(1))
    check_ratios(edge_index, parts, 40, ratios)
    # Hand-computed: 10 edges at 0.8/0.1/0.1 are cut 8/1/1, 2 edges 2/0/0.
    if ratios == (0.8, 0.1, 0.1):
        for u, n in enumerate(counts.tolist()):
            if n in (1, 2):
                sizes = [int((edge_index[0, p] == u).sum()) for p in parts]
                assert sizes == [n, 0, 0]
            if n == 10:
                sizes = [int((edge_index[0, p] == u).sum()) for p in parts]
                assert sizes == [8, 1, 1]


def test_random_split_is_seeded():
    edge_index, _, _ = random_edges()
    a = random_split_per_user(edge_index, 40, seed=1)
    b = random_split_per_user(edge_index, 40, seed=1)
    c = random_split_per_user(edge_index, 40, seed=2)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not all(torch.equal(x, y) for x, y in zip(a, c))


def test_temporal_split_per_user():
    edge_index, time, _ = random_edges()
    ratios = (0.7, 0.15, 0.15)
    parts = temporal_split_per_user(edge_index, time, 40, ratios)
    check_partition(parts, edge_index.size(1))
    check_ratios(edge_index, parts, 40, ratios)
    train, val, test = parts
    for u in range(40):
        t = [time[p][edge_index[0, p] == u] for p in parts]
        if t[1].numel():
            assert t[0].max() <= t[1].min()
        if t[2].numel():
            assert t[0].max() <= t[2].min()
            if t[1].numel():
                assert t[1].max() <= t[2].min()


def test_global_temporal_split():
    time = torch.tensor([5, 1, 9, 3, 7, 2, 8, 0, 6, 4])
    train, val, test = global_temporal_split(time, (0.6, 0.2, 0.2))
    assert time[train].sort()[0].tolist() == [0, 1, 2, 3, 4, 5]
    assert time[val].sort()[0].tolist() == [6, 7]
    assert time[test].sort()[0].tolist() == [8, 9]
    check_partition((train, val, test), 10)


def test_drop_cold_users():
    train = torch.tensor([[0, 1], [0, 0]])
    val = torch.tensor([[0, 2, 2], [1, 0, 1]])
    test = torch.tensor([[1, 3], [1, 1]])
    val, test, dropped = drop_cold_users(train, val, test)
    assert val.tolist() == [[0], [1]]
    assert test.tolist() == [[1], [1]]
    assert dropped == 2


@pytest.mark.parametrize('ratios', [(0.8, 0.1), (0.8, 0.3, 0.1),
                                    (0.0, 0.5, 0.5), (1.2, -0.1, -0.1)])
def test_bad_ratios(ratios):
    edge_index, _, _ = random_edges()
    with pytest.raises(ValueError, match='ratio'):
        random_split_per_user(edge_index, 40, ratios)
