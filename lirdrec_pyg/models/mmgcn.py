"""MMGCN: one graph convolution network per modality, outputs averaged
(the reference toolbox) or summed (the paper)."""
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import HeteroData

from lirdrec_pyg.models.base import (Recommender, train_edge_index,
                                     check_non_negative,
                                     check_one_of, check_positive,
                                     embedding_bpr_loss, require_modalities,
                                     squared_embedding_reg)
from lirdrec_pyg.models.registry import register_model
from lirdrec_pyg.nn.graph_conv import EdgeGraph, bipartite_edge_index

COMBINATIONS = ('concat', 'add')
MODALITY_COMBINES = ('mean', 'sum')
WEIGHT_INITS = ('reference', 'xavier')


class MMGCNLayer(torch.nn.Module):
    r"""One layer of a modality's graph convolution network in MMGCN:
    mean aggregation of the (transformed) neighbours, an ID-enhanced
    transformation of the node itself, and their combination,

    .. math::
        \mathbf{h}_v &= \mathrm{LeakyReLU}\Big(\frac{1}{|\mathcal{N}(v)|}
        \sum_{u \in \mathcal{N}(v)} \mathbf{W}_1 \mathbf{x}_u\Big), \qquad
        \hat{\mathbf{x}}_v = \mathrm{LeakyReLU}(\mathbf{W}_2 \mathbf{x}_v +
        \mathbf{b}_2) + \mathbf{e}_v,

        \mathbf{x}'_v &= \mathrm{LeakyReLU}\big(\mathbf{W}_3
        [\mathbf{h}_v \,\|\, \hat{\mathbf{x}}_v] + \mathbf{b}_3\big)
        \;\text{(concat)} \quad\text{or}\quad \mathrm{LeakyReLU}\big(
        \mathbf{W}_3 \mathbf{h}_v + \mathbf{b}_3 + \hat{\mathbf{x}}_v\big)
        \;\text{(add)},

    with :math:`\mathbf{e}_v` the node's ID embedding.

    Args:
        in_channels (int): Input size.
        out_channels (int): Output size (the ID embedding size).
        combination (str, optional): :obj:`"concat"` or :obj:`"add"`.
            (default: :obj:`"concat"`)
        weight_init (str, optional): :obj:`"xavier"` (Xavier-normal weights,
            zero biases) or :obj:`"reference"` (the toolbox's: Xavier-normal
            :math:`\mathbf{W}_1, \mathbf{W}_2`, and :math:`\mathbf{W}_3`
            in the first layer, :class:`torch.nn.Linear`'s default
            elsewhere). (default: :obj:`"xavier"`)
        first (bool, optional): Whether this is a network's first layer
            (for :obj:`weight_init="reference"`). (default: :obj:`True`)
    """
    def __init__(self, in_channels: int, out_channels: int,
                 combination: str = 'concat', weight_init: str = 'xavier',
                 first: bool = True) -> None:
        super().__init__()
        check_one_of('combination', combination, COMBINATIONS)
        check_one_of('weight_init', weight_init, WEIGHT_INITS)
        self.weight_init = weight_init
        self.first = first
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.combination = combination
        self.conv = torch.nn.Linear(in_channels, in_channels, bias=False)
        self.linear = torch.nn.Linear(in_channels, out_channels)
        gate_in = in_channels + out_channels if combination == 'concat' \
            else in_channels
        self.gate = torch.nn.Linear(gate_in, out_channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.weight_init == 'xavier':
            for lin in (self.conv, self.linear, self.gate):
                torch.nn.init.xavier_normal_(lin.weight)
                if lin.bias is not None:
                    torch.nn.init.zeros_(lin.bias)
            return
        for lin in (self.conv, self.linear, self.gate):
            lin.reset_parameters()  # torch's default, biases included
        xavier = [self.conv, self.linear] + ([self.gate] if self.first else [])
        for lin in xavier:
            torch.nn.init.xavier_normal_(lin.weight)

    def forward(self, x: Tensor, graph: EdgeGraph, mean_weight: Tensor,
                id_emb: Tensor) -> Tensor:
        h = F.leaky_relu(self.conv(graph(x, mean_weight)))
        x_hat = F.leaky_relu(self.linear(x)) + id_emb
        if self.combination == 'concat':
            return F.leaky_relu(self.gate(torch.cat([h, x_hat], dim=-1)))
        return F.leaky_relu(self.gate(h) + x_hat)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.in_channels}, '
                f'{self.out_channels}, combination={self.combination})')


class ModalityGCN(torch.nn.Module):
    r"""The graph convolution network of one modality in MMGCN: users start
    from a learnable modality-specific preference, items from their
    (projected) features, and both pass through :obj:`num_layers`
    :class:`MMGCNLayer` layers,

    .. math::
        \mathbf{X}^{(0)} = \mathrm{normalize}\begin{bmatrix}
        \mathbf{P}_m \\ \mathbf{F}_m \mathbf{W}_m + \mathbf{b}_m
        \end{bmatrix}.

    Args:
        feature_dim (int): Size :math:`d_m` of the modality features.
        num_users (int): The number of users.
        embedding_dim (int): The output (ID embedding) size.
        latent_dim (int, optional): Size of the feature projection and of the
            user preference; :obj:`None` keeps the raw features.
        num_layers (int): The number of layers.
        combination (str): See :class:`MMGCNLayer`.
        weight_init (str, optional): See :class:`MMGCNLayer`; with
            :obj:`"reference"` the projection keeps
            :class:`torch.nn.Linear`'s default. (default: :obj:`"xavier"`)
    """
    def __init__(self, feature_dim: int, num_users: int, embedding_dim: int,
                 latent_dim: Optional[int], num_layers: int,
                 combination: str, weight_init: str = 'xavier') -> None:
        super().__init__()
        check_one_of('weight_init', weight_init, WEIGHT_INITS)
        self.weight_init = weight_init
        in_dim = feature_dim if latent_dim is None else latent_dim
        self.projection = None if latent_dim is None else torch.nn.Linear(
            feature_dim, latent_dim)
        self.preference = torch.nn.Parameter(torch.empty(num_users, in_dim))
        self.layers = torch.nn.ModuleList([
            MMGCNLayer(in_dim if layer == 0 else embedding_dim,
                       embedding_dim, combination, weight_init,
                       first=layer == 0)
            for layer in range(num_layers)
        ])
        self.reset_parameters()

    def reset_parameters(self) -> None:
        torch.nn.init.xavier_normal_(self.preference)
        if self.projection is not None and self.weight_init == 'xavier':
            torch.nn.init.xavier_normal_(self.projection.weight)
            torch.nn.init.zeros_(self.projection.bias)
        elif self.projection is not None:
            self.projection.reset_parameters()
        for layer in self.layers:
            layer.reset_parameters()

    def forward(self, features: Tensor, graph: EdgeGraph, mean_weight: Tensor,
                id_emb: Tensor) -> Tensor:
        if self.projection is not None:
            features = self.projection(features)
        x = F.normalize(torch.cat([self.preference, features], dim=0), dim=-1)
        for layer in self.layers:
            x = layer(x, graph, mean_weight, id_emb)
        return x


@register_model('mmgcn')
class MMGCN(Recommender):
    r"""MMGCN from `"MMGCN: Multi-modal Graph Convolution Network for
    Personalized Recommendation of Micro-video"
    <https://arxiv.org/abs/1908.04322>`_: for every modality :math:`m` a
    separate graph convolution network (:class:`ModalityGCN`) runs over the
    user-item graph with modality-specific user preferences
    :math:`\mathbf{P}_m`, and the modality outputs are averaged (the
    reference toolbox; the paper sums them, :obj:`combine="sum"`),

    .. math::
        \mathbf{z}_v = \frac{1}{M} \sum_{m=1}^{M} \mathbf{x}_{m,v}^{(L)},
        \qquad \hat{y}_{ui} = \mathbf{z}_u^{\top} \mathbf{z}_i,

    for any number :math:`M` of modalities (the paper has visual, acoustic
    and textual ones). Every layer adds the shared ID embedding
    :math:`\mathbf{e}_v` (see :class:`MMGCNLayer`). The loss is BPR plus
    :math:`\lambda` times the reference toolbox's squared-norm penalty,

    .. math::
        \mathcal{R} = \overline{\mathbf{e}_u^2} + \tfrac{1}{2}\big(
        \overline{\mathbf{e}_{i^+}^2} + \overline{\mathbf{e}_{i^-}^2}\big) +
        \sum_m \overline{\mathbf{P}_m^2},

    where the bar is the mean over the batch (or matrix) entries.

    The defaults are the reference toolbox's (MMRec) behaviour, which
    departs from the paper in three ways, each an option: it never trains
    the ID embeddings :math:`\mathbf{e}_v` and the preferences
    :math:`\mathbf{P}_m` (they are plain tensors outside the model's
    parameters, so they keep their random initialisation;
    :obj:`train_embeddings=True` trains them), it averages the modality
    outputs (:obj:`combine="sum"` sums them) and it projects only its
    visual modality, here the first one, to :obj:`latent_dim`
    (:obj:`project_all=True` projects every modality). Its initialisation
    also differs from Xavier's in places (:obj:`weight_init`). With these
    defaults and the toolbox's initial weights copied in, the loss, its
    gradients and the scores equal the toolbox's to float rounding.

    Args:
        data (HeteroData): The dataset; needs at least one modality.
        embedding_dim (int, optional): ID embedding and output size.
            (default: :obj:`64`)
        num_layers (int, optional): Layers per modality; the reference
            toolbox always runs 3. (default: :obj:`3`)
        latent_dim (int, optional): Projection size of the features;
            :obj:`None` uses the raw features. (default: :obj:`256`)
        combination (str, optional): :obj:`"concat"` or :obj:`"add"` (see
            :class:`MMGCNLayer`). (default: :obj:`"concat"`)
        reg_weight (float, optional): :math:`\lambda`. (default: :obj:`1e-4`)
        train_embeddings (bool, optional): Train the ID embeddings and the
            user preferences; the toolbox leaves them at their random
            initialisation. (default: :obj:`False`)
        combine (str, optional): :obj:`"mean"` (the toolbox) or
            :obj:`"sum"` (the paper) of the modality outputs.
            (default: :obj:`"mean"`)
        project_all (bool, optional): Project every modality to
            :obj:`latent_dim`; the toolbox projects only the first (its
            visual one) and feeds the others raw. (default: :obj:`False`)
        weight_init (str, optional): :obj:`"reference"` (the toolbox's) or
            :obj:`"xavier"`; see :class:`MMGCNLayer`.
            (default: :obj:`"reference"`)
    """
    def __init__(self, data: HeteroData, embedding_dim: int = 64,
                 num_layers: int = 3, latent_dim: Optional[int] = 256,
                 combination: str = 'concat',
                 reg_weight: float = 1e-4, train_embeddings: bool = False,
                 combine: str = 'mean', project_all: bool = False,
                 weight_init: str = 'reference') -> None:
        super().__init__(data)
        check_positive('embedding_dim', embedding_dim)
        check_positive('num_layers', num_layers)
        if latent_dim is not None and latent_dim <= 0:
            raise ValueError(f"'latent_dim' must be positive or None "
                             f"(got {latent_dim})")
        check_non_negative('reg_weight', reg_weight)
        check_one_of('combine', combine, MODALITY_COMBINES)
        self.modalities: List[str] = require_modalities(data, 'MMGCN')
        self.train_embeddings = train_embeddings
        self.combine = combine
        self.embedding_dim = embedding_dim
        self.num_layers = num_layers
        self.reg_weight = reg_weight
        n = self.num_users + self.num_items
        self.graph = EdgeGraph(
            bipartite_edge_index(train_edge_index(data), self.num_users), n)
        self.register_buffer('mean_weight', 1.0 / self.graph.in_degree()[
            self.graph.dst], persistent=False)
        self.id_embedding = torch.nn.Embedding(n, embedding_dim)
        self.gcns = torch.nn.ModuleDict()
        for k, m in enumerate(self.modalities):
            feat = data['item'][m].float()
            self.register_buffer(f'feat_{m}', feat, persistent=False)
            self.gcns[m] = ModalityGCN(
                feat.size(1), self.num_users, embedding_dim,
                latent_dim if project_all or k == 0 else None, num_layers,
                combination, weight_init)
        if not train_embeddings:
            # Kept as parameters (in checkpoints) but out of training.
            self.id_embedding.weight.requires_grad_(False)
            for gcn in self.gcns.values():
                gcn.preference.requires_grad_(False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        torch.nn.init.xavier_normal_(self.id_embedding.weight)
        for gcn in self.gcns.values():
            gcn.reset_parameters()

    def modality_outputs(self) -> List[Tensor]:
        r"""The node representations :math:`\mathbf{X}_m^{(L)}` of every
        modality, users first."""
        return [
            self.gcns[m](getattr(self, f'feat_{m}'), self.graph,
                         self.mean_weight, self.id_embedding.weight)
            for m in self.modalities
        ]

    def forward(self) -> Tuple[Tensor, Tensor]:
        out = torch.stack(self.modality_outputs())
        out = out.mean(0) if self.combine == 'mean' else out.sum(0)
        return out[:self.num_users], out[self.num_users:]

    def loss(self, users: Tensor, pos_items: Tensor,
             neg_items: Tensor) -> Tensor:
        user_out, item_out = self.forward()
        rank = embedding_bpr_loss(user_out, item_out, users, pos_items,
                                  neg_items)
        ego = self.id_embedding.weight
        reg = squared_embedding_reg(ego, self.num_users, users, pos_items,
                                    neg_items)
        for gcn in self.gcns.values():
            reg = reg + gcn.preference.square().mean()
        return rank + self.reg_weight * reg

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.num_users}, '
                f'{self.num_items}, modalities={self.modalities}, '
                f'embedding_dim={self.embedding_dim}, '
                f'num_layers={self.num_layers})')
