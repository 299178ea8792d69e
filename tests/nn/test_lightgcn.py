import pytest
import torch
from torch_geometric.nn.models import LightGCN as PyGLightGCN
from torch_geometric.utils import to_undirected

from lirdrec_pyg.nn import LightGCN
from lirdrec_pyg.transforms import bipartite_normalized_adjacency


def graph(num_users=8, num_items=6, num_edges=20, seed=0):
    g = torch.Generator().manual_seed(seed)
    keys = torch.randperm(num_users * num_items, generator=g)[:num_edges]
    pairs = torch.stack([keys // num_items, keys % num_items])
    joint = to_undirected(torch.stack([pairs[0], pairs[1] + num_users]))
    return pairs, joint


def twins(alpha=None, num_layers=2):
    ours = LightGCN(14, 4, num_layers, alpha)
    ref = PyGLightGCN(14, 4, num_layers, alpha)
    ref.embedding.weight.data.copy_(ours.embedding.weight.data)
    return ours, ref


@pytest.mark.parametrize('alpha', [None, torch.tensor([0.5, 0.3, 0.2])])
def test_same_outputs_losses_and_gradients_as_pyg(alpha):
    _, joint = graph()
    ours, ref = twins(alpha)
    label_index = torch.tensor([[0, 1, 2, 3], [8, 9, 10, 13]])
    for model in (ours, ref):
        pos = model(joint, label_index)
        neg = model(joint, label_index.flip(0))
        model.recommendation_loss(pos, neg, lambda_reg=1e-3).backward()
    assert torch.allclose(ours.get_embedding(joint),
                          ref.get_embedding(joint), atol=1e-6)
    assert torch.allclose(ours.embedding.weight.grad,
                          ref.embedding.weight.grad, atol=1e-6)
    assert torch.equal(ours.predict_link(joint, label_index, prob=False),
                       ref.predict_link(joint, label_index, prob=False))
    pred = ours(joint, label_index)
    label = torch.tensor([1, 0, 1, 1])
    assert torch.allclose(ours.link_pred_loss(pred, label),
                          ref.link_pred_loss(ref(joint, label_index), label),
                          atol=1e-6)
    users, items = torch.arange(8), torch.arange(8, 14)
    assert torch.equal(
        ours.recommend(joint, src_index=users, dst_index=items, k=3),
        ref.recommend(joint, src_index=users, dst_index=items, k=3))
    assert repr(ours) == 'LightGCN(14, 4, num_layers=2)'


def test_library_adjacency_is_the_fast_equal_input():
    pairs, joint = graph()
    ours, _ = twins()
    adj = bipartite_normalized_adjacency(pairs, 8, 6)
    assert torch.allclose(ours.get_embedding(adj), ours.get_embedding(joint),
                          atol=1e-6)
    out = ours.get_embedding(adj)
    assert type(out.grad_fn).__name__ == '_SymmetricPowerSumBackward'


def test_refuses_unknown_arguments_and_ambiguous_graphs():
    with pytest.raises(ValueError, match="'normalize' and 'symmetric'"):
        LightGCN(14, 4, 2, cached=True)
    pairs, _ = graph()
    with pytest.raises(ValueError, match='num_users='):
        LightGCN(14, 4, 2).get_embedding(pairs)
