import pytest
import torch
from torch_geometric.data import HeteroData

from lirdrec_pyg.transforms.knn_graph import (II, ItemKNNGraph, knn_indices,
                                              default_modality_weights,
                                              exact_topk, get_item_graph,
                                              knn_graph, place_self)


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
    # PyG's orientation: row 1 is the item, row 0 its neighbour.
    dense[store.edge_index[1], store.edge_index[0]] = store.edge_weight
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
    assert repr(ItemKNNGraph(3, include_self=False, method='faiss')) == (
        "ItemKNNGraph(k=3, modality_weights=None, include_self=False, "
        "method='faiss')")
    with pytest.raises(ValueError, match="'method' must be one of"):
        ItemKNNGraph(3, method='annoy')


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
    with pytest.raises(ValueError, match="'method' must be one of"):
        knn_indices(query, ref, 2, method='hnsw')
    with pytest.raises(ValueError, match='cannot both'):
        knn_indices(ref, ref, 2, exclude_self=True, force_self=True)
    with pytest.raises(ValueError, match='first rows'):
        knn_indices(ref, query, 2, exclude_self=True)
    with pytest.raises(ValueError, match="'k' must lie in"):
        knn_indices(ref, ref, 20, exclude_self=True)


def test_automatic_block_size_bounds_the_block():
    from lirdrec_pyg.transforms.knn_graph import (AUTO_BLOCK_ENTRIES,
                                                  auto_block_size)
    assert auto_block_size(1425, None) == 4096
    assert auto_block_size(100_000, None) * 100_000 <= AUTO_BLOCK_ENTRIES
    assert auto_block_size(10**9, None) == 1
    assert auto_block_size(50, 7) == 7
    with pytest.raises(ValueError, match="'block_size' must be positive"):
        auto_block_size(50, 0)


@pytest.mark.parametrize('block_size', [1, 5, 64])
def test_exact_topk_blocks_break_ties_as_one_topk(block_size):
    # 0/1 rows: every product is exact, so duplicated rows tie exactly
    # whatever the block; blocking must not change who wins.
    gen = torch.Generator().manual_seed(3)
    base = torch.randint(0, 2, (8, 6), generator=gen).float()
    x = base[torch.randint(0, 8, (30, ), generator=gen)]
    sim = x @ x.t()
    assert torch.equal(exact_topk(x, x, 6, block_size),
                       sim.topk(6, dim=-1).indices)
    sim.fill_diagonal_(float('-inf'))
    assert torch.equal(exact_topk(x, x, 6, block_size, torch.arange(30)),
                       sim.topk(6, dim=-1).indices)


@pytest.mark.parametrize('block_size', [1, 7, 100])
def test_exact_topk_equals_a_fresh_product_per_block(block_size):
    # The reused buffers give what a product and topk per block give.
    query, ref = torch.randn(23, 5), torch.randn(40, 5)
    expected = torch.cat([(query[s:s + block_size] @ ref.t()).topk(
        4, dim=-1).indices for s in range(0, 23, block_size)])
    assert torch.equal(exact_topk(query, ref, 4, block_size), expected)


@pytest.mark.parametrize('include_self', [True, False])
def test_item_knn_graph_edges_flow_into_the_item_as_in_lgconv(include_self):
    from torch_geometric.nn import LGConv
    data = make_data(num_items=30, dims={'image': 6, 'text': 5})
    weights = {'image': 0.3, 'text': 0.7}
    data = ItemKNNGraph(k=4, modality_weights=weights,
                        include_self=include_self)(data)
    store = data[II]
    S = sum(w * brute_force_knn(data['item'][m], 4, include_self) / 4
            for m, w in weights.items())
    h = torch.randn(30, 3, dtype=torch.float64)
    out = LGConv(normalize=False)(h, store.edge_index,
                                  store.edge_weight.double())
    assert torch.allclose(out, S @ h, atol=1e-6)
    assert not torch.allclose(out, S.t() @ h, atol=1e-3)  # S is directed
    # Every item receives exactly k edges per modality (from itself or not).
    has_loop = store.edge_index[0] == store.edge_index[1]
    assert int(has_loop.sum()) == (30 if include_self else 0)
    assert store.knn_include_self is include_self
    assert store.knn_method == 'exact'


def test_get_item_graph_reads_the_stored_orientation_and_self_loops():
    data = make_data(num_items=20, dims={'text': 5})
    # A hand-made relation in PyG's orientation: item 0 receives from 1 and 2.
    data[II].edge_index = torch.tensor([[1, 2], [0, 0]])
    data[II].edge_weight = torch.tensor([0.25, 0.75])
    graph = get_item_graph(data).to_dense()
    assert graph[0, 1] == 0.25 and graph[0, 2] == 0.75
    assert graph.sum() == 1.0
    # Asking for other settings rebuilds and leaves the stored relation.
    data = make_data(num_items=20, dims={'text': 5})
    get_item_graph(data, k=3)
    no_loops = get_item_graph(data, k=3, include_self=False).to_dense()
    assert no_loops.diagonal().abs().sum() == 0
    ref = brute_force_knn(data['item']['text'], 3, include_self=False) / 3
    assert torch.allclose(no_loops, ref.float())
    assert data[II].knn_include_self is True
    loops = get_item_graph(data, k=3, include_self=True).to_dense()
    assert torch.allclose(loops.diagonal(), torch.full((20, ), 1 / 3))


def test_place_self():
    candidates = torch.tensor([[0, 4, 2], [3, 2, 1], [5, 1, 0]])
    assert place_self(candidates, 3, force=True).tolist() == [
        [0, 4, 2], [1, 3, 2], [2, 5, 1]]
    assert place_self(candidates, 2, force=False).tolist() == [
        [4, 2], [3, 2], [5, 1]]


def clustered(num_items, dim, clusters, seed=0):
    gen = torch.Generator().manual_seed(seed)
    centres = torch.randn(clusters, dim, generator=gen)
    member = torch.randint(0, clusters, (num_items, ), generator=gen)
    return centres[member] + 0.3 * torch.randn(num_items, dim, generator=gen)


def recall(approx, exact):
    hits = (approx.unsqueeze(2) == exact.unsqueeze(1)).any(2)
    return hits.float().mean().item()


@pytest.mark.parametrize('include_self', [True, False])
def test_faiss_knn_graph_recall_on_clustered_items(include_self):
    pytest.importorskip('faiss')
    x = clustered(2000, 24, 40)
    k = 10
    exact = knn_graph(x, k, include_self=include_self, normalization='none')
    approx = knn_graph(x, k, include_self=include_self,
                       normalization='none', method='faiss')
    assert torch.equal(approx.crow_indices(), exact.crow_indices())
    cols = approx.col_indices().view(-1, k)
    assert recall(cols, exact.col_indices().view(-1, k)) >= 0.9
    own = torch.arange(2000).unsqueeze(1)
    assert bool((cols == own).any(1).all()) == include_self
    assert not (cols == own).any(1).any() or include_self
    with pytest.raises(ValueError, match="'ef_search' must be positive"):
        knn_graph(x, k, method='faiss', ef_search=0)


def test_faiss_unfilled_rows_are_computed_exactly(monkeypatch):
    import importlib

    # (the package's 'knn_graph' attribute is the function, not the module)
    module = importlib.import_module('lirdrec_pyg.transforms.knn_graph')
    x = torch.randn(12, 4)

    def partial(query, ref, k, ef_search=None):
        out = exact_topk(torch.nn.functional.normalize(query),
                         torch.nn.functional.normalize(ref), k, 4)
        out[[2, 7], -1] = -1  # as faiss marks results it could not find
        return out

    monkeypatch.setattr(module, 'faiss_topk', partial)
    got = knn_indices(x, x, 3, method='faiss', force_self=True)
    assert torch.equal(got, knn_indices(x, x, 3, force_self=True))


def test_faiss_missing_gives_an_install_hint(monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, 'faiss', None)
    with pytest.raises(ImportError, match=r"lirdrec-pyg\[ann\]"):
        knn_graph(torch.randn(10, 3), 2, method='faiss')
