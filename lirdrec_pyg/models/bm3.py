"""BM3: bootstrapped multimodal representations without negative sampling."""
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import HeteroData

from lirdrec_pyg.models.base import (Recommender, check_fraction,
                                     check_one_of, check_positive,
                                     embedding_norm_loss, require_modalities)
from lirdrec_pyg.models.registry import register_model
from lirdrec_pyg.nn.contrastive import cosine_alignment_loss
from lirdrec_pyg.nn.propagation import LightGCNPropagation
from lirdrec_pyg.transforms.adjacency import get_ui_adjacency

PROJECTION_INITS = ('reference', 'xavier')


@register_model('bm3')
class BM3(Recommender):
    r"""BM3 from `"Bootstrap Latent Representations for Multi-modal
    Recommendation" <https://arxiv.org/abs/2207.05969>`_ (Zhou et al.,
    WWW 2023).

    ID embeddings are propagated by LightGCN, with a residual item ID term,
    and each modality :math:`m` is projected to the same space:

    .. math::
        \begin{pmatrix} \mathbf{H}_U \\ \mathbf{H}_I \end{pmatrix} =
        \frac{1}{L+1} \sum_{l=0}^{L} \hat{\mathbf{A}}^{l}
        \begin{pmatrix} \mathbf{E}_U \\ \mathbf{E}_I \end{pmatrix}
        + \begin{pmatrix} \mathbf{0} \\ \mathbf{E}_I \end{pmatrix},
        \qquad \mathbf{H}_m = \mathbf{F}_m \mathbf{W}_m + \mathbf{b}_m.

    A shared predictor :math:`f(\mathbf{h}) = \mathbf{W}_p \mathbf{h} +
    \mathbf{b}_p` gives the online views; the target views are dropout
    (rate :math:`p`) copies of the representations with the gradient
    stopped. For an observed pair :math:`(u, i)` the loss aligns online and
    target views, without any negative item:

    .. math::
        \mathcal{L} = \mathcal{C}(f(\mathbf{h}_u), \tilde{\mathbf{h}}_i)
        + \mathcal{C}(f(\mathbf{h}_i), \tilde{\mathbf{h}}_u)
        + \lambda_{cl} \sum_{m \in \mathcal{M}} \left[
        \mathcal{C}(f(\mathbf{h}_{m,i}), \tilde{\mathbf{h}}_i) +
        \mathcal{C}(f(\mathbf{h}_{m,i}), \tilde{\mathbf{h}}_{m,i}) \right]
        + \lambda \frac{\lVert \mathbf{H}_U \rVert_F +
        \lVert \mathbf{H}_I \rVert_F}{|\mathcal{I}|},

    with :math:`\mathcal{C}(\mathbf{o}, \mathbf{t}) = 1 - \cos(\mathbf{o},
    \mathrm{sg}(\mathbf{t}))` averaged over the batch
    (:func:`~lirdrec_pyg.nn.contrastive.cosine_alignment_loss`),
    :math:`\tilde{\mathbf{h}} = \mathrm{Dropout}_p(\mathrm{sg}(\mathbf{h}))`,
    and the norm regulariser of the reference toolbox over all users and
    items. Scores are :math:`f(\mathbf{h}_u)^{\top} f(\mathbf{h}_i)`. As in
    the reference, the raw features :math:`\mathbf{F}_m` are fine-tuned. The
    paper's image and text terms are summed over any number of modalities
    (:obj:`data.modalities`).

    Args:
        data (HeteroData): The dataset, with at least one item modality.
        embedding_dim (int, optional): Size :math:`d`. (default: :obj:`64`)
        num_layers (int, optional): Propagation steps :math:`L`.
            (default: :obj:`1`)
        dropout (float, optional): Target-view dropout :math:`p`.
            (default: :obj:`0.5`)
        reg_weight (float, optional): :math:`\lambda`. (default: :obj:`0.1`)
        cl_weight (float, optional): :math:`\lambda_{cl}`.
            (default: :obj:`2.0`)
        projection_init (str, optional): Initial :math:`\mathbf{W}_m`:
            :obj:`"reference"` (the toolbox: Xavier-normal for every
            modality except :obj:`text`, which keeps
            :class:`torch.nn.Linear`'s default uniform initialisation, about
            2.3 times smaller for 384-d text features) or :obj:`"xavier"`
            (Xavier-normal for all). (default: :obj:`"reference"`)
    """
    def __init__(self, data: HeteroData, embedding_dim: int = 64,
                 num_layers: int = 1, dropout: float = 0.5,
                 reg_weight: float = 0.1, cl_weight: float = 2.0,
                 projection_init: str = 'reference') -> None:
        super().__init__(data)
        check_positive('embedding_dim', embedding_dim)
        check_fraction('dropout', dropout)
        check_one_of('projection_init', projection_init, PROJECTION_INITS)
        self.projection_init = projection_init
        self.modalities = require_modalities(data, 'BM3')
        self.embedding_dim = embedding_dim
        self.dropout = dropout
        self.reg_weight = reg_weight
        self.cl_weight = cl_weight

        self.user_emb = torch.nn.Embedding(self.num_users, embedding_dim)
        self.item_emb = torch.nn.Embedding(self.num_items, embedding_dim)
        self.predictor = torch.nn.Linear(embedding_dim, embedding_dim)
        # Fine-tuned copies of the raw features (the reference does so too).
        self.features = torch.nn.ParameterList([
            torch.nn.Parameter(data['item'][m].detach().float().clone())
            for m in self.modalities
        ])
        # Views of the dataset's tensors (no copy), for reset_parameters().
        self._raw_features = [data['item'][m] for m in self.modalities]
        self.projections = torch.nn.ModuleList([
            torch.nn.Linear(f.size(1), embedding_dim) for f in self.features
        ])
        self.propagation = LightGCNPropagation(num_layers, 'mean',
                                               normalize=False)
        self.register_graph('adj', get_ui_adjacency(data))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        torch.nn.init.xavier_uniform_(self.user_emb.weight)
        torch.nn.init.xavier_uniform_(self.item_emb.weight)
        self.predictor.reset_parameters()
        torch.nn.init.xavier_normal_(self.predictor.weight)
        for m, lin in zip(self.modalities, self.projections):
            lin.reset_parameters()
            if self.projection_init == 'xavier' or m != 'text':
                torch.nn.init.xavier_normal_(lin.weight)
        with torch.no_grad():
            for param, raw in zip(self.features, self._raw_features):
                param.copy_(raw.float())

    def encode(self) -> Tuple[Tensor, Tensor]:
        r"""The representations :math:`(\mathbf{H}_U, \mathbf{H}_I)` before
        the predictor."""
        x = torch.cat([self.user_emb.weight, self.item_emb.weight], dim=0)
        out = self.propagation(x, self.adj)
        return out[:self.num_users], out[self.num_users:] + x[self.num_users:]

    def forward(self) -> Tuple[Tensor, Tensor]:
        user, item = self.encode()
        return self.predictor(user), self.predictor(item)

    def loss(self, users: Tensor, pos_items: Tensor,
             neg_items: Tensor) -> Tensor:
        r"""The bootstrapping loss of the observed pairs
        :obj:`(users, pos_items)`; :obj:`neg_items` is ignored."""
        user_all, item_all = self.encode()
        user, item = user_all[users], item_all[pos_items]
        user_target = F.dropout(user.detach(), self.dropout)
        item_target = F.dropout(item.detach(), self.dropout)
        loss = (cosine_alignment_loss(self.predictor(user), item_target) +
                cosine_alignment_loss(self.predictor(item), user_target))
        for feat, proj in zip(self.features, self.projections):
            h = proj(feat[pos_items])
            h_target = F.dropout(h.detach(), self.dropout)
            online = self.predictor(h)
            loss = loss + self.cl_weight * (
                cosine_alignment_loss(online, item_target) +
                cosine_alignment_loss(online, h_target))
        reg = embedding_norm_loss(user_all, item_all)
        return loss + self.reg_weight * reg

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.num_users}, '
                f'{self.num_items}, modalities={self.modalities}, '
                f'embedding_dim={self.embedding_dim}, '
                f'num_layers={self.propagation.num_layers})')
