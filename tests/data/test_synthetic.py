import pytest
import torch

from lirdrec_pyg.data import (
    ITEM,
    get_modalities,
    make_synthetic,
    split_edge_index,
)


def recall_at_k(scores, train, test, k=20):
    # Naive per-user Recall@K with training items masked.
    recalls = []
    for u in range(scores.size(0)):
        relevant = set(test[1, test[0] == u].tolist())
        if not relevant:
            continue
        s = scores[u].clone()
        s[train[1, train[0] == u]] = -float('inf')
        top = set(s.topk(k).indices.tolist())
        recalls.append(len(top & relevant) / len(relevant))
    return sum(recalls) / len(recalls)


@pytest.mark.parametrize('method', ['exact', 'candidates'])
def test_make_synthetic_shapes(method):
    data = make_synthetic(num_users=50, num_items=40,
                          modality_dims={'image': 7, 'text': 5},
                          interactions_per_user=6, seed=1, method=method)
    assert data['user'].num_nodes == 50 and data[ITEM].num_nodes == 40
    assert data.name == 'synthetic'
    assert get_modalities(data) == ['image', 'text']
    assert data[ITEM]['image'].shape == (40, 7)
    assert data[ITEM]['text'].dtype == torch.float32
    train = split_edge_index(data, 'train')
    degree = torch.bincount(train[0], minlength=50)
    assert degree.min() >= 1
    total = sum(split_edge_index(data, s).size(1)
                for s in ('train', 'valid', 'test'))
    assert 50 * 3 <= total <= 50 * 9
    all_edges = torch.cat([split_edge_index(data, s)
                           for s in ('train', 'valid', 'test')], 1)
    assert torch.unique(all_edges[0] * 40 + all_edges[1]).numel() == total


@pytest.mark.parametrize('method', ['exact', 'candidates'])
def test_make_synthetic_determinism(method):
    kwargs = dict(num_users=60, num_items=30, interactions_per_user=5,
                  method=method)
    a, b = make_synthetic(seed=3, **kwargs), make_synthetic(seed=3, **kwargs)
    c = make_synthetic(seed=4, **kwargs)
    for s in ('train', 'valid', 'test'):
        assert torch.equal(split_edge_index(a, s), split_edge_index(b, s))
    assert torch.equal(a[ITEM]['image'], b[ITEM]['image'])
    assert not torch.equal(split_edge_index(a, 'train'),
                           split_edge_index(c, 'train'))


@pytest.mark.parametrize('method', ['exact', 'candidates'])
def test_make_synthetic_planted_structure(method):
    data, (user_f, item_f) = make_synthetic(num_users=500, num_items=400,
                                            seed=0, return_factors=True,
                                            method=method)
    train = split_edge_index(data, 'train')
    test = split_edge_index(data, 'test')
    degree = torch.bincount(train[1], minlength=400).float()

    true = recall_at_k(user_f @ item_f.t(), train, test)
    popularity = recall_at_k(degree.expand(500, -1), train, test)
    random = recall_at_k(torch.rand(500, 400), train, test)
    assert true > 1.5 * popularity
    assert popularity > 2 * random

    # Features are informative: the mean of a user's training-item features
    # ranks test items far better than chance.
    for modality in data.modalities:
        x = data[ITEM][modality]
        x = x - x.mean(dim=0)
        profile = torch.zeros(500, x.size(1)).index_add_(0, train[0],
                                                         x[train[1]])
        assert recall_at_k(profile @ x.t(), train, test) > 3 * random


def test_make_synthetic_candidates_follows_exact_method():
    # The candidate draw approximates the exact one: the same planted
    # factors give about the same mean planted affinity and popularity of
    # the drawn items, far from those of uniformly drawn items.
    kwargs = dict(num_users=400, num_items=300, interactions_per_user=10,
                  seed=2, return_factors=True, popularity_skew=1.0)
    stats = {}
    for method in ('exact', 'candidates'):
        data, (user_f, item_f) = make_synthetic(method=method, **kwargs)
        edges = torch.cat([split_edge_index(data, s)
                           for s in ('train', 'valid', 'test')], 1)
        affinity = (user_f[edges[0]] * item_f[edges[1]]).sum(-1).mean()
        stats[method] = float(affinity)
        assert edges.size(1) >= 0.9 * 400 * 10
    uniform = float((user_f @ item_f.t()).mean())
    assert abs(stats['candidates'] - stats['exact']) < 0.1 * abs(
        stats['exact'] - uniform)


def test_make_synthetic_rejects_bad_method():
    with pytest.raises(ValueError, match="'method'"):
        make_synthetic(num_users=10, num_items=10, method='fast')
    with pytest.raises(ValueError, match="'oversample'"):
        make_synthetic(num_users=10, num_items=10, method='candidates',
                       oversample=0)
