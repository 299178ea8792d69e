import itertools

import pytest
import torch

from lirdrec_pyg.loader import (
    csr_segments,
    sample_neighbors,
    sample_subgraph,
)


def random_csr(num_nodes=30, max_degree=12, seed=0):
    # An undirected graph with degrees spread from 0 to about max_degree.
    g = torch.Generator().manual_seed(seed)
    adj = torch.rand(num_nodes, num_nodes, generator=g)
    thresholds = torch.rand(num_nodes, 1, generator=g) * max_degree / num_nodes
    a = adj < thresholds
    a = (a | a.t()) & ~torch.eye(num_nodes, dtype=torch.bool)
    row, col = a.nonzero().t()
    rowptr = torch.zeros(num_nodes + 1, dtype=torch.long)
    rowptr[1:] = torch.bincount(row, minlength=num_nodes).cumsum(0)
    return rowptr, col, a


def test_csr_segments_lists_every_neighbour():
    rowptr, col, a = random_csr()
    nodes = torch.tensor([5, 0, 5, 17])
    index, count = csr_segments(rowptr, nodes)
    assert count.tolist() == [int(a[v].sum()) for v in nodes]
    blocks = torch.split(col[index], count.tolist())
    for v, block in zip(nodes.tolist(), blocks):
        assert block.tolist() == a[v].nonzero().view(-1).tolist()


@pytest.mark.parametrize('k', [1, 6, 9, 15])
def test_sampled_neighbours_are_distinct_edges_within_the_fan_out(k):
    rowptr, col, a = random_csr(max_degree=15)
    degree = rowptr[1:] - rowptr[:-1]
    # Degrees 5-20: nodes above the fan-out and (but for k=1) below it.
    assert bool((degree > k).any()) and (k == 1 or bool((degree <= k).any()))
    nodes = torch.arange(30)
    gen = torch.Generator().manual_seed(1)
    for _ in range(20):
        index, count = sample_neighbors(rowptr, nodes, k, gen)
        assert torch.equal(count, degree.clamp(max=k))
        for v, block in zip(nodes.tolist(),
                            torch.split(index, count.tolist())):
            # Positions inside v's own CSR row: edges of v, no repeats.
            assert bool(((block >= rowptr[v]) & (block < rowptr[v + 1]))
                        .all())
            assert block.unique().numel() == block.numel()
            assert bool(a[v, col[block]].all())
            if degree[v] <= k:
                assert sorted(block.tolist()) == list(
                    range(int(rowptr[v]), int(rowptr[v + 1])))


def test_every_neighbour_is_kept_with_probability_k_over_d():
    # Floyd's algorithm draws uniform k-subsets: each of the d neighbours
    # is in the sample with probability k / d, and all C(d, k) subsets are
    # equally likely.
    d, k, draws = 6, 2, 30000
    rowptr = torch.tensor([0, d])
    gen = torch.Generator().manual_seed(0)
    nodes = torch.zeros(draws, dtype=torch.long)
    index, count = sample_neighbors(rowptr, nodes, k, gen)
    pairs = index.view(draws, k).sort(dim=1).values
    freq = torch.bincount(index, minlength=d).double() / draws
    torch.testing.assert_close(freq, torch.full((d, ), k / d,
                                                dtype=torch.double),
                               atol=0.01, rtol=0)
    subsets = list(itertools.combinations(range(d), k))
    keys = pairs[:, 0] * d + pairs[:, 1]
    counts = torch.bincount(keys, minlength=d * d)[[i * d + j
                                                   for i, j in subsets]]
    expected = draws / len(subsets)
    assert int(counts.sum()) == draws
    assert float((counts - expected).abs().max()) < 5 * expected**0.5


def test_weighted_sampled_aggregate_is_unbiased():
    # (d_v / s_v) * sum over the sampled neighbours, averaged over many
    # draws, approaches the full neighbour sum; one draw does not.
    rowptr, col, a = random_csr(max_degree=15, seed=2)
    x = torch.randn(30, 4, dtype=torch.double)
    full = a.double() @ x
    nodes = torch.arange(30)
    degree = (rowptr[1:] - rowptr[:-1]).double()
    gen = torch.Generator().manual_seed(3)
    draws, total = 3000, 0
    for _ in range(draws):
        index, count = sample_neighbors(rowptr, nodes, 3, gen)
        owner = torch.repeat_interleave(nodes, count)
        weight = (degree / count.clamp(min=1).double())[owner]
        one = torch.zeros_like(full).index_add_(
            0, owner, weight.unsqueeze(1) * x[col[index]])
        total = total + one
    mean = total / draws
    assert float((mean - full).abs().max()) < 0.1 * float(
        (one - full).abs().max())
    assert float((one - full).abs().max()) > 0.5


def test_sampling_is_reproducible_with_a_seeded_generator():
    rowptr, col, _ = random_csr(max_degree=15)
    seeds = torch.tensor([1, 4, 9])
    out = [sample_subgraph(rowptr, col, seeds, [3, 2],
                           torch.Generator().manual_seed(7))
           for _ in range(2)]
    other = sample_subgraph(rowptr, col, seeds, [3, 2],
                            torch.Generator().manual_seed(8))
    for name in ('node', 'row', 'col', 'edge', 'num_sampled'):
        assert torch.equal(getattr(out[0], name), getattr(out[1], name))
    assert not torch.equal(out[0].edge, other.edge)


def test_subgraph_hops_relabelling_and_edges():
    rowptr, col, a = random_csr(max_degree=10, seed=4)
    num_nodes = 30
    seeds = torch.tensor([3, 11, 20])
    node_map = torch.full((num_nodes, ), -1, dtype=torch.long)
    sub = sample_subgraph(rowptr, col, seeds, [4, 2],
                          torch.Generator().manual_seed(0), node_map)
    # The scratch map is restored; nodes are distinct, seeds first.
    assert bool((node_map == -1).all())
    assert sub.node.unique().numel() == sub.node.numel()
    assert torch.equal(sub.node[:3], seeds)
    assert sum(sub.hop_sizes) == sub.node.numel()
    # Every sampled edge is a graph edge, and 'edge' points at it.
    g_row, g_col = sub.node[sub.row], sub.node[sub.col]
    assert bool(a[g_row, g_col].all())
    assert torch.equal(col[sub.edge], g_col)
    # Hop 0 expands the seeds, hop 1 the nodes first reached at hop 1,
    # which are exactly the new neighbours of the seeds; the last hop's
    # nodes are not expanded.
    degree = rowptr[1:] - rowptr[:-1]
    hop1 = sub.node[3:3 + sub.hop_sizes[1]]
    seed_nbrs = set(g_col[sub.row < 3].tolist()) - set(seeds.tolist())
    assert set(hop1.tolist()) == seed_nbrs
    expected = torch.cat([degree[seeds].clamp(max=4),
                          degree[hop1].clamp(max=2),
                          torch.zeros(sub.hop_sizes[2], dtype=torch.long)])
    assert torch.equal(sub.num_sampled, expected)
    assert torch.equal(torch.bincount(sub.row, minlength=sub.node.numel()),
                       expected)


def test_all_neighbours_give_the_exact_l_hop_neighbourhood():
    rowptr, col, a = random_csr(max_degree=4, seed=5)
    seeds = torch.tensor([0, 7])
    sub = sample_subgraph(rowptr, col, seeds, [-1, -1])
    reach1 = a[seeds].any(0)
    reach2 = reach1 | (a[reach1].any(0) if reach1.any() else reach1)
    reach2[seeds] = True
    assert set(sub.node.tolist()) == set(reach2.nonzero().view(-1).tolist())


def test_sampler_argument_errors():
    rowptr, col, _ = random_csr()
    with pytest.raises(ValueError, match='num_neighbors'):
        sample_neighbors(rowptr, torch.tensor([0]), 0)
    with pytest.raises(ValueError, match='distinct'):
        sample_subgraph(rowptr, col, torch.tensor([1, 1]), [2])


def naive_sample_neighbors(rowptr, nodes, k, generator):
    # The documented random stream, one node at a time: k rounds of one
    # float64 uniform per node above the fan-out (in the order of 'nodes'),
    # and Floyd's algorithm run on each node's own draws.
    degree = (rowptr[nodes + 1] - rowptr[nodes]).tolist()
    large = [i for i, d in enumerate(degree) if d > k]
    draws = [torch.rand(len(large), dtype=torch.float64, generator=generator)
             for _ in range(k)]
    picked = {}
    for slot, i in enumerate(large):
        d, chosen = degree[i], []
        for r in range(k):
            j = d - k + r
            t = min(int(float(draws[r][slot]) * (j + 1)), j)
            chosen.append(j if t in chosen else t)
        picked[i] = chosen
    index, count = [], []
    for i, v in enumerate(nodes.tolist()):
        start = int(rowptr[v])
        local = picked.get(i, list(range(degree[i])))
        index += [start + p for p in local]
        count.append(len(local))
    return torch.tensor(index, dtype=torch.long), torch.tensor(count)


@pytest.mark.parametrize('k', [1, 3, 7])
def test_sampled_neighbours_equal_a_per_node_reference(k):
    # Same seed, same sample: the vectorised draw is the per-node Floyd
    # draw of the documented random stream, exactly.
    rowptr, col, _ = random_csr(max_degree=15, seed=6)
    nodes = torch.tensor([4, 0, 29, 4, 13, 7, 21, 2])
    index, count = sample_neighbors(rowptr, nodes, k,
                                    torch.Generator().manual_seed(11))
    ref_index, ref_count = naive_sample_neighbors(
        rowptr, nodes, k, torch.Generator().manual_seed(11))
    assert torch.equal(count, ref_count)
    assert torch.equal(index, ref_index)


def test_unchecked_seeds_give_the_same_subgraph():
    rowptr, col, _ = random_csr(max_degree=10, seed=4)
    seeds = torch.tensor([3, 11, 20])
    checked, unchecked = (
        sample_subgraph(rowptr, col, seeds, [3, 2],
                        torch.Generator().manual_seed(5), check_seeds=check)
        for check in (True, False))
    for name in ('node', 'row', 'col', 'edge', 'num_sampled'):
        assert torch.equal(getattr(checked, name), getattr(unchecked, name))
