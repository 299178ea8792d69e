r"""The sampled-subgraph training mode (``train.mode: sampled``): what the
trainer needs beside full-graph training, kept in one place.

Every step computes the loss of a batch of BPR triples on the batch's
sampled subgraph (:mod:`lirdrec_pyg.loader`), so its cost does not grow with
the graph; the large tables (user and item embeddings) get row-sparse
gradients and are updated by :class:`~lirdrec_pyg.train.row_adam.RowAdam`
(the update of :class:`torch.optim.SparseAdam`, with index operations on
the touched rows), the other parameters by Adam. This is the "lazy" Adam of
large-scale recommenders: the moments of a row change only in the steps
that touch it, so the sampled mode's updates differ from full-graph
training's dense Adam even with every neighbour kept (the batch's loss and
gradients do not). The sampler holds the graph on the model's device, so a
batch is sampled where the step runs.
"""
from typing import Any, Dict, List, Optional, Type, Union

import torch
from torch import Tensor

from lirdrec_pyg.loader import BPRSubgraphSampler, resolve_num_neighbors
from lirdrec_pyg.models.base import Recommender, train_edge_index
from lirdrec_pyg.train.row_adam import RowAdam

MODES = ('full', 'sampled')


def check_subgraph_support(
        model: Union[Recommender, Type[Recommender]]) -> None:
    r"""Raises a :class:`ValueError` naming the model (an instance or its
    class) unless it trains on sampled subgraphs."""
    cls = model if isinstance(model, type) else type(model)
    if not getattr(cls, 'supports_subgraph', False):
        raise ValueError(f"train.mode='sampled' is not supported by "
                         f"{cls.__name__}; use train.mode='full' "
                         f"(models with it: LightGCN, LIRDRec)")


class CombinedOptimizer:
    r"""Several optimisers stepped together, with one state dict (e.g.
    RowAdam for embedding tables and Adam for the rest).

    Args:
        optimizers (dict): Optimisers by name.
    """
    def __init__(self, optimizers: Dict[str, torch.optim.Optimizer]) -> None:
        self.optimizers = dict(optimizers)

    @property
    def param_groups(self) -> List[Dict[str, Any]]:
        return [group for opt in self.optimizers.values()
                for group in opt.param_groups]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for opt in self.optimizers.values():
            opt.zero_grad(set_to_none=set_to_none)

    def step(self) -> None:
        for opt in self.optimizers.values():
            opt.step()

    def state_dict(self) -> Dict[str, Any]:
        return {name: opt.state_dict()
                for name, opt in self.optimizers.items()}

    def load_state_dict(self, state: Dict[str, Any]) -> None:
        if set(state) != set(self.optimizers):
            raise ValueError(f"the checkpoint's optimiser holds "
                             f"{sorted(state)}, this run uses "
                             f"{sorted(self.optimizers)} (was it written "
                             f"with another train.mode?)")
        for name, opt in self.optimizers.items():
            opt.load_state_dict(state[name])


def make_sampled_optimizer(
        model: Recommender, lr: float, weight_decay: float = 0.0,
        sparse_optimizer: Type[torch.optim.Optimizer] = RowAdam
) -> CombinedOptimizer:
    r""":obj:`sparse_optimizer` (:class:`~lirdrec_pyg.train.row_adam.RowAdam`
    or :class:`torch.optim.SparseAdam`, the same update) for
    :meth:`~lirdrec_pyg.models.Recommender.sparse_parameters`, fused Adam
    for the other trainable parameters."""
    from lirdrec_pyg.train.trainer import make_adam
    sparse = [p for p in model.sparse_parameters() if p.requires_grad]
    if sparse and weight_decay:
        raise ValueError(f"train.weight_decay must be 0 with "
                         f"train.mode='sampled' (got {weight_decay}): the "
                         f"embedding tables' row-wise Adam has no weight "
                         f"decay")
    ids = {id(p) for p in sparse}
    dense = [p for p in model.parameters()
             if p.requires_grad and id(p) not in ids]
    optimizers: Dict[str, torch.optim.Optimizer] = {}
    if dense:
        optimizers['dense'] = make_adam(dense, lr, weight_decay)
    if sparse:
        optimizers['sparse'] = sparse_optimizer(sparse, lr=lr)
    return CombinedOptimizer(optimizers)


def make_subgraph_sampler(model: Recommender, data: Any,
                          num_neighbors: Any) -> BPRSubgraphSampler:
    r"""The subgraph sampler of :obj:`model` on the training graph of
    :obj:`data`, with one fan-out per propagation layer, on the model's
    device (the graph is held and every batch sampled there)."""
    check_subgraph_support(model)
    fanouts = resolve_num_neighbors(num_neighbors, max(model.num_hops, 1))
    device = next(iter(model.parameters())).device
    return BPRSubgraphSampler(train_edge_index(data), model.num_users,
                              model.num_items, fanouts, device=device)


def subgraph_batch_loss(model: Recommender, sampler: BPRSubgraphSampler,
                        users: Tensor, pos_items: Tensor,
                        neg_items: Tensor) -> Tensor:
    r"""The model's loss of the triples on their sampled subgraph, sampled
    on the sampler's device (the model's: no host copy per batch)."""
    extra: Optional[Tensor] = None
    if type(model).subgraph_item_seeds is not \
            Recommender.subgraph_item_seeds:
        # The default seeds are the batch's items, which are seeds anyway.
        items = torch.unique(torch.cat([pos_items, neg_items]))
        extra = model.subgraph_item_seeds(items)
    return model.subgraph_loss(sampler.sample(users, pos_items, neg_items,
                                              extra))
