"""LightGCN on the library's fast propagation layer."""
from typing import List, Tuple

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from lirdrec_pyg.distributed import (Sharding, sharded_adjacency,
                                    sharded_propagation)
from lirdrec_pyg.loader.subgraph import SubgraphBatch
from lirdrec_pyg.models.base import (Recommender, check_positive,
                                     dot_bpr_loss, embedding_bpr_loss,
                                     embedding_norm_loss)
from lirdrec_pyg.models.registry import register_model
from lirdrec_pyg.nn.propagation import LightGCNPropagation
from lirdrec_pyg.nn.rows import gather_rows
from lirdrec_pyg.transforms.adjacency import get_ui_adjacency


@register_model('lightgcn')
class LightGCN(Recommender):
    r"""LightGCN from `"LightGCN: Simplifying and Powering Graph Convolution
    Network for Recommendation" <https://arxiv.org/abs/2002.02126>`_,

    .. math::
        \mathbf{E} = \frac{1}{L+1} \sum_{l=0}^{L} \hat{\mathbf{A}}^{l}
        \mathbf{E}^{(0)}, \qquad \hat{y}_{ui} = \mathbf{e}_u^{\top}
        \mathbf{e}_i,

    trained with BPR plus :math:`\lambda` times the reference toolbox's
    norm regulariser on the layer-0 embeddings of the batch.

    With ``train.mode: sampled`` (:meth:`subgraph_loss`) a step propagates
    over the batch's sampled subgraph only; with every neighbour kept, it
    gives the batch the same representations, loss and gradients.

    Args:
        data (HeteroData): The dataset.
        embedding_dim (int, optional): Embedding size. (default: :obj:`64`)
        num_layers (int, optional): Propagation steps :math:`L`.
            (default: :obj:`2`)
        reg_weight (float, optional): :math:`\lambda`. (default: :obj:`1e-4`)
        combine (str, optional): Layer combination, :obj:`"mean"` as in the
            paper, or :obj:`"sum"`. (default: :obj:`"mean"`)

    Shardable (:meth:`shard`): every process propagates the rows of its
    users and items (the embedding table is replicated, so the first layer
    needs no gather).
    """
    shardable = True
    supports_subgraph = True

    def __init__(self, data: HeteroData, embedding_dim: int = 64,
                 num_layers: int = 2, reg_weight: float = 1e-4,
                 combine: str = 'mean') -> None:
        super().__init__(data)
        check_positive('embedding_dim', embedding_dim)
        self.embedding_dim = embedding_dim
        self.reg_weight = reg_weight
        self.embedding = torch.nn.Embedding(self.num_users + self.num_items,
                                            embedding_dim)
        self.propagation = LightGCNPropagation(num_layers, combine,
                                               normalize=False)
        # A sampled subgraph's propagation matrix is not symmetric.
        self.subgraph_propagation = LightGCNPropagation(
            num_layers, combine, normalize=False, symmetric=False)
        self.register_graph('adj', get_ui_adjacency(data))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        torch.nn.init.xavier_uniform_(self.embedding.weight)

    def shard(self, sharding: Sharding) -> None:
        super().shard(sharding)
        self.register_graph('adj_rows', sharded_adjacency(self.adj, sharding))
        self.register_graph('local_nodes',
                            sharding.local_nodes(self.adj.device))

    def forward(self) -> Tuple[Tensor, Tensor]:
        x = self.embedding.weight
        if self.sharding is None:
            out = self.propagation(x, self.adj)
        else:
            local = sharded_propagation(
                self.propagation, x.index_select(0, self.local_nodes),
                self.adj_rows, self.sharding, x_full=x)
            out = self.sharding.gather_nodes(local)
        return out[:self.num_users], out[self.num_users:]

    def loss(self, users: Tensor, pos_items: Tensor,
             neg_items: Tensor) -> Tensor:
        user_out, item_out = self.forward()
        rank = embedding_bpr_loss(user_out, item_out, users, pos_items,
                                  neg_items, sharding=self.sharding)
        ego = self.embedding.weight
        reg = embedding_norm_loss(ego[users], ego[self.num_users + pos_items],
                                  ego[self.num_users + neg_items],
                                  sharding=self.sharding)
        return rank + self.reg_weight * reg

    @property
    def num_hops(self) -> int:
        return self.propagation.num_layers

    def sparse_parameters(self) -> List[torch.nn.Parameter]:
        return [self.embedding.weight]

    def subgraph_loss(self, batch: SubgraphBatch) -> Tensor:
        ego = gather_rows(self.embedding.weight, batch.node)
        out = self.subgraph_propagation(ego, batch.adj)
        # Each of the two gathers below has one backward pass, writing into
        # one buffer of the subgraph's size (three per gather cost three).
        triples = torch.cat([batch.users, batch.pos_items, batch.neg_items])
        b = batch.users.numel()
        rank = dot_bpr_loss(*out.index_select(0, triples).split(b))
        reg = embedding_norm_loss(*ego.index_select(0, triples).split(b))
        return rank + self.reg_weight * reg

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.num_users}, '
                f'{self.num_items}, embedding_dim={self.embedding_dim}, '
                f'num_layers={self.propagation.num_layers})')
