"""LIRDRec: item representations learned directly from multimodal features."""
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from lirdrec_pyg.checks import check_one_of
from lirdrec_pyg.data.hetero import get_modalities
from lirdrec_pyg.distributed import (Sharding, bipartite_blocks,
                                    bipartite_propagation)
from lirdrec_pyg.loader.subgraph import SubgraphBatch
from lirdrec_pyg.models.base import (Recommender, check_positive,
                                     dot_bpr_loss, embedding_bpr_loss,
                                     with_modalities)
from lirdrec_pyg.models.registry import register_model
from lirdrec_pyg.nn.encoder import ModalityEncoder
from lirdrec_pyg.nn.functional import l2_normalize, mean_square
from lirdrec_pyg.nn.fusion import PWCFusion
from lirdrec_pyg.nn.multimodal import MultimodalTransform
from lirdrec_pyg.nn.propagation import (LightGCNPropagation,
                                         sparse_propagate)
from lirdrec_pyg.nn.rows import gather_rows
from lirdrec_pyg.transforms.adjacency import (add_identity, csr_from_coo,
                                              get_ui_adjacency)
from lirdrec_pyg.transforms.knn_graph import (ItemKNNGraph, get_item_graph,
                                              knn_indices)


PRECISIONS = ('float32', 'bfloat16')


def _csr_rows(adj: Tensor, rows: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    # The entries (position in 'rows', column, value) of the rows 'rows' of
    # a CSR matrix, without touching the other rows.
    crow = adj.crow_indices()
    start = crow[rows]
    count = crow[rows + 1] - start
    total = int(count.sum())
    offset = torch.repeat_interleave(start - (count.cumsum(0) - count),
                                     count, output_size=total)
    flat = offset + torch.arange(total, device=rows.device)
    row = torch.repeat_interleave(torch.arange(rows.numel(),
                                               device=rows.device), count,
                                  output_size=total)
    return row, adj.col_indices()[flat], adj.values()[flat]


def _lookup(sorted_ids: Tensor, order: Tensor, ids: Tensor) -> Tensor:
    # Positions of 'ids' in the array whose sorted values are 'sorted_ids'
    # with argsort 'order' (every id must be present).
    return order[torch.searchsorted(sorted_ids, ids)]


@register_model('lirdrec')
class LIRDRec(Recommender):
    r"""LIRDRec from `"Learning Item Representations Directly From
    Multimodal Features For Effective Recommendation"
    <https://arxiv.org/abs/2505.04960>`_. Items have **no ID embedding**:
    every branch :math:`b` (one per modality, plus the shared DCT branch)
    encodes the raw features, users hold a free matrix per branch, and

    .. math::
        \mathbf{H}_m &= \mathrm{LeakyReLU}(\mathbf{X}_m \mathbf{W}_{m1} +
        \mathbf{b}_{m1}) \mathbf{W}_{m2}, \qquad
        \mathbf{H}_s = \mathrm{Enc}_s\big(\Vert_m \mathrm{DCT}(\mathbf{X}_m)
        \big)

        \mathbf{E}^{(0)} &= \big\Vert_b \, \mathrm{rownorm}
        \begin{pmatrix} \mathbf{P}_b \\ \mathbf{H}_b \end{pmatrix}, \qquad
        \mathbf{E} = \sum_{l=0}^{L} \hat{\mathbf{A}}^{l} \mathbf{E}^{(0)}

        \mathbf{z}_u &= \mathrm{PWC}(\mathbf{e}_u), \qquad
        \mathbf{Z}_I = \mathbf{E}_I + \mathbf{S} \mathbf{E}_I, \qquad
        \hat{y}_{ui} = \mathbf{z}_u^{\top} \mathbf{z}_i,

    with :math:`\hat{\mathbf{A}}` the normalised training interaction graph,
    :math:`\mathbf{S}` the frozen item kNN graph (see
    :class:`~lirdrec_pyg.transforms.ItemKNNGraph`) and PWC the progressive
    weight copying fusion (:class:`~lirdrec_pyg.nn.PWCFusion`, scheduled by
    :meth:`on_epoch_start`). The loss is

    .. math::
        \mathcal{L} = \mathcal{L}_{\mathrm{BPR}} + \lambda \left(
        \overline{\mathbf{Z}_U^{2}} + \overline{\mathbf{Z}_I^{2}} \right)

    with the means over **all** entries of the final user and item matrices.

    Every training step computes the full forward pass once (the reference
    does the same); the DCT of the features, the adjacency and the item graph
    are computed once in the constructor.

    With ``train.mode: sampled`` (:meth:`subgraph_loss`) a step instead
    encodes the features of the items of its sampled subgraph only (the
    batch's items, their item-graph neighbours and the sampled
    neighbourhood), propagates over that subgraph, fuses the batch's users
    with PWC and takes the regulariser over the batch's distinct users and
    items (not all of them: a deviation that keeps the step's cost
    independent of the catalogue's size).

    New items (cold start) are scored from their features alone, without
    retraining: see :meth:`item_representations` and :meth:`score_new_items`.

    Args:
        data (HeteroData): The dataset, with at least one item modality.
        embedding_dim (int, optional): Size :math:`d` of every branch.
            (default: :obj:`64`)
        num_layers (int, optional): User-item propagation steps :math:`L`.
            (default: :obj:`2`)
        reg_weight (float, optional): :math:`\lambda`. (default: :obj:`1e-3`)
        decay_weight (float, optional): Initial scorer weight of PWC.
            (default: :obj:`0.9`)
        decay_base (float, optional): Decay base of PWC.
            (default: :obj:`0.9`)
        knn_k (int, optional): Neighbours per item in :math:`\mathbf{S}`
            (itself included). (default: :obj:`10`)
        modality_weights (dict[str, float], optional): Mixture of the
            per-modality item graphs, summing to one (default: :obj:`None`:
            text 0.9 and the other 0.1 for two modalities with text, else
            uniform).
        use_shared_branch (bool, optional): Add the DCT branch.
            (default: :obj:`True`)
        use_pwc (bool, optional): Fuse users with PWC; otherwise plain
            concatenation. (default: :obj:`True`)
        pwc_items (bool, optional): Also fuse items with PWC (before the item
            graph). (default: :obj:`False`)
        use_item_graph (bool, optional): Add :math:`\mathbf{S}\mathbf{E}_I`.
            (default: :obj:`True`)
        dct_mode (str, optional): :obj:`"1d"` (per item, the reference) or
            :obj:`"2d"` (over the item :math:`\times` feature matrix).
            (default: :obj:`"1d"`)
        combine (str, optional): Layer combination of the propagation,
            :obj:`"sum"` (the reference), :obj:`"mean"` or :obj:`"last"`.
            (default: :obj:`"sum"`)
        modalities (list[str], optional): The item feature keys to use as
            modalities (default: :obj:`None`: :obj:`data.modalities`, or
            :obj:`['x']` for :obj:`data['item'].x`, see
            :func:`~lirdrec_pyg.data.get_modalities`).
        precision (str, optional): :obj:`"float32"` (exact, the reference)
            or :obj:`"bfloat16"`: the encoders' matrix products run in
            bfloat16 under :func:`torch.autocast` (parameters, propagation
            and loss stay float32), several times faster on CPUs with
            AMX/AVX-512-BF16 and on recent GPUs. A documented deviation, off
            by default. (default: :obj:`"float32"`)

    Shardable (:meth:`shard`): every process encodes only its block of
    items (and keeps only that block of the DCT input), normalises only its
    users' preference rows, gathers the items' rows once, and propagates
    its users' rows from all items and its users' part of every item's row,
    summed over the processes
    (:func:`~lirdrec_pyg.distributed.bipartite_propagation`: only item-sized
    tensors are exchanged, the users being 2-3 times more numerous). It
    runs PWC on its users, the item graph on all items and the BPR terms of
    the triples of its users. Its users' rows of :obj:`user_preference` and
    :math:`\mathbf{\Theta}` get their whole gradient on this process only,
    which updates them alone (:meth:`owned_parameters`); the ranks exchange
    those rows and PWC's recorded attention at the end of every epoch
    (:meth:`on_epoch_end`), so the state is the same everywhere. A sharded
    model must not be moved to another device afterwards (the owned rows
    are aliased).
    """
    shardable = True
    supports_subgraph = True

    def __init__(self, data: HeteroData, embedding_dim: int = 64,
                 num_layers: int = 2, reg_weight: float = 1e-3,
                 decay_weight: float = 0.9, decay_base: float = 0.9,
                 knn_k: int = 10,
                 modality_weights: Optional[Mapping[str, float]] = None,
                 use_shared_branch: bool = True, use_pwc: bool = True,
                 pwc_items: bool = False, use_item_graph: bool = True,
                 dct_mode: str = '1d', combine: str = 'sum',
                 modalities: Optional[Sequence[str]] = None,
                 precision: str = 'float32') -> None:
        super().__init__(data)
        check_one_of('precision', precision, PRECISIONS)
        self.precision = precision
        check_positive('embedding_dim', embedding_dim)
        if reg_weight < 0:
            raise ValueError(f"'reg_weight' must be non-negative "
                             f"(got {reg_weight})")
        self.modalities = self._resolve_modalities(data, modalities)
        self.embedding_dim = embedding_dim
        self.reg_weight = reg_weight
        self.knn_k = knn_k
        self.use_shared_branch = use_shared_branch
        self.use_item_graph = use_item_graph
        self.dct_mode = dct_mode
        self.num_branches = len(self.modalities) + int(use_shared_branch)

        dims = []
        for m in self.modalities:
            x = data['item'][m]
            if x.dim() != 2 or x.size(0) != self.num_items:
                raise ValueError(f"data['item']['{m}'] must have shape "
                                 f"[{self.num_items}, d] (got "
                                 f"{list(x.shape)})")
            dims.append(x.size(1))
            # Fixed inputs: buffers that move with .to() but are not saved.
            self.register_buffer(f'x_{m}', x.detach().float(),
                                 persistent=False)
        self.encoders = torch.nn.ModuleList(
            [ModalityEncoder(d, embedding_dim) for d in dims])
        self.shared: Optional[MultimodalTransform] = None
        if use_shared_branch:
            self.shared = MultimodalTransform(dims, embedding_dim, dct_mode)
            self.register_buffer(
                's0', self.shared.transform_features(self._features()),
                persistent=False)
        if precision == 'bfloat16':
            # Encoder inputs cast once, not at every step.
            for m in self.modalities:
                self.register_buffer(f'xb_{m}',
                                     getattr(self, f'x_{m}').bfloat16(),
                                     persistent=False)
            if use_shared_branch:
                self.register_buffer('s0b', self.s0.bfloat16(),
                                     persistent=False)
        self.user_preference = torch.nn.Parameter(
            torch.empty(self.num_users, self.num_branches, embedding_dim))
        self.propagation = LightGCNPropagation(num_layers, combine,
                                               normalize=False)
        # A sampled subgraph's propagation matrix is not symmetric.
        self.subgraph_propagation = LightGCNPropagation(
            num_layers, combine, normalize=False, symmetric=False)
        self.register_graph('adj', get_ui_adjacency(data))

        self.pwc: Optional[PWCFusion] = None
        if use_pwc:
            self.pwc = PWCFusion(self.num_branches, embedding_dim,
                                 self.num_users, decay_weight, decay_base)
        self.pwc_item: Optional[PWCFusion] = None
        if pwc_items:
            self.pwc_item = PWCFusion(self.num_branches, embedding_dim,
                                      self.num_items, decay_weight,
                                      decay_base)

        self.item_graph_weights: Dict[str, float] = {}
        self.register_graph('item_adj', None)
        if use_item_graph:
            graph_data = with_modalities(data, self.modalities)
            self.item_graph_weights = ItemKNNGraph(
                knn_k, modality_weights,
                modalities=self.modalities).resolve_weights(graph_data)
            item_adj = get_item_graph(graph_data, knn_k, modality_weights,
                                      self.modalities).float()
            self.register_graph('item_adj', item_adj)
            # I + S in one matrix: Z_I = E_I + S E_I is one product.
            self.register_graph('item_adj_plus_identity',
                                add_identity(item_adj))
        #: Leaves aliasing this rank's rows of the owned parameters (set by
        #: :meth:`shard`).
        self._owned: Dict[str, torch.nn.Parameter] = {}
        self.reset_parameters()

    @staticmethod
    def _resolve_modalities(data: HeteroData,
                            modalities: Optional[Sequence[str]]) -> List[str]:
        available = get_modalities(data)
        if modalities is None:
            if not available:
                raise ValueError(f"LIRDRec represents items by their "
                                 f"features, but dataset "
                                 f"'{getattr(data, 'name', '')}' has no item "
                                 f"modalities (set data.modalities, "
                                 f"data['item'].x, or pass 'modalities'; "
                                 f"for a dataset folder, add "
                                 f"<modality>_feat.npy files, e.g. with "
                                 f"'lirdrec data import --item-text')")
            return available
        modalities = [modalities] if isinstance(modalities, str) \
            else list(modalities)
        if not modalities or len(set(modalities)) < len(modalities):
            raise ValueError(f"'modalities' must be a non-empty list of "
                             f"distinct feature keys of data['item'] "
                             f"(got {modalities})")
        return get_modalities(data, modalities)

    def _features(self) -> List[Tensor]:
        return [getattr(self, f'x_{m}') for m in self.modalities]

    def reset_parameters(self) -> None:
        # Xavier-normal per branch matrix P_b of shape [U, d].
        std = (2.0 / (self.num_users + self.embedding_dim))**0.5
        with torch.no_grad():
            self.user_preference.normal_(0.0, std)
        for encoder in self.encoders:
            encoder.reset_parameters()
        for module in (self.shared, self.pwc, self.pwc_item):
            if module is not None:
                module.reset_parameters()

    def item_branches(self, xs: Sequence[Tensor],
                      s0: Optional[Tensor]) -> Tensor:
        r"""The branch encodings :math:`\mathbf{H}_b` of items, shape
        :obj:`[N, B, d]`, from their modality features (and
        :math:`\mathbf{S}_0` for the shared branch)."""
        device = xs[0].device.type
        with torch.autocast(device, dtype=torch.bfloat16,
                            enabled=self.precision == 'bfloat16'):
            out = [enc(x) for enc, x in zip(self.encoders, xs)]
            if self.shared is not None:
                out.append(self.shared(s0, transformed=True))
            out = torch.stack(out, dim=1)
        # Back to the parameters' dtype (a no-op without bfloat16).
        return out.to(self.user_preference.dtype)

    def shard(self, sharding: Sharding) -> None:
        super().shard(sharding)
        # The training loss keeps the triples of this rank's users.
        sharding.split_by_user = True
        start, end = sharding.item_range
        # The encoder inputs of this process's items only; the full float32
        # features stay (views of the dataset's) for new-item neighbours.
        for m in self.modalities:
            self.register_graph(f'xl_{m}', getattr(self, f'x_{m}')[start:end])
        for name in ('s0', 's0b') + tuple(f'xb_{m}' for m in self.modalities):
            if getattr(self, name, None) is not None:
                self.register_buffer(name,
                                     getattr(self, name)[start:end].clone(),
                                     persistent=False)
        # Leaves aliasing this rank's users' rows: the step reads (and the
        # optimizer updates) only them, and their gradient has only them.
        start, end = sharding.user_range
        self._owned = {'user_preference': torch.nn.Parameter(
            self.user_preference.data[start:end])}
        if self.pwc is not None:
            self._owned['pwc.theta'] = torch.nn.Parameter(
                self.pwc.theta.data[start:end])
        user_item, item_user = bipartite_blocks(self.adj, sharding)
        self.register_graph('user_item_rows', user_item)
        self.register_graph('item_user_columns', item_user)

    def _encoder_inputs(self) -> Tuple[List[Tensor], Optional[Tensor]]:
        if self.precision == 'bfloat16':
            xs = [getattr(self, f'xb_{m}') for m in self.modalities]
            return xs, (self.s0b if self.shared is not None else None)
        if self.sharding is not None:
            xs = [getattr(self, f'xl_{m}') for m in self.modalities]
        else:
            xs = self._features()
        return xs, (self.s0 if self.shared is not None else None)

    def _sharded_propagate(self) -> Tuple[Tensor, Tensor]:
        r"""This rank's users' propagated rows and every item's (the same on
        every rank): the rank encodes its items, the item rows are gathered
        once, and :func:`~lirdrec_pyg.distributed.bipartite_propagation`
        propagates with only item-sized tensors exchanged."""
        sharding = self.sharding
        users = l2_normalize(self._owned['user_preference']).flatten(1)
        items = l2_normalize(self.item_branches(
            *self._encoder_inputs())).flatten(1)
        return bipartite_propagation(self.propagation, users,
                                     sharding.gather_items(items),
                                     self.user_item_rows,
                                     self.item_user_columns, sharding)

    def propagate(self) -> Tuple[Tensor, Tensor]:
        r"""The propagated :math:`(\mathbf{E}_U, \mathbf{E}_I)`, before any
        fusion or item graph, shape :obj:`[*, B * d]`."""
        if self.sharding is None:
            items = self.item_branches(*self._encoder_inputs())
            ego = torch.cat([self.user_preference, items], dim=0)
            ego = l2_normalize(ego).flatten(1)
            out = self.propagation(ego, self.adj)
            return out[:self.num_users], out[self.num_users:]
        users, items = self._sharded_propagate()
        return self.sharding.gather_users(users), items

    def _subgraph_encoder_inputs(self, items: Tensor
                                 ) -> Tuple[List[Tensor], Optional[Tensor]]:
        # The features (and S_0) of 'items' only, in the precision the
        # encoders run in.
        if self.precision == 'bfloat16':
            xs = [getattr(self, f'xb_{m}') for m in self.modalities]
            s0 = self.s0b if self.shared is not None else None
        else:
            xs = self._features()
            s0 = self.s0 if self.shared is not None else None
        xs = [x.index_select(0, items) for x in xs]
        return xs, None if s0 is None else s0.index_select(0, items)

    @property
    def num_hops(self) -> int:
        return self.propagation.num_layers

    def sparse_parameters(self) -> List[torch.nn.Parameter]:
        return [self.user_preference]

    def subgraph_item_seeds(self, items: Tensor) -> Tensor:
        r"""The batch's items and their item-graph neighbours."""
        if not self.use_item_graph:
            return items
        _, cols, _ = _csr_rows(self.item_adj_plus_identity, items)
        return torch.unique(torch.cat([items, cols]))

    def subgraph_loss(self, batch: SubgraphBatch) -> Tensor:
        r"""The loss of a batch from its sampled subgraph (see the class
        docstring)."""
        U = self.num_users
        node = batch.node
        is_user = node < U
        user_at = is_user.nonzero().view(-1)
        item_at = (~is_user).nonzero().view(-1)
        user_rows = gather_rows(self.user_preference, node[user_at])
        item_rows = self.item_branches(*self._subgraph_encoder_inputs(
            node[item_at] - U))
        ego = torch.cat([user_rows, item_rows], dim=0)
        ego = ego[torch.argsort(torch.cat([user_at, item_at]))]
        out = self.subgraph_propagation(l2_normalize(ego).flatten(1),
                                        batch.adj)

        user_ids, user_index = torch.unique(batch.user_ids,
                                            return_inverse=True)
        user = out[batch.local(user_ids)]
        if self.pwc is not None:
            user = self.pwc(user, user_ids, accumulate=True)

        item_ids, item_index = torch.unique(
            torch.cat([batch.pos_item_ids, batch.neg_item_ids]),
            return_inverse=True)
        if self.use_item_graph or self.pwc_item is not None:
            # The item seeds: the batch's items and their graph neighbours.
            seeds = node[:batch.num_seeds]
            seed_at = (seeds >= U).nonzero().view(-1)
            seed_ids = seeds[seed_at] - U
            item = out[seed_at]
            if self.pwc_item is not None:
                item = self.pwc_item(item, seed_ids, accumulate=True)
            order = torch.argsort(seed_ids)
            sorted_ids = seed_ids[order]
            if self.use_item_graph:
                row, col, value = _csr_rows(self.item_adj_plus_identity,
                                            item_ids)
                col = _lookup(sorted_ids, order, col)
                rows = csr_from_coo(row, col, value, item_ids.numel(),
                                    seed_ids.numel())
                item = sparse_propagate(item, rows, normalize=False,
                                        symmetric=False)
            else:
                item = item[_lookup(sorted_ids, order, item_ids)]
        else:
            item = out[batch.local(item_ids, U)]
        b = batch.user_ids.numel()
        rank = dot_bpr_loss(user[user_index], item[item_index[:b]],
                            item[item_index[b:]])
        return rank + self.reg_weight * self.regularization(user, item)

    def forward(self) -> Tuple[Tensor, Tensor]:
        user, item = self.propagate()
        if self.pwc is not None:
            user = self.pwc(user)
        if self.pwc_item is not None:
            item = self.pwc_item(item)
        if self.use_item_graph:
            item = sparse_propagate(item, self.item_adj_plus_identity,
                                    normalize=False, symmetric=False)
        return user, item

    def regularization(self, user: Tensor, item: Tensor) -> Tensor:
        r""":math:`\overline{\mathbf{Z}_U^{2}} + \overline{\mathbf{Z}_I^{2}}`
        over all final user and item vectors."""
        return mean_square(user) + mean_square(item)

    def loss(self, users: Tensor, pos_items: Tensor,
             neg_items: Tensor) -> Tensor:
        if self.sharding is not None:
            return self._sharded_loss(users, pos_items, neg_items)
        user, item = self.forward()
        rank = embedding_bpr_loss(user, item, users, pos_items, neg_items)
        return rank + self.reg_weight * self.regularization(user, item)

    def _sharded_loss(self, users: Tensor, pos_items: Tensor,
                      neg_items: Tensor) -> Tensor:
        r"""This rank's share of the loss of the whole batch: PWC and the
        user regulariser on its users only, the BPR terms of the triples of
        its users, the item graph on all items (which every rank has after
        the propagation) and the item regulariser on its items. The shares
        add up to the one-process loss, and no rank needs the other ranks'
        users."""
        sharding = self.sharding
        user, item = self._sharded_propagate()
        nu = sharding.num_local_users
        start, end = sharding.user_range
        if self.pwc is not None:
            user = self.pwc(user, torch.arange(start, end,
                                               device=user.device))
        if self.pwc_item is not None:
            item = self.pwc_item(item)
        if self.use_item_graph:
            item = sparse_propagate(item, self.item_adj_plus_identity,
                                    normalize=False, symmetric=False)
        u = user.index_select(0, (users - start).clamp(0, nu - 1))
        pos, neg = item.index_select(0, torch.cat([pos_items, neg_items])
                                     ).split(pos_items.numel())
        rank = dot_bpr_loss(u, pos, neg, sharding=sharding,
                            mask=sharding.user_mask(users))
        istart, iend = sharding.item_range
        # The means over all users and items, as sums of the ranks' blocks.
        reg = (mean_square(user) * (nu / self.num_users) +
               mean_square(item[istart:iend]) *
               (sharding.num_local_items / self.num_items))
        return rank + self.reg_weight * reg

    def on_epoch_start(self, epoch: int) -> None:
        r"""Steps the PWC schedule (decay of the scorer weight, copy of the
        last attention into :math:`\mathbf{\Theta}`)."""
        for module in (self.pwc, self.pwc_item):
            if module is not None:
                module.step_epoch(epoch)

    def owned_parameters(self) -> Dict[str, Tensor]:
        r""":obj:`user_preference` and PWC's :math:`\mathbf{\Theta}`: a
        sharded step reads only the rank's users' rows of them."""
        return dict(self._owned) if self.sharding is not None else {}

    @torch.no_grad()
    def on_epoch_end(self, epoch: int) -> None:
        r"""With several processes, every rank has updated the preference
        rows, :math:`\mathbf{\Theta}` rows and PWC's recorded attention of
        its own users only: the ranks exchange them, so that the whole state
        (and the copy of the next :meth:`on_epoch_start`) is the same
        everywhere before evaluation and checkpoints."""
        sharding = self.sharding
        if sharding is None or sharding.world_size == 1:
            return
        start, end = sharding.user_range
        tensors = [self.user_preference]
        if self.pwc is not None:
            tensors += [self.pwc.theta, self.pwc.last_alpha]
            recorded = sharding.gather_users(
                self.pwc.recorded[start:end].float())
            self.pwc.recorded.copy_(recorded > 0.5)
        for tensor in tensors:
            tensor.copy_(sharding.gather_users(
                tensor[start:end].contiguous()))

    @torch.no_grad()
    def item_representations(self, features: Mapping[str, Tensor]) -> Tensor:
        r"""Representations :math:`\mathbf{z}_i` of **new** items (not in
        the training data) from their feature rows, without retraining.

        A new item is treated exactly like a training item without
        interactions, plus kNN edges into the existing catalogue:

        1. its branch encodings are row-normalised as in training
           (:math:`\mathbf{e}^{(0)}`);
        2. the user-item propagation runs on a graph without edges (it has
           no interactions), so with :obj:`combine="sum"`
           :math:`\mathbf{e} = \mathbf{e}^{(0)}`;
        3. with :obj:`pwc_items`, its attention uses the scorers and the mean
           :math:`\mathbf{\Theta}` row of the existing items;
        4. its item-graph row mirrors a training row: per modality, the item
           itself plus its :math:`k - 1` nearest existing items by cosine
           similarity of the raw features, each weighted
           :math:`w_m / k`, applied to the existing items' (propagated)
           representations; :math:`\mathbf{z} = \mathbf{e} + \mathbf{h}`.
           Existing items' rows are not changed (new items do not enter
           their neighbourhoods).

        Requires :obj:`dct_mode="1d"` (the 2-D DCT mixes all items).

        Args:
            features (dict[str, torch.Tensor]): Feature rows
                :obj:`[N_new, d_m]` for every modality of the model (other
                keys are ignored).

        Returns:
            :obj:`[N_new, B * d]`, to score with :meth:`score_new_items`.
        """
        if self.shared is not None and self.dct_mode != '1d':
            raise ValueError("item_representations needs dct_mode='1d': the "
                             "2-D DCT mixes all items, so a new item's "
                             "transform is undefined")
        missing = [m for m in self.modalities if m not in features]
        if missing:
            raise ValueError(f"'features' lacks modalities {missing}; the "
                             f"model uses {self.modalities}")
        xs = []
        for m, enc in zip(self.modalities, self.encoders):
            x = features[m].to(self.user_preference.device).float()
            if x.dim() != 2 or x.size(1) != enc.in_channels:
                raise ValueError(f"features['{m}'] must have shape "
                                 f"[N_new, {enc.in_channels}] (got "
                                 f"{list(x.shape)})")
            if x.size(0) != features[self.modalities[0]].size(0):
                raise ValueError("every modality of 'features' must have the "
                                 "same number of rows")
            xs.append(x)
        num_new = xs[0].size(0)
        s0 = self.shared.transform_features(xs) if self.shared else None
        ego = self.item_branches(xs, s0)
        ego = torch.nn.functional.normalize(ego, p=2, dim=-1).flatten(1)
        empty = torch.empty(0, dtype=torch.long, device=ego.device)
        no_edges = csr_from_coo(empty, empty, ego.new_empty(0), num_new,
                                num_new)
        new = self.propagation(ego, no_edges)
        if not self.use_item_graph and self.pwc_item is None:
            return new

        _, items = self.propagate()
        if self.pwc_item is not None:
            items = self.pwc_item(items)
            theta = self.pwc_item.theta.mean(0).expand(num_new, -1)
            alpha = self.pwc_item.attention(
                new.view(num_new, self.num_branches, -1), theta)
            new = (alpha.unsqueeze(-1) * new.view(
                num_new, self.num_branches, -1)).flatten(1)
        if not self.use_item_graph:
            return new
        hop = torch.zeros_like(new)
        k = self.knn_k
        for m, x in zip(self.modalities, xs):
            weight = self.item_graph_weights.get(m, 0.0)
            if weight == 0:
                continue
            scale = weight / k
            hop = hop + scale * new
            if k > 1:
                index = knn_indices(x, getattr(self, f'x_{m}'), k - 1)
                hop = hop + scale * items[index].sum(1)
        return new + hop

    def score_new_items(self, state: Tuple[Tensor, Tensor], users: Tensor,
                        new_item_repr: Tensor) -> Tensor:
        r"""Scores of :obj:`users` against new items, shape
        :obj:`[len(users), N_new]`.

        Args:
            state: The output of :meth:`inference`.
            users (torch.Tensor): User ids.
            new_item_repr (torch.Tensor): The output of
                :meth:`item_representations`.
        """
        user, _ = state
        if new_item_repr.dim() != 2 or new_item_repr.size(1) != user.size(1):
            raise ValueError(f"'new_item_repr' must have shape [N_new, "
                             f"{user.size(1)}] (got "
                             f"{list(new_item_repr.shape)})")
        return user[users] @ new_item_repr.t()

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}({self.num_users}, '
                f'{self.num_items}, modalities={self.modalities}, '
                f'embedding_dim={self.embedding_dim}, '
                f'num_layers={self.propagation.num_layers}, '
                f'shared={self.use_shared_branch}, '
                f'pwc={self.pwc is not None}, '
                f'item_graph={self.use_item_graph})')
