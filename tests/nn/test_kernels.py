import pytest
import torch

from lirdrec_pyg.nn import LightGCNPropagation, sparse_propagate
from lirdrec_pyg.nn import kernels
from lirdrec_pyg.transforms.adjacency import csr_from_coo

# The compiled kernel is part of what CI checks: it must build here (a C++
# compiler is on every machine of this project). Only an explicit
# LIRDREC_KERNELS=0 turns these tests off.
pytestmark = pytest.mark.skipif(not kernels.kernels_enabled(),
                                reason='LIRDREC_KERNELS=0')


@pytest.fixture(scope='module')
def spmm():
    # Builds into this install if `lirdrec build-kernels` has not yet.
    kernels.load_spmm_extension(build=True)
    kernel = kernels.csr_spmm_kernel()
    assert kernel is not None, 'the compiled SpMM kernel did not build'
    return kernel


def random_csr(rows, cols, nnz, seed=0, empty_rows=()):
    g = torch.Generator().manual_seed(seed)
    keys = torch.randperm(rows * cols, generator=g)[:nnz]
    row, col = keys // cols, keys % cols
    keep = ~torch.isin(row, torch.tensor(list(empty_rows), dtype=torch.long))
    row, col = row[keep], col[keep]
    values = torch.rand(row.numel(), generator=g)
    return csr_from_coo(row, col, values, rows, cols)


def naive_spmm(adj, x):
    # The textbook double loop over the stored entries, in float64.
    out = torch.zeros(adj.size(0), x.size(1), dtype=torch.float64)
    crow, col, val = adj.crow_indices(), adj.col_indices(), adj.values()
    for r in range(adj.size(0)):
        for k in range(int(crow[r]), int(crow[r + 1])):
            out[r] += float(val[k]) * x[col[k]].double()
    return out


# Widths around the 16-float vector, the 192-column register block and the
# scalar tail.
@pytest.mark.parametrize('width', [1, 7, 16, 17, 64, 191, 192, 200, 400])
def test_matches_naive_product(spmm, width):
    adj = random_csr(9, 11, 40, seed=width, empty_rows=(0, 4))
    x = torch.randn(11, width)
    out = spmm(adj.crow_indices(), adj.col_indices(), adj.values(), x)
    assert out.shape == (9, width) and out.dtype == torch.float32
    assert torch.allclose(out.double(), naive_spmm(adj, x), atol=1e-5)
    assert torch.all(out[0] == 0) and torch.all(out[4] == 0)


def test_equals_torch_kernel_bit_for_bit(spmm):
    # Same entries summed in the same order: identical, not just close.
    adj = random_csr(300, 200, 3000, seed=1)
    x = torch.randn(200, 192)
    out = spmm(adj.crow_indices(), adj.col_indices(), adj.values(), x)
    assert torch.equal(out, torch.sparse.mm(adj, x, 'sum'))


def test_non_contiguous_input_and_empty_shapes(spmm):
    adj = random_csr(5, 6, 12, seed=2)
    x = torch.randn(20, 6).t()  # [6, 20], transposed strides
    out = spmm(adj.crow_indices(), adj.col_indices(), adj.values(), x)
    assert torch.allclose(out, adj.to_dense() @ x, atol=1e-6)
    empty = csr_from_coo(torch.empty(0, dtype=torch.long),
                         torch.empty(0, dtype=torch.long), torch.empty(0),
                         3, 6)
    out = spmm(empty.crow_indices(), empty.col_indices(), empty.values(),
               torch.randn(6, 4))
    assert torch.equal(out, torch.zeros(3, 4))


def test_rejects_bad_input(spmm):
    adj = random_csr(4, 5, 8, seed=3)
    crow, col, val = adj.crow_indices(), adj.col_indices(), adj.values()
    with pytest.raises(RuntimeError, match='out of range'):
        spmm(crow, col, val, torch.randn(3, 4))  # x has too few rows
    with pytest.raises(RuntimeError, match='float32'):
        spmm(crow, col, val, torch.randn(5, 4, dtype=torch.float64))
    with pytest.raises(RuntimeError, match='non-decreasing'):
        spmm(torch.tensor([0, 5, 3, 6, 8]), col, val, torch.randn(5, 4))


def test_used_by_propagation_with_same_values_and_gradients(spmm,
                                                           monkeypatch):
    adj = random_csr(30, 30, 200, seed=4)
    adj = csr_from_coo(*_symmetrise(adj), 30, 30)
    x = torch.randn(30, 48, requires_grad=True)
    weight = torch.randn(30, 48)
    layer = LightGCNPropagation(2, 'sum', normalize=False)
    calls = []
    real = kernels.csr_spmm_kernel

    def counting():
        kernel = real()
        if kernel is not None:  # a product that runs on the kernel
            calls.append(1)
        return kernel
    monkeypatch.setattr(kernels, 'csr_spmm_kernel', counting)
    (layer(x, adj) * weight).sum().backward()
    assert len(calls) == 4  # two products forward, two backward
    grad, x.grad = x.grad.clone(), None

    monkeypatch.setenv('LIRDREC_KERNELS', '0')
    calls.clear()
    (layer(x, adj) * weight).sum().backward()
    assert not calls
    assert torch.equal(grad, x.grad)
    out = sparse_propagate(x.detach(), adj, normalize=False)
    assert torch.equal(out, torch.sparse.mm(adj, x.detach(), 'sum'))


def test_bad_environment_value(monkeypatch):
    monkeypatch.setenv('LIRDREC_KERNELS', 'yes')
    with pytest.raises(ValueError, match='LIRDREC_KERNELS'):
        kernels.kernels_enabled()


def _symmetrise(adj):
    dense = adj.to_dense()
    dense = dense + dense.t()
    row, col = dense.nonzero(as_tuple=True)
    return row, col, dense[row, col]


def fresh_loader(monkeypatch, compile_error):
    r"""Forgets the loaded kernel and makes every compile attempt raise
    :obj:`compile_error`."""
    import torch.utils.cpp_extension as cpp_extension

    def compiler(*args, **kwargs):
        raise compile_error
    monkeypatch.setattr(cpp_extension, 'load', compiler)
    monkeypatch.setattr(kernels, '_module', None)
    monkeypatch.setattr(kernels, '_failed', False)
    monkeypatch.setattr(kernels, '_unbuilt_warned', False)


def test_failed_build_warns_once_and_falls_back(monkeypatch, tmp_path):
    fresh_loader(monkeypatch, OSError('no C++ compiler here'))
    monkeypatch.setenv('LIRDREC_KERNEL_DIR', str(tmp_path))
    adj = random_csr(6, 6, 14, seed=5)
    x = torch.randn(6, 32)
    with pytest.warns(UserWarning, match='no C\\+\\+ compiler here'):
        assert kernels.load_spmm_extension(build=True) is None
    assert kernels.csr_spmm_kernel() is None  # no second attempt
    assert torch.allclose(sparse_propagate(x, adj, normalize=False),
                          adj.to_dense() @ x,
                          atol=1e-6)


def test_threads_give_identical_rows(spmm):
    # Rows are independent, so splitting them over threads changes nothing.
    adj = random_csr(500, 400, 6000, seed=6)
    x = torch.randn(400, 80)
    args = (adj.crow_indices(), adj.col_indices(), adj.values(), x)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = spmm(*args)
        torch.set_num_threads(2)
        two = spmm(*args)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(one, two)


def test_used_by_edge_graph_with_same_values_and_gradients(spmm, monkeypatch):
    from lirdrec_pyg.nn.graph_conv import EdgeGraph
    key = torch.randperm(40 * 30, generator=torch.Generator().manual_seed(7))
    edge_index = torch.stack([key[:200] // 30, key[:200] % 30])
    graph = EdgeGraph(edge_index, 40, 30)
    x = torch.randn(40, 24, requires_grad=True)
    weight = torch.rand(graph.num_edges, requires_grad=True)
    target = torch.randn(30, 24)

    def run(flag):
        monkeypatch.setenv('LIRDREC_KERNELS', flag)
        x.grad = weight.grad = None
        out = graph(x, weight)
        (out * target).sum().backward()
        return out.detach(), x.grad.clone(), weight.grad.clone()
    for compiled, reference in zip(run('1'), run('0')):
        assert torch.equal(compiled, reference)


def test_applies_only_to_its_case():
    adj = random_csr(4, 5, 8, seed=8)
    x = torch.randn(5, 3)
    assert kernels.csr_kernel_applies(adj, x)
    assert not kernels.csr_kernel_applies(adj.to_sparse_coo(), x)
    assert not kernels.csr_kernel_applies(adj, x.double())
    assert not kernels.csr_kernel_applies(adj.to(torch.float64), x)
    assert not kernels.csr_kernel_applies(adj, x[:, :, None])
    with torch.enable_grad():
        assert not kernels.csr_kernel_applies(adj, x.requires_grad_())
    with torch.no_grad():  # inside an autograd function's forward
        assert kernels.csr_kernel_applies(adj, x)
    batched = torch.stack([adj.to_dense()] * 2).to_sparse_csr()
    assert not kernels.csr_kernel_applies(batched, x)


def test_structure_is_checked_once_per_tensor_and_row_count(spmm):
    adj = random_csr(4, 5, 10, seed=9)
    x = torch.randn(5, 16)
    assert torch.allclose(kernels.spmm(adj, x), adj.to_dense() @ x,
                          atol=1e-6)
    assert adj._lirdrec_checked_rows == 5
    # Fewer rows than the structure was checked for: checked again, and
    # rejected, instead of reading outside x.
    with pytest.raises(RuntimeError, match='out of range'):
        kernels.spmm(adj, torch.randn(3, 16))
    # A caller-validated product skips the check (and the cache).
    fresh = random_csr(4, 5, 10, seed=9)
    x = torch.randn(5, 16)
    assert torch.equal(kernels.spmm(fresh, x, validated=True),
                       torch.sparse.mm(fresh, x, 'sum'))
    assert not hasattr(fresh, '_lirdrec_checked_rows')


def test_build_is_named_per_cpu():
    import re
    assert re.fullmatch(r'lirdrec_pyg_spmm_v\d+_[0-9a-f]{8}',
                        kernels._EXTENSION_NAME)
    assert kernels._cpu_tag() == kernels._cpu_tag()


def test_runs_never_compile(monkeypatch, tmp_path):
    fresh_loader(monkeypatch, AssertionError('a run must not compile'))
    monkeypatch.setenv('LIRDREC_KERNEL_DIR', str(tmp_path / 'empty'))
    with pytest.warns(UserWarning, match="not built for this install.*"
                      "lirdrec build-kernels"):
        assert kernels.csr_spmm_kernel() is None
    assert kernels.csr_spmm_kernel() is None  # one warning, then quiet
    # An explicit build (lirdrec build-kernels) still tries after that.
    with pytest.warns(UserWarning, match='a run must not compile'):
        assert kernels.load_spmm_extension(build=True) is None
    adj = random_csr(6, 6, 14, seed=5)
    x = torch.randn(6, 32)
    assert torch.allclose(sparse_propagate(x, adj, normalize=False),
                          adj.to_dense() @ x, atol=1e-6)


def test_built_kernel_loads_without_compiler(spmm, monkeypatch):
    fresh_loader(monkeypatch, AssertionError('a built kernel needs no '
                                             'compiler'))
    assert kernels._built_library() is not None
    assert kernels.csr_spmm_kernel() is not None
