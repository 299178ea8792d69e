"""SLMRec: self-supervised learning on a multimodal LightGCN."""
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import HeteroData

from lirdrec_pyg.models.base import (Recommender, check_fraction, check_one_of,
                                     require_modalities)
from lirdrec_pyg.models.registry import register_model
from lirdrec_pyg.nn.contrastive import info_nce
from lirdrec_pyg.nn.propagation import LightGCNPropagation, sparse_propagate
from lirdrec_pyg.transforms.adjacency import get_ui_adjacency

SSL_TASKS = ('fac', 'fd', 'fm', 'fd+fm')
FUSIONS = ('concat', 'mean')


@register_model('slmrec')
class SLMRec(Recommender):
    r"""SLMRec from `"Self-supervised Learning for Multimedia Recommendation"
    <https://github.com/zltao/SLMRec>`_ (Tao et al., IEEE TMM 25, 2022).

    Every branch :math:`b \in \{\mathrm{id}\} \cup \mathcal{M}` (the item ID
    embedding and one projection per modality, on L2-normalised features)
    is propagated with the user ID embeddings on the user-item graph; the
    branch outputs are concatenated and mapped back to :math:`d`:

    .. math::
        \mathbf{E}_b = \frac{1}{L+1} \sum_{l=0}^{L} \hat{\mathbf{A}}^{l}
        \begin{pmatrix} \mathbf{E}_U \\ \mathbf{X}_b \end{pmatrix},
        \quad \mathbf{X}_{\mathrm{id}} = \mathbf{E}_I, \quad
        \mathbf{X}_m = \bar{\mathbf{F}}_m \mathbf{W}_m + \mathbf{b}_m,

    .. math::
        \mathbf{z}_u = \mathbf{W}_U [\mathbf{e}_{\mathrm{id},u} \Vert
        \mathbf{e}_{m_1,u} \Vert \cdots] + \mathbf{c}_U, \qquad
        \mathbf{z}_i = \mathbf{W}_I [\mathbf{e}_{\mathrm{id},i} \Vert
        \mathbf{e}_{m_1,i} \Vert \cdots] + \mathbf{c}_I,

    scored by :math:`\mathbf{z}_u^{\top}\mathbf{z}_i`. As in the reference
    toolbox the main loss is the in-batch InfoNCE of users and their positive
    items (temperature :math:`\tau`; sampled negatives are not used), plus
    :math:`\alpha` times a self-supervised loss:

    * :obj:`"fac"` (fine and coarse, the default): the ID branch is
      contrasted with modality :math:`m_1` in a shared space, the result
      mapped to a coarser space and contrasted with :math:`m_2`, and so on,
      the last space having :math:`d/2` dimensions,

      .. math::
          \mathbf{h}_1 = g_{\mathrm{id}}(\mathbf{e}_{\mathrm{id},i}), \quad
          \mathbf{h}_k = g_k(\mathbf{h}_{k-1}), \quad
          \mathcal{L}_{ssl} = \sum_{k} \mathrm{InfoNCE}_{\tau'}\left(
          \mathbf{h}_k, g_{m_k}(\mathbf{e}_{m_k,i})\right)

      with dot-product similarities over the batch's positive items (the
      reference has one more linear map in the image-text chain, a left-over
      of its unused audio space);
    * :obj:`"fd"` (feature dropout): two views with independent dropout
      after every propagation step;
    * :obj:`"fm"` (feature masking): two views, each with the item input of
      a different randomly chosen branch zeroed;
    * :obj:`"fd+fm"`: both;

    where the two views of :obj:`"fd"`/:obj:`"fm"` are contrasted with
    cosine InfoNCE (temperature :math:`\tau'`) for the batch's users and for
    its items. The paper's image/audio/text setting is generalised to any
    number of modalities (:obj:`data.modalities`, in their stored order).
    Weight decay, the reference's only regulariser, is the trainer's
    :obj:`train.weight_decay`.

    Args:
        data (HeteroData): The dataset, with at least one item modality.
        embedding_dim (int, optional): Size :math:`d`. (default: :obj:`64`)
        num_layers (int, optional): Propagation steps :math:`L`.
            (default: :obj:`3`)
        ssl_task (str, optional): :obj:`"fac"`, :obj:`"fd"`, :obj:`"fm"` or
            :obj:`"fd+fm"`. (default: :obj:`"fac"`)
        ssl_weight (float, optional): :math:`\alpha`. (default: :obj:`0.1`)
        ssl_temperature (float, optional): :math:`\tau'`.
            (default: :obj:`0.2`)
        temperature (float, optional): :math:`\tau` of the main loss.
            (default: :obj:`0.2`)
        dropout (float, optional): Dropout of :obj:`"fd"` views.
            (default: :obj:`0.3`)
        fusion (str, optional): :obj:`"concat"` (reference) or :obj:`"mean"`
            of the branch outputs. (default: :obj:`"concat"`)
    """
    def __init__(self, data: HeteroData, embedding_dim: int = 64,
                 num_layers: int = 3, ssl_task: str = 'fac',
                 ssl_weight: float = 0.1, ssl_temperature: float = 0.2,
                 temperature: float = 0.2, dropout: float = 0.3,
                 fusion: str = 'concat') -> None:
        super().__init__(data)
        if embedding_dim <= 1:
            raise ValueError(f"'embedding_dim' must be at least 2 "
                             f"(got {embedding_dim})")
        check_one_of('ssl_task', ssl_task, SSL_TASKS)
        check_one_of('fusion', fusion, FUSIONS)
        if temperature <= 0 or ssl_temperature <= 0:
            raise ValueError(f"'temperature' and 'ssl_temperature' must be "
                             f"positive (got {temperature}, "
                             f"{ssl_temperature})")
        check_fraction('dropout', dropout)
        self.modalities = require_modalities(data, 'SLMRec')
        self.embedding_dim = embedding_dim
        self.ssl_task = ssl_task
        self.ssl_weight = ssl_weight
        self.ssl_temperature = ssl_temperature
        self.temperature = temperature
        self.dropout = dropout
        self.fusion = fusion
        self.num_branches = len(self.modalities) + 1
        d = embedding_dim

        self.user_emb = torch.nn.Embedding(self.num_users, d)
        self.item_emb = torch.nn.Embedding(self.num_items, d)
        for m in self.modalities:
            x = data['item'][m].float()
            self.register_buffer(f'feat_{m}', F.normalize(x, dim=1),
                                 persistent=False)
        self.projections = torch.nn.ModuleList([
            torch.nn.Linear(data['item'][m].size(1), d)
            for m in self.modalities
        ])
        fused_dim = d * self.num_branches if fusion == 'concat' else d
        self.user_out = torch.nn.Linear(fused_dim, d)
        self.item_out = torch.nn.Linear(fused_dim, d)
        self.propagation = LightGCNPropagation(num_layers, 'mean',
                                               normalize=False)
        self.register_graph('adj', get_ui_adjacency(data))

        self.fac_id: Optional[torch.nn.Linear] = None
        self.fac_chain = torch.nn.ModuleList()
        self.fac_modality = torch.nn.ModuleList()
        if ssl_task == 'fac':
            # One chain of spaces, the last (coarsest) one d/2 wide.
            dims = [d] * (len(self.modalities) - 1) + [d // 2]
            self.fac_id = torch.nn.Linear(d, dims[0])
            self.fac_chain.extend(torch.nn.Linear(dims[k - 1], dims[k])
                                  for k in range(1, len(dims)))
            self.fac_modality.extend(torch.nn.Linear(d, dims[k])
                                     for k in range(len(dims)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        torch.nn.init.xavier_uniform_(self.user_emb.weight)
        torch.nn.init.xavier_uniform_(self.item_emb.weight)
        linears = [*self.projections, self.user_out, self.item_out,
                   *self.fac_chain, *self.fac_modality]
        if self.fac_id is not None:
            linears.append(self.fac_id)
        for lin in linears:
            lin.reset_parameters()
            torch.nn.init.xavier_uniform_(lin.weight)

    def _branch_inputs(self) -> Tensor:
        r"""The item inputs of all branches side by side, :obj:`[I, B*d]`."""
        feats = [proj(getattr(self, f'feat_{m}'))
                 for m, proj in zip(self.modalities, self.projections)]
        return torch.cat([self.item_emb.weight, *feats], dim=1)

    def _propagate(self, items: Tensor, drop: bool = False) -> Tensor:
        r"""All branches in one propagation: the columns do not mix, so one
        :obj:`[N, B*d]` product equals :obj:`B` separate LightGCNs."""
        users = self.user_emb.weight.repeat(1, self.num_branches)
        x = torch.cat([users, items], dim=0)
        if not drop:
            return self.propagation(x, self.adj)
        total = x
        for _ in range(self.propagation.num_layers):
            x = F.dropout(sparse_propagate(x, self.adj, normalize=False),
                          self.dropout)
            total = total + x
        return total / (self.propagation.num_layers + 1)

    def _fuse(self, branches: Tensor) -> Tuple[Tensor, Tensor]:
        if self.fusion == 'mean':
            branches = branches.view(branches.size(0), self.num_branches,
                                     -1).mean(dim=1)
        users, items = branches[:self.num_users], branches[self.num_users:]
        return self.user_out(users), self.item_out(items)

    def forward(self) -> Tuple[Tensor, Tensor]:
        return self._fuse(self._propagate(self._branch_inputs()))

    def _fac_loss(self, branches: Tensor, items: Tensor) -> Tensor:
        assert self.fac_id is not None
        d = self.embedding_dim
        item_branches = branches[self.num_users:][items]
        h = self.fac_id(item_branches[:, :d])
        loss = item_branches.new_zeros(())
        for k, head in enumerate(self.fac_modality):
            if k > 0:
                h = self.fac_chain[k - 1](h)
            z = head(item_branches[:, (k + 1) * d:(k + 2) * d])
            loss = loss + info_nce(h, z, self.ssl_temperature,
                                   normalize=False)
        return loss

    def _two_view_loss(self, users: Tensor, items: Tensor) -> Tensor:
        inputs = self._branch_inputs()
        drop = self.ssl_task in ('fd', 'fd+fm')
        masked: List[Optional[int]] = [None, None]
        if self.ssl_task in ('fm', 'fd+fm'):
            perm = torch.randperm(self.num_branches, device=inputs.device)
            masked = [int(perm[0]), int(perm[1])]
        views = []
        for branch in masked:
            x = inputs
            if branch is not None:
                d = self.embedding_dim
                keep = torch.ones(inputs.size(1), device=inputs.device)
                keep[branch * d:(branch + 1) * d] = 0
                x = inputs * keep
            views.append(self._fuse(self._propagate(x, drop)))
        (u1, i1), (u2, i2) = views
        return (info_nce(u1[users], u2[users], self.ssl_temperature) +
                info_nce(i1[items], i2[items], self.ssl_temperature))

    def loss(self, users: Tensor, pos_items: Tensor,
             neg_items: Tensor) -> Tensor:
        branches = self._propagate(self._branch_inputs())
        user_out, item_out = self._fuse(branches)
        main = info_nce(user_out[users], item_out[pos_items],
                        self.temperature)
        if self.ssl_task == 'fac':
            ssl = self._fac_loss(branches, pos_items)
        else:
            ssl = self._two_view_loss(users, pos_items)
        return main + self.ssl_weight * ssl

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.num_users}, '
                f'{self.num_items}, modalities={self.modalities}, '
                f'embedding_dim={self.embedding_dim}, '
                f'num_layers={self.propagation.num_layers}, '
                f'ssl_task={self.ssl_task})')
