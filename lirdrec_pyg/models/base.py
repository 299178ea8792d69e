"""The interface through which models, the trainer and the evaluator meet."""
import copy
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from lirdrec_pyg.checks import (check_fraction, check_non_negative,
                                check_one_of, check_positive)
from lirdrec_pyg.data.hetero import get_modalities, split_edge_index
from lirdrec_pyg.distributed.sharding import Sharding
from lirdrec_pyg.transforms.adjacency import copy_marks

REG_DIVISORS = ('nominal', 'actual')

__all__ = ['UI', 'REG_DIVISORS', 'Recommender', 'train_edge_index',
           'bpr_loss', 'dot_bpr_loss',
           'embedding_bpr_loss', 'embedding_norm_loss', 'gather_triples',
           'squared_embedding_reg', 'require_modalities',
           'MissingModalitiesError', 'check_positive', 'check_fraction',
           'check_non_negative', 'check_one_of', 'with_modalities']

UI = ('user', 'interacts', 'item')


class Recommender(torch.nn.Module):
    r"""Base class of every recommender in the library.

    A model is built from the training graph (and item features) held by a
    :class:`~torch_geometric.data.HeteroData` and implements:

    * :meth:`forward`: user and item representations :math:`(\mathbf{Z}_U,
      \mathbf{Z}_I)` whose dot product is the preference score;
    * :meth:`loss`: the training objective for a batch of
      :math:`(u, i^+, i^-)` triples (models without negative sampling ignore
      :obj:`neg_items`; auxiliary losses are added here);
    * :meth:`score`: scores of users against all items from a cached
      :meth:`inference` result (override for non-dot-product scoring);
    * :meth:`on_epoch_start`: a per-epoch hook (schedules, graph rebuilding).

    Everything a model needs beyond the batch it derives from :obj:`data` in
    its constructor; the trainer has no model-specific code.

    Args:
        data (HeteroData): The dataset (training edges, item features).
    """
    #: Whether the model is trained at all (``False`` for e.g. popularity).
    trainable: bool = True
    #: The trainer's nominal batch size (set by the trainer), for losses that
    #: divide by it as the reference toolbox does; ``None`` outside training.
    batch_size: Optional[int] = None
    #: Whether :meth:`shard` can split the model's work over processes.
    shardable: bool = False
    #: This process's share when :meth:`shard` was called (else ``None``).
    sharding: Optional[Sharding] = None
    #: Whether the model trains on sampled subgraphs (``train.mode:
    #: sampled``, see :meth:`subgraph_loss`).
    supports_subgraph: bool = False

    def __init__(self, data: HeteroData) -> None:
        super().__init__()
        self.num_users = int(data['user'].num_nodes)
        self.num_items = int(data['item'].num_nodes)
        self._graphs: Dict[str, Any] = {}
        try:  # what recommend() excludes by default
            self._graphs['_train_edge_index'] = train_edge_index(data)
        except ValueError:  # no (unique) user-item relation
            self._graphs['_train_edge_index'] = None

    def register_graph(self, name: str, adj: Any) -> None:
        r"""Keeps a fixed (sparse) graph as attribute :obj:`name`: it moves
        with :meth:`to` like a buffer but stays out of the
        :meth:`state_dict` (it is rebuilt from the data)."""
        self._graphs[name] = adj

    def __getattr__(self, name: str) -> Any:
        graphs = self.__dict__.get('_graphs')
        if graphs is not None and name in graphs:
            return graphs[name]
        return super().__getattr__(name)

    def _apply(self, fn: Any, recurse: bool = True) -> 'Recommender':
        super()._apply(fn, recurse)
        for name, adj in self._graphs.items():
            if adj is not None:
                # A moved graph keeps its library marks (normalised,
                # symmetric): the fast backward stays without a re-check.
                self._graphs[name] = copy_marks(adj, fn(adj))
        return self

    def shard(self, sharding: Sharding) -> None:
        r"""Makes this process compute only its share of the full-graph work
        (its users' and items' rows, see
        :class:`~lirdrec_pyg.distributed.Sharding`): afterwards
        :meth:`forward` is a collective that every process of the group
        calls and that returns all rows, and :meth:`loss` returns this
        process's share of the loss of the whole batch (the shares sum to the
        one-process loss). Models that support it set :attr:`shardable` and
        extend this method; the others run in one process only."""
        if not self.shardable:
            if sharding.world_size == 1:
                return
            raise ValueError(
                f"model {type(self).__name__} runs in one process only (it "
                f"has no sharded forward pass); launch it without torchrun "
                f"or with --nproc_per_node 1")
        self.sharding = sharding

    def reset_parameters(self) -> None:
        for module in self.children():
            if hasattr(module, 'reset_parameters'):
                module.reset_parameters()

    def forward(self) -> Tuple[Tensor, Tensor]:
        raise NotImplementedError

    def loss(self, users: Tensor, pos_items: Tensor,
             neg_items: Tensor) -> Tensor:
        raise NotImplementedError

    def on_epoch_start(self, epoch: int) -> None:
        r"""Called by the trainer before epoch :obj:`epoch` (from 1)."""

    def owned_parameters(self) -> Dict[str, Tensor]:
        r"""The parameters of which a sharded training step reads only this
        process's block of rows (its
        :func:`~lirdrec_pyg.distributed.split_range` block), each mapped to
        the leaf aliasing that block through which the step reads it; this
        process alone updates those rows (see
        :class:`~lirdrec_pyg.distributed.ShardedAdam`), and the model
        exchanges them in :meth:`on_epoch_end`. Default: none."""
        return {}

    def on_epoch_end(self, epoch: int) -> None:
        r"""Called by the trainer after the training steps of epoch
        :obj:`epoch`, before evaluation and checkpoint (e.g. a sharded model
        exchanges per-row state there)."""

    @torch.no_grad()
    def inference(self) -> Any:
        r"""What :meth:`score` needs, computed once per evaluation."""
        return self.forward()

    def score(self, state: Any, users: Tensor) -> Tensor:
        r"""Scores of :obj:`users` against all items, shape
        :obj:`[len(users), num_items]`."""
        user_emb, item_emb = state
        return user_emb[users] @ item_emb.t()

    def reg_divisor(self, batch: Tensor, mode: str) -> int:
        r"""The divisor of a batch regulariser: the number of triples in
        :obj:`batch` (:obj:`mode="actual"`) or the trainer's nominal batch
        size (:obj:`mode="nominal"`, the reference toolbox's
        ``self.batch_size``; they differ in the last, smaller batch of an
        epoch). Falls back to the actual size when no trainer set one."""
        if mode == 'nominal' and self.batch_size is not None:
            return self.batch_size
        return batch.numel()

    @torch.no_grad()
    def recommend(self, k: int, users: Optional[Tensor] = None,
                  exclude_edge_index: Optional[Tensor] = None,
                  exclude_train: bool = True,
                  batch_size: int = 4096) -> Tensor:
        r"""The top-:math:`k` items of every user, best first (the model is
        put in evaluation mode meanwhile).

        Args:
            k (int): Items per user, in :obj:`[1, num_items]`.
            users (torch.Tensor, optional): User ids (default: :obj:`None`,
                all users in order).
            exclude_edge_index (torch.Tensor, optional): Further
                :obj:`[2, E]` (user, item) pairs never recommended.
                (default: :obj:`None`)
            exclude_train (bool, optional): Leaves out each user's training
                items (those of the data the model was built from).
                (default: :obj:`True`)
            batch_size (int, optional): Users scored at a time.
                (default: :obj:`4096`)

        Returns:
            A :obj:`[len(users), k]` tensor of item ids. A user with fewer
            than :math:`k` items left gets excluded items in the last
            columns.
        """
        if isinstance(k, bool) or not isinstance(k, int) \
                or not 0 < k <= self.num_items:
            raise ValueError(f"'k' must be an integer in [1, "
                             f"{self.num_items}] (got {k!r})")
        users = torch.arange(self.num_users) if users is None \
            else torch.as_tensor(users, dtype=torch.long).view(-1)
        if users.numel() and (int(users.min()) < 0
                              or int(users.max()) >= self.num_users):
            raise ValueError(f"'users' must hold ids in [0, "
                             f"{self.num_users}) (got [{int(users.min())}, "
                             f"{int(users.max())}])")
        excluded = []
        if exclude_train:
            train = self._graphs.get('_train_edge_index')
            if train is None:
                raise ValueError("the model does not know its training "
                                 "edges: pass exclude_train=False (and "
                                 "exclude_edge_index=... if needed)")
            excluded.append(train)
        if exclude_edge_index is not None:
            excluded.append(exclude_edge_index)
        keys = torch.cat([e[0].cpu().long() * self.num_items +
                          e[1].cpu().long() for e in excluded]).unique() \
            if excluded else torch.empty(0, dtype=torch.long)
        key_user = keys.div(self.num_items, rounding_mode='floor')
        was_training = self.training
        self.eval()
        try:
            state = self.inference()
            out = []
            for batch in users.split(batch_size):
                scores = self.score(state, batch).clone()
                # Excluded pairs of the batch: rows by position in the batch.
                lo = torch.searchsorted(key_user, batch)
                hi = torch.searchsorted(key_user, batch, right=True)
                counts = hi - lo
                rows = torch.repeat_interleave(
                    torch.arange(batch.numel()), counts)
                start = torch.repeat_interleave(lo - counts.cumsum(0) +
                                                counts, counts)
                cols = keys[torch.arange(rows.numel()) + start] % \
                    self.num_items
                scores[rows.to(scores.device), cols.to(scores.device)] = \
                    float('-inf')
                out.append(scores.topk(k, dim=1).indices.cpu())
        finally:
            self.train(was_training)
        return torch.cat(out) if out else torch.empty(0, k, dtype=torch.long)
    @property
    def num_hops(self) -> int:
        r"""The neighbourhood depth a node's representation depends on
        (the number of propagation layers), for :meth:`subgraph_loss`."""
        return 0

    def subgraph_item_seeds(self, items: Tensor) -> Tensor:
        r"""The item ids whose representations a batch with the distinct
        items :obj:`items` needs (default: those items); e.g. LIRDRec adds
        their item-graph neighbours."""
        return items

    def subgraph_loss(self, batch: Any) -> Tensor:
        r"""The loss of a :class:`~lirdrec_pyg.loader.SubgraphBatch`,
        computed from the batch's sampled subgraph only (the sampled,
        linear-time training mode). Models that support it set
        :attr:`supports_subgraph`."""
        raise NotImplementedError(
            f"{type(self).__name__} does not support train.mode='sampled'")

    def sparse_parameters(self) -> List[torch.nn.Parameter]:
        r"""Parameters whose gradients are row-sparse in
        :meth:`subgraph_loss` (tables looked up with
        :func:`~lirdrec_pyg.nn.gather_rows`); the sampled mode updates them
        with :class:`~lirdrec_pyg.train.row_adam.RowAdam`."""
        return []

    def extra_state_for_checkpoint(self) -> Dict[str, Any]:
        r"""Non-tensor state to checkpoint beside :meth:`state_dict`."""
        return {}

    def load_extra_state_from_checkpoint(self, state: Dict[str, Any]) -> None:
        r"""Restores what :meth:`extra_state_for_checkpoint` returned."""


def train_edge_index(data: HeteroData,
                     edge_type: Optional[Sequence[str]] = None) -> Tensor:
    r"""The training (user, item) pairs of :obj:`data`, from
    :obj:`edge_type` or the only user-to-item relation (see
    :func:`~lirdrec_pyg.data.hetero.user_item_edge_type`)."""
    return split_edge_index(data, 'train', edge_type)


class MissingModalitiesError(ValueError):
    r"""A model that needs item features was given a dataset without any
    (a benchmark shows such a cell as not applicable, not as failed)."""


def require_modalities(data: HeteroData, model: str,
                       keys: Optional[Sequence[str]] = None) -> List[str]:
    r"""The modality names of :obj:`data`
    (:func:`~lirdrec_pyg.data.get_modalities`: :obj:`keys`, else
    :obj:`data.modalities`, else :obj:`['x']` for :obj:`data['item'].x`), or
    a :class:`MissingModalitiesError` naming :obj:`model` if the dataset has
    no item features."""
    modalities = get_modalities(data, keys)
    if not modalities:
        raise MissingModalitiesError(
            f"{model} needs item features, but dataset "
            f"'{getattr(data, 'name', '')}' has no modalities "
            f"('data.modalities' is empty and data['item'].x is not set); "
            f"give the dataset folder <modality>_feat.npy files, e.g. item "
            f"texts with 'lirdrec data import --item-text' or "
            f"'lirdrec features'")
    return modalities


def with_modalities(data: HeteroData, modalities: List[str]) -> HeteroData:
    r""":obj:`data` if :obj:`data.modalities` lists every name in
    :obj:`modalities`, else a shallow copy that does (tensors shared), for
    transforms that read :obj:`data.modalities` (the item kNN graph) when
    the features are keys such as :obj:`data['item'].x`; the caller's object
    is not changed."""
    if set(modalities) <= set(getattr(data, 'modalities', None) or []):
        return data
    view = copy.copy(data)
    view.modalities = list(modalities)
    return view


def bpr_loss(pos_scores: Tensor, neg_scores: Tensor,
             sharding: Optional[Sharding] = None, eps: float = 0.0,
             mask: Optional[Tensor] = None) -> Tensor:
    r"""The Bayesian personalised ranking loss of `"BPR: Bayesian
    Personalized Ranking from Implicit Feedback"
    <https://arxiv.org/abs/1205.2618>`_,

    .. math::
        \mathcal{L} = -\frac{1}{|B|}\sum_{(u,i,j) \in B}
        \log \left(\epsilon + \sigma(\hat{y}_{ui} - \hat{y}_{uj})\right).

    With :math:`\epsilon = 0` (the default) it is computed stably as
    :math:`-\log\sigma`. The reference toolbox's ``BPRLoss`` adds
    :math:`\epsilon = 10^{-10}`: the loss of a triple then saturates near
    :math:`23` and its gradient vanishes once the negative outscores the
    positive by more than about 23, which happens with large scores (e.g.
    unnormalised features). With :obj:`sharding`, the scores are this
    process's block of the batch and the result is its share
    (:meth:`Sharding.batch_mean`; with :obj:`mask`, of the triples it
    marks).
    """
    diff = pos_scores - neg_scores
    if eps == 0.0:
        values = -torch.nn.functional.logsigmoid(diff)
    else:
        values = -torch.log(eps + torch.sigmoid(diff))
    if sharding is None:
        return values.mean()
    return sharding.batch_mean(values, mask)


def dot_bpr_loss(user: Tensor, pos: Tensor, neg: Tensor,
                 sharding: Optional[Sharding] = None,
                 eps: float = 0.0, mask: Optional[Tensor] = None) -> Tensor:
    r""":func:`bpr_loss` of dot-product scores
    :math:`\hat{y}_{ui} = \mathbf{z}_u^{\top} \mathbf{z}_i` from the batch
    rows :obj:`user`, :obj:`pos` and :obj:`neg` (each :obj:`[B, d]`)."""
    return bpr_loss((user * pos).sum(-1), (user * neg).sum(-1), sharding,
                    eps, mask)


def gather_triples(user_emb: Tensor, item_emb: Tensor, users: Tensor,
                   pos_items: Tensor, neg_items: Tensor
                   ) -> Tuple[Tensor, Tensor, Tensor]:
    r"""The batch rows :obj:`(user_emb[users], item_emb[pos_items],
    item_emb[neg_items])`. Positives and negatives are gathered together, so
    the backward pass scatters into the item gradient once (12-24% faster
    BPR loss forward and backward here than three separate gathers)."""
    u = user_emb.index_select(0, users)
    pos, neg = item_emb.index_select(0, torch.cat([pos_items, neg_items])
                                     ).split(pos_items.numel())
    return u, pos, neg


def embedding_bpr_loss(user_emb: Tensor, item_emb: Tensor, users: Tensor,
                       pos_items: Tensor, neg_items: Tensor,
                       sharding: Optional[Sharding] = None) -> Tensor:
    r""":func:`dot_bpr_loss` of the batch :obj:`(users, pos_items,
    neg_items)` looked up in the full representations :obj:`user_emb`
    :obj:`[U, d]` and :obj:`item_emb` :obj:`[I, d]` (see
    :func:`gather_triples`)."""
    return dot_bpr_loss(*gather_triples(user_emb, item_emb, users, pos_items,
                                        neg_items), sharding=sharding)


def embedding_norm_loss(*embeddings: Tensor,
                        sharding: Optional[Sharding] = None) -> Tensor:
    r"""The regulariser of the MMRec toolbox that published the reference
    numbers: the sum of the Frobenius norms (not squared) of the batch
    embeddings divided by the batch size,

    .. math::
        \mathcal{R} = \frac{1}{|B|} \sum_k \lVert \mathbf{E}_k \rVert_F.

    With :obj:`sharding`, the embeddings are this process's block of the
    batch: the norms of the whole batch come from the squared norms summed
    over the processes, and the result is this process's share.
    """
    if sharding is not None:
        squares = torch.stack([emb.square().sum() for emb in embeddings])
        norms = sharding.sum_over_ranks(squares).sqrt()
        return sharding.share(norms.sum() / sharding.batch_size)
    total = embeddings[0].new_zeros(())
    for emb in embeddings:
        total = total + emb.norm(p=2)
    return total / embeddings[-1].size(0)


def squared_embedding_reg(ego: Tensor, num_users: int, users: Tensor,
                          pos_items: Tensor, neg_items: Tensor) -> Tensor:
    r"""The regulariser of the MMGCN reference code (also used by GRCN) on
    the layer-0 embeddings :obj:`ego` (users first, then items),

    .. math::
        \mathcal{R} = \overline{\mathbf{E}_{B_U}^{\odot 2}} + \frac{1}{2}
        \left(\overline{\mathbf{E}_{B_{I^+}}^{\odot 2}} +
        \overline{\mathbf{E}_{B_{I^-}}^{\odot 2}}\right),

    where :math:`\overline{\cdot}` is the mean over all entries.
    """
    return (ego[users].square().mean() + 0.5 * (
        ego[num_users + pos_items].square().mean() +
        ego[num_users + neg_items].square().mean()))
