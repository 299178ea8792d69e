import pytest
import torch
from torch_geometric.data import HeteroData

from lirdrec_pyg.transforms.knn_graph import (II, ItemKNNGraph, knn_indices,
                                              default_modality_weights,
                                              get_item_graph, knn_graph)


def brute_force_knn(x, k, include_self=True):
    """Dense reference: full cosine matrix, python loop over rows."""
    x = x.double()
    n = x.size(0)
    norm = x.norm(dim=-1, keepdim=True).clamp(min=1e-12)
    sim = (x / norm) @ (x / norm).t()
    adj = torch.zeros(n, n, dtype=torch.float64)
    for i in range(n):
        row = sim[i].clone()
        row[i] = float('inf') if include_self else float('-inf')
        adj[i, row.argsort(descending=True)[:k]] = 1.0
    return adj


def make_data(num_items=40, dims=None, seed=0):
    dims = dims or {'image': 12, 'text': 8}
    gen = torch.Generator().manual_seed(seed)
    data = HeteroData()
    data['user'].num_nodes = 5
    data['item'].num_nodes = num_items
    for m, d in dims.items():
        data['item'][m] = torch.randn(num_items, d, generator=gen)
    data.modalities = list(dims)
    return data


@pytest.mark.parametrize('block_size', [1, 7, 2048])
@pytest.mark.parametrize('include_self', [True, False])
@pytest.mark.parametrize('k', [1, 3, 10])
def test_knn_graph_matches_brute_force(block_size, include_self, k):
    x = torch.randn(33, 6, dtype=torch.float64)
    out = knn_graph(x, k, block_size, include_self, normalization='none')
    assert out.layout == torch.sparse_csr
    assert out.shape == (33, 33)
    dense = out.to_dense()
    assert torch.equal(dense, brute_force_knn(x, k, include_self))
    assert torch.equal(out.crow_indices().diff(), torch.full((33, ), k))
    assert bool((dense.diagonal() == 1).all()) == include_self
    if not include_self:
        assert dense.diagonal().sum() == 0


@pytest.mark.parametrize('k', [1, 4, 10])
def test_knn_graph_normalisations(k):
    x = torch.randn(25, 5)
    ref = brute_force_knn(x, k).float()
    sym = knn_graph(x, k).to_dense()
    # Every row has k entries, so D^-1/2 A D^-1/2 weighs each edge 1/k.
    assert torch.allclose(sym, ref / k)
    assert torch.allclose(sym.sum(1), torch.ones(25))
    assert sym.diagonal().eq(1.0 / k).all()
    rw = knn_graph(x, k, normalization='rw').to_dense()
    assert torch.allclose(rw, ref / ref.sum(1, keepdim=True))


def test_knn_graph_cosine_not_euclidean():
    # Item 1 is item 0 scaled: cosine neighbours, although far in L2.
    x = torch.tensor([[1.0, 0.0], [100.0, 1.0], [0.5, 0.6], [0.0, 1.0]])
    out = knn_graph(x, 2, include_self=False, normalization='none')
    assert out.to_dense()[0].nonzero().view(-1).tolist() == [1, 2]


def test_knn_graph_errors():
    x = torch.randn(5, 3)
    with pytest.raises(ValueError, match="'k' must lie in"):
        knn_graph(x, 6)
    with pytest.raises(ValueError, match="'k' must lie in"):
        knn_graph(x, 5, include_self=False)
    with pytest.raises(ValueError, match='normalization'):
        knn_graph(x, 2, normalization='foo')
    with pytest.raises(ValueError, match=r'\[N, F\]'):
        knn_graph(torch.randn(5), 2)
    with pytest.raises(ValueError, match='floating'):
        knn_graph(torch.ones(5, 3, dtype=torch.long), 2)


def test_default_modality_weights():
    assert default_modality_weights(['image', 'text']) == {
        'image': 0.1, 'text': 0.9}
    assert default_modality_weights(['text', 'audio']) == {
        'text': 0.9, 'audio': 0.1}
    w = default_modality_weights(['image', 'text', 'audio'])
    assert w == pytest.approx({'image': 1 / 3, 'text': 1 / 3, 'audio': 1 / 3})
    assert default_modality_weights(['text']) == {'text': 1.0}
    assert default_modality_weights(['a', 'b']) == {'a': 0.5, 'b': 0.5}


def test_item_knn_graph_mixture_matches_dense():
    data = make_data(dims={'image': 12, 'text': 8, 'audio': 4})
    weights = {'image': 0.2, 'text': 0.5, 'audio': 0.3}
    data = ItemKNNGraph(k=4, modality_weights=weights, block_size=9)(data)
    store = data[II]
    assert store.edge_index.size(0) == 2
    assert store.edge_weight.numel() == store.edge_index.size(1)
    dense = torch.zeros(40, 40)
    dense[store.edge_index[0], store.edge_index[1]] = store.edge_weight
    ref = sum(w * brute_force_knn(data['item'][m], 4).float() / 4
              for m, w in weights.items())
    assert torch.allclose(dense, ref, atol=1e-6)
    assert torch.allclose(dense.sum(1), torch.ones(40))
    assert torch.allclose(get_item_graph(data).to_dense(), ref, atol=1e-6)


def test_item_knn_graph_default_weights_two_modalities():
    data = make_data(dims={'audio': 6, 'text': 8})
    graph = get_item_graph(data, k=3)
    ref = (0.1 * brute_force_knn(data['item']['audio'], 3)
           + 0.9 * brute_force_knn(data['item']['text'], 3)).float() / 3
    assert torch.allclose(graph.to_dense(), ref, atol=1e-6)
    # Cached on the data as the ('item', 'similar', 'item') relation.
    assert II in data.edge_types
    assert data[II].knn_k == 3
    assert data[II].modality_weights == {'audio': 0.1, 'text': 0.9}


def test_get_item_graph_rebuilds_on_other_settings():
    data = make_data()
    g3 = get_item_graph(data, k=3)
    g5 = get_item_graph(data, k=5)
    assert g3.col_indices().numel() != g5.col_indices().numel()
    assert data[II].knn_k == 3  # the stored relation is left alone
    text_only = get_item_graph(data, k=3, modalities=['text'])
    ref = brute_force_knn(data['item']['text'], 3).float() / 3
    assert torch.allclose(text_only.to_dense(), ref)
    zero_image = get_item_graph(data, k=3,
                                modality_weights={'text': 1.0})
    assert torch.allclose(zero_image.to_dense(), ref)


def test_item_knn_graph_errors():
    data = make_data()
    with pytest.raises(ValueError, match='unknown modalities'):
        ItemKNNGraph(3, {'audio': 1.0})(data)
    with pytest.raises(ValueError, match='non-negative'):
        ItemKNNGraph(3, {'image': -0.5, 'text': 1.5})(data)
    with pytest.raises(ValueError, match='sum to 1'):
        ItemKNNGraph(3, {'image': 0.5, 'text': 0.6})(data)
    with pytest.raises(ValueError, match='subset'):
        ItemKNNGraph(3, modalities=['audio'])(data)
    empty = HeteroData()
    empty['item'].num_nodes = 3
    with pytest.raises(ValueError, match='no item modalities'):
        ItemKNNGraph(2)(empty)
    assert repr(ItemKNNGraph(3)) == 'ItemKNNGraph(k=3, modality_weights=None)'


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
def test_knn_graph_cuda():
    x = torch.randn(30, 4)
    out = knn_graph(x.cuda(), 3)
    assert out.device.type == 'cuda'
    assert torch.allclose(out.to_dense().cpu(), knn_graph(x, 3).to_dense())


def test_knn_indices_cross():
    query, ref = torch.randn(9, 5), torch.randn(20, 5)
    out = knn_indices(query, ref, 4, block_size=4)
    assert out.shape == (9, 4)
    sim = (torch.nn.functional.normalize(query, dim=-1)
           @ torch.nn.functional.normalize(ref, dim=-1).t())
    for r in range(9):
        assert set(out[r].tolist()) == set(sim[r].topk(4).indices.tolist())
    with pytest.raises(ValueError, match="'k' must lie"):
        knn_indices(query, ref, 21)
    with pytest.raises(ValueError, match='shapes'):
        knn_indices(query, torch.randn(20, 4), 2)


def test_automatic_block_size_bounds_the_block():
    from lirdrec_pyg.transforms.knn_graph import (AUTO_BLOCK_ENTRIES,
                                                  auto_block_size)
    assert auto_block_size(1425, None) == 4096
    assert auto_block_size(100_000, None) * 100_000 <= AUTO_BLOCK_ENTRIES
    assert auto_block_size(10**9, None) == 1
    assert auto_block_size(50, 7) == 7
    with pytest.raises(ValueError, match="'block_size' must be positive"):
        auto_block_size(50, 0)
