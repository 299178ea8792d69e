"""Helpers shared by the model tests: synthetic data, batches, a short
training run against the popularity baseline and state-dict round trips."""
from typing import Any, Callable, Dict, Optional, Tuple

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from lirdrec_pyg.data import make_synthetic
from lirdrec_pyg.models import create_model
from lirdrec_pyg.models.base import Recommender
from lirdrec_pyg.train import TrainConfig, Trainer, seed_everything

#: Three modalities, so that no model is tied to image + text.
THREE_MODALITIES = {'image': 8, 'text': 6, 'audio': 5}

Batch = Tuple[Tensor, Tensor, Tensor]


def mm_data(modality_dims: Optional[Dict[str, int]] = None) -> HeteroData:
    r"""40 users, 30 items, six interactions per user (seed 0), with
    :obj:`THREE_MODALITIES` unless :obj:`modality_dims` is given."""
    return make_synthetic(num_users=40, num_items=30,
                          modality_dims=modality_dims or THREE_MODALITIES,
                          interactions_per_user=6, seed=0)


def mm_small() -> HeteroData:
    r"""60 users, 40 items, eight interactions per user (seed 1), three
    modalities of 12, 8 and 5 dimensions."""
    return make_synthetic(num_users=60, num_items=40,
                          modality_dims={'image': 12, 'text': 8, 'audio': 5},
                          interactions_per_user=8, seed=1)


def fixed_batch(data: HeteroData, size: int = 16) -> Batch:
    r"""A reproducible batch of :obj:`size` training pairs with uniform
    negatives, drawn from its own generator (seed 1)."""
    g = torch.Generator().manual_seed(1)
    edges = data['user', 'interacts', 'item'].edge_index
    idx = torch.randint(edges.size(1), (size,), generator=g)
    neg = torch.randint(data['item'].num_nodes, (size,), generator=g)
    return edges[0, idx], edges[1, idx], neg


def random_batch(data: HeteroData, n: int = 32) -> Batch:
    r"""A batch of :obj:`n` training pairs with uniform negatives, drawn
    from the global random state."""
    edge_index = data['user', 'interacts', 'item'].edge_index
    idx = torch.randint(edge_index.size(1), (n,))
    neg = torch.randint(data['item'].num_nodes, (n,))
    return edge_index[0, idx], edge_index[1, idx], neg


def short_run_data(modality_dims: Optional[Dict[str, int]] = None
                   ) -> HeteroData:
    r"""The 300 x 200 synthetic dataset (seed 0) of the short training runs
    (default features of :func:`make_synthetic` unless given)."""
    return make_synthetic(num_users=300, num_items=200,
                          modality_dims=modality_dims, seed=0)


def fit_against_popularity(name: str, data: HeteroData, config: TrainConfig,
                           popularity_config: Optional[TrainConfig] = None,
                           seed: Optional[int] = None,
                           **hparams: Any) -> Tuple[Any, Any]:
    r"""Fits the popularity baseline (with :obj:`popularity_config`, default
    :obj:`config`), then model :obj:`name` built after
    :func:`seed_everything` (:obj:`seed`, if given) and trained with
    :obj:`config`. Returns both results, the model's first."""
    popularity = Trainer(create_model('popularity', data), data,
                         popularity_config or config).fit()
    if seed is not None:
        seed_everything(seed)
    model = create_model(name, data, **hparams)
    return Trainer(model, data, config).fit(), popularity


def assert_round_trip_with_rebuilt_graphs(
        build: Callable[[], Recommender]) -> None:
    r"""Two models from :obj:`build` agree after a :meth:`load_state_dict`,
    and fixed graphs and frozen features stay out of the state dict (they
    are rebuilt from the data)."""
    a, b = build().eval(), build().eval()
    b.load_state_dict(a.state_dict())
    for x, y in zip(a(), b()):
        assert torch.allclose(x, y)
    frozen = {f'feat_{m}' for m in a.modalities}
    assert not any(k in frozen or 'graph' in k for k in a.state_dict())


def assert_round_trip_from_other_init(
        build: Callable[[], Recommender]) -> None:
    r"""A second model from :obj:`build`, initialised from another seed,
    infers the same after loading the first one's state dict."""
    first = build()
    torch.manual_seed(999)
    second = build()
    second.load_state_dict(first.state_dict())
    for a, b in zip(first.inference(), second.inference()):
        assert torch.allclose(a, b)


def short_run_config() -> TrainConfig:
    r"""Four epochs at learning rate 0.01 in batches of 512 (seed 0)."""
    return TrainConfig(epochs=4, lr=1e-2, batch_size=512, seed=0,
                       progress=False)


def popularity_config() -> TrainConfig:
    r"""One epoch (popularity does not train; the epoch only evaluates)."""
    return TrainConfig(epochs=1, progress=False)


def featureless_data() -> HeteroData:
    r"""20 users x 10 items without item features (seed 0)."""
    return make_synthetic(num_users=20, num_items=10, modality_dims={},
                          interactions_per_user=4, seed=0)


def assert_every_parameter_has_gradient(model: torch.nn.Module) -> None:
    r"""Every parameter of :obj:`model` received a non-zero gradient."""
    for name, param in model.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


def reproduce(model: str, dataset: str, seed: int,
              overrides: Tuple[str, ...] = ()) -> Dict[str, float]:
    r"""Trains :obj:`model` on the real :obj:`dataset` with its reference
    settings (``configs/datasets/<dataset>.yaml``) and :obj:`seed` to early
    stop, as ``lirdrec train`` does, and returns the test metrics at the best
    validation epoch. Skips with the loader's message if the data is
    missing."""
    import pytest

    from lirdrec_pyg.data import DatasetNotFoundError, load_dataset
    from lirdrec_pyg.train.config import load_config
    from lirdrec_pyg.train.experiment import run_experiment
    try:
        data = load_dataset(dataset)
    except DatasetNotFoundError as e:
        pytest.skip(str(e))
    config = load_config(model, dataset=dataset, overrides=[
        f'train.seed={seed}', 'train.progress=false', 'train.threads=1',
        *overrides])
    return run_experiment(dataset, model, config, data=data)['test']


def assert_reaches(test: Dict[str, float], recall20: float, ndcg20: float,
                   share: float = 0.95) -> None:
    r"""The test Recall@20 and NDCG@20 of a reproduction are at least
    :obj:`share` of the reference run's :obj:`recall20` and :obj:`ndcg20`."""
    assert test['Recall@20'] >= share * recall20, test['Recall@20']
    assert test['NDCG@20'] >= share * ndcg20, test['NDCG@20']
