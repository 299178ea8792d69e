"""Content-based item kNN: the non-learning multimodal sanity floor."""
from typing import List, Optional, Sequence, Tuple

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from lirdrec_pyg.models.base import (Recommender, require_modalities,
                                     train_edge_index)
from lirdrec_pyg.models.registry import register_model
from lirdrec_pyg.transforms.adjacency import csr_from_coo


def _select_modalities(data: HeteroData,
                       modalities: Optional[Sequence[str]]) -> List[str]:
    available = require_modalities(data, 'ItemKNNCBF')
    if modalities is None:
        return available
    unknown = sorted(set(modalities) - set(available))
    if unknown or not modalities:
        raise ValueError(f"'modalities' must be a non-empty subset of "
                         f"{available} (got {list(modalities)})")
    return list(modalities)


@register_model('itemknn_cbf')
class ItemKNNCBF(Recommender):
    r"""Content-based item-to-item recommendation (the ItemKNN-CBF baseline
    of `"Are We Really Making Much Progress? A Worrying Analysis of Recent
    Neural Recommendation Approaches" <https://arxiv.org/abs/1907.06902>`_):
    a user's score for item :math:`i` is the summed cosine similarity of
    :math:`i` to the user's training items,

    .. math::
        \hat{y}_{ui} = \sum_{j \in \mathcal{N}(u)} \cos(\mathbf{f}_i,
        \mathbf{f}_j) = \Big(\sum_{j \in \mathcal{N}(u)}
        \bar{\mathbf{f}}_j\Big)^{\top} \bar{\mathbf{f}}_i, \qquad
        \bar{\mathbf{f}}_i = \frac{1}{\sqrt{|\mathcal{M}|}}
        \big\Vert_{m \in \mathcal{M}} \frac{\mathbf{f}_i^m}
        {\lVert\mathbf{f}_i^m\rVert},

    i.e. the cosine of the concatenated, per-modality L2-normalised features,
    which equals the average over modalities of the per-modality cosines
    (every modality counts the same whatever its dimension). The user
    representation is :math:`\mathbf{R}\bar{\mathbf{F}}`, so scoring is a dot
    product. Nothing is trained.

    Unlike the reference toolbox's variant, similarities are not truncated to
    the :math:`k` nearest items nor shrunk: every training item contributes.

    Args:
        data (HeteroData): The dataset (needs at least one modality).
        modalities (list[str], optional): The modalities to use (default:
            :obj:`None`, all of :obj:`data.modalities`).
    """
    trainable = False

    def __init__(self, data: HeteroData,
                 modalities: Optional[List[str]] = None) -> None:
        super().__init__(data)
        self.modalities = _select_modalities(data, modalities)
        parts = []
        for m in self.modalities:
            x = data['item'][m].float()
            if x.size(0) != self.num_items:
                raise ValueError(f"data['item']['{m}'] has {x.size(0)} rows "
                                 f"but there are {self.num_items} items")
            parts.append(torch.nn.functional.normalize(x, p=2, dim=-1))
        features = torch.cat(parts, dim=-1) / len(parts) ** 0.5
        self.register_buffer('item_features', features)
        user, item = train_edge_index(data)
        self.register_graph('interactions', csr_from_coo(
            user, item, torch.ones(user.numel()), self.num_users,
            self.num_items))

    def forward(self) -> Tuple[Tensor, Tensor]:
        user = torch.sparse.mm(self.interactions, self.item_features)
        return user, self.item_features

    def loss(self, users: Tensor, pos_items: Tensor,
             neg_items: Tensor) -> Tensor:
        raise RuntimeError("'ItemKNNCBF' is not trained")

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.num_users}, '
                f'{self.num_items}, modalities={self.modalities})')
