r"""Construction of the :class:`~torch_geometric.data.HeteroData` object that
every model, transform and trainer of :obj:`lirdrec_pyg` consumes.

Layout (one object per dataset):

* :obj:`data['user'].num_nodes`, :obj:`data['item'].num_nodes`: python ints.
* :obj:`data['user', 'interacts', 'item'].edge_index`: training interactions
  (row 0 users, row 1 items), sorted by :obj:`(user, item)`, no duplicates;
  optional aligned :obj:`.time`.
* :obj:`data['user', 'interacts', 'item'].val_edge_index` and
  :obj:`.test_edge_index`: validation and test interactions, same layout.
* :obj:`data['item', 'rev_interacts', 'user'].edge_index`: the flipped
  training edges, for message passing.
* :obj:`data['item'][m]`: a :obj:`float32` feature matrix of shape
  :obj:`[num_items, d_m]` per modality :obj:`m`, listed in
  :obj:`data.modalities`.
* :obj:`data.name` and :obj:`data.num_dropped_cold_users`.
"""
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from lirdrec_pyg.data.errors import DataFormatError
from lirdrec_pyg.data.splits import drop_cold_users

USER = 'user'
ITEM = 'item'
UI: Tuple[str, str, str] = ('user', 'interacts', 'item')
IU: Tuple[str, str, str] = ('item', 'rev_interacts', 'user')

SPLITS = ('train', 'valid', 'test')
_SPLIT_ATTR = {
    'train': 'edge_index',
    'valid': 'val_edge_index',
    'test': 'test_edge_index',
}
# Item-store attributes that can never be modality names.
_RESERVED = {'num_nodes', 'raw_id', 'x', 'true_factors'}

ArrayLike = Union[Tensor, np.ndarray]


def _as_edge_index(edge_index: Optional[ArrayLike], what: str) -> Tensor:
    if edge_index is None:
        return torch.empty(2, 0, dtype=torch.long)
    edge_index = torch.as_tensor(edge_index)
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(f"'{what}' must have shape [2, num_edges] "
                         f"(got {list(edge_index.shape)})")
    if edge_index.is_floating_point() or edge_index.is_complex():
        raise ValueError(f"'{what}' must hold integer ids "
                         f"(got dtype {edge_index.dtype})")
    return edge_index.to(torch.long)


def _check_range(edge_index: Tensor, num_users: int, num_items: int,
                 what: str) -> None:
    if edge_index.numel() == 0:
        return
    for row, (kind, n) in enumerate([('user', num_users),
                                     ('item', num_items)]):
        ids = edge_index[row]
        bad = (ids < 0) | (ids >= n)
        if bool(bad.any()):
            pos = int(bad.nonzero()[0])
            raise ValueError(
                f"'{what}' holds {kind} id {int(ids[pos])} at edge {pos}, "
                f"expected ids in [0, {n})")


def sort_unique_edges(edge_index: Tensor, num_items: int,
                      time: Optional[Tensor] = None
                      ) -> Tuple[Tensor, Optional[Tensor]]:
    r"""Sorts edges by :obj:`(user, item)` and removes duplicates, keeping
    the first occurrence (and its timestamp) of each pair.

    Args:
        edge_index (torch.Tensor): Edges of shape :obj:`[2, E]`.
        num_items (int): Number of items (for the combined sort key).
        time (torch.Tensor, optional): Timestamps aligned to the edges.
            (default: :obj:`None`)
    """
    key = edge_index[0] * num_items + edge_index[1]
    key, perm = torch.sort(key, stable=True)
    keep = torch.ones_like(key, dtype=torch.bool)
    keep[1:] = key[1:] != key[:-1]
    perm = perm[keep]
    return edge_index[:, perm], None if time is None else time[perm]


def _as_features(features: Optional[Mapping[str, ArrayLike]],
                 num_items: int) -> Dict[str, Tensor]:
    out: Dict[str, Tensor] = {}
    for name, value in (features or {}).items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"Modality name {name!r} must be a python "
                             f"identifier (e.g. 'image', 'text')")
        if name in _RESERVED:
            raise ValueError(f"Modality name '{name}' is reserved; choose "
                             f"another (reserved: {sorted(_RESERVED)})")
        x = torch.as_tensor(value)
        if x.dim() != 2:
            raise ValueError(f"Features of modality '{name}' must be 2-D "
                             f"[num_items, dim] (got {list(x.shape)})")
        if x.size(0) != num_items:
            raise ValueError(f"Features of modality '{name}' have "
                             f"{x.size(0)} rows, expected one per item "
                             f"({num_items})")
        x = x.to(torch.float32)
        finite = torch.isfinite(x).all(dim=1)
        if not bool(finite.all()):
            row = int((~finite).nonzero()[0])
            raise ValueError(f"Features of modality '{name}' hold NaN or "
                             f"inf (first bad row: {row})")
        out[name] = x.contiguous()
    return out


def build_hetero_data(
    num_users: int,
    num_items: int,
    train_edge_index: ArrayLike,
    val_edge_index: Optional[ArrayLike] = None,
    test_edge_index: Optional[ArrayLike] = None,
    features: Optional[Mapping[str, ArrayLike]] = None,
    name: str = '',
    train_time: Optional[ArrayLike] = None,
) -> HeteroData:
    r"""Builds the user-item :class:`~torch_geometric.data.HeteroData` used
    throughout :obj:`lirdrec_pyg` (see the module docstring for its layout).

    All edge sets are sorted by :obj:`(user, item)` and de-duplicated.
    Validation and test users without any training interaction cannot be
    scored and are dropped; the number of such users is stored in
    :obj:`data.num_dropped_cold_users`.

    Args:
        num_users (int): Number of users :math:`U`.
        num_items (int): Number of items :math:`I`.
        train_edge_index (torch.Tensor or numpy.ndarray): Training
            interactions of shape :obj:`[2, E]`.
        val_edge_index (torch.Tensor or numpy.ndarray, optional): Validation
            interactions. (default: :obj:`None`, an empty split)
        test_edge_index (torch.Tensor or numpy.ndarray, optional): Test
            interactions. (default: :obj:`None`, an empty split)
        features (dict, optional): Item features by modality name, each of
            shape :obj:`[I, d_m]`; converted to :obj:`float32`, kept in the
            given order. (default: :obj:`None`)
        name (str, optional): Dataset name. (default: :obj:`''`)
        train_time (torch.Tensor or numpy.ndarray, optional): Timestamps
            aligned to :obj:`train_edge_index`. (default: :obj:`None`)
    """
    num_users, num_items = int(num_users), int(num_items)
    if num_users <= 0 or num_items <= 0:
        raise ValueError(f"'num_users' and 'num_items' must be positive "
                         f"(got {num_users} and {num_items})")
    train = _as_edge_index(train_edge_index, 'train_edge_index')
    val = _as_edge_index(val_edge_index, 'val_edge_index')
    test = _as_edge_index(test_edge_index, 'test_edge_index')
    for edges, what in [(train, 'train_edge_index'),
                        (val, 'val_edge_index'), (test, 'test_edge_index')]:
        _check_range(edges, num_users, num_items, what)

    time: Optional[Tensor] = None
    if train_time is not None:
        time = torch.as_tensor(train_time)
        if time.dim() != 1 or time.numel() != train.size(1):
            raise ValueError(f"'train_time' must have one entry per training "
                             f"edge ({train.size(1)}), got "
                             f"{list(time.shape)}")
        if not time.is_floating_point():
            time = time.to(torch.long)
    feats = _as_features(features, num_items)

    train, time = sort_unique_edges(train, num_items, time)
    val, _ = sort_unique_edges(val, num_items)
    test, _ = sort_unique_edges(test, num_items)

    val, test, num_cold = drop_cold_users(train, val, test)

    data = HeteroData()
    data[USER].num_nodes = num_users
    data[ITEM].num_nodes = num_items
    data[UI].edge_index = train
    data[UI].val_edge_index = val
    data[UI].test_edge_index = test
    if time is not None:
        data[UI].time = time
    data[IU].edge_index = train.flip(0)
    for key, x in feats.items():
        data[ITEM][key] = x
    data.modalities = list(feats.keys())
    data.name = str(name)
    data.num_dropped_cold_users = num_cold
    return data


def check_nonempty_splits(data: HeteroData, source: str) -> None:
    r"""Raises :class:`DataFormatError` naming :obj:`source` if the training,
    validation or test split of :obj:`data` is empty (after dropping cold
    users)."""
    for split in SPLITS:
        if split_edge_index(data, split).size(1) == 0:
            extra = ''
            if split != 'train' and data.num_dropped_cold_users > 0:
                extra = (f' after dropping {data.num_dropped_cold_users} '
                         f'users without training interactions')
            raise DataFormatError(
                f"{source}: the '{split}' split is empty{extra}; expected at "
                f"least one interaction in every split")


def user_item_edge_type(data: HeteroData,
                        edge_type: Optional[Sequence[str]] = None
                        ) -> Tuple[str, str, str]:
    r"""The user-item relation of :obj:`data`: :obj:`edge_type` if given
    (checked to exist), else :obj:`('user', 'interacts', 'item')` if present,
    else the only relation from :obj:`'user'` to :obj:`'item'` nodes (e.g.
    :obj:`('user', 'rates', 'item')`). Several candidates are refused with a
    message listing them.

    Args:
        data (HeteroData): The graph.
        edge_type (tuple[str, str, str], optional): The relation to use.
            (default: :obj:`None`)
    """
    if edge_type is not None:
        edge_type = tuple(edge_type)
        if len(edge_type) != 3 or edge_type not in data.edge_types:
            raise ValueError(f"'edge_type' {edge_type} is not an edge type "
                             f"of the data (it has {data.edge_types})")
        return edge_type  # type: ignore[return-value]
    if UI in data.edge_types:
        return UI
    candidates = [et for et in data.edge_types
                  if et[0] == USER and et[2] == ITEM]
    if len(candidates) == 1:
        return candidates[0]
    raise ValueError(f"cannot tell the user-item relation of the data "
                     f"(user -> item edge types: {candidates}); pass "
                     f"edge_type=('user', <relation>, 'item')")


def get_modalities(data: HeteroData,
                   keys: Optional[Sequence[str]] = None,
                   node_type: str = ITEM) -> List[str]:
    r"""Returns the item feature keys of :obj:`data` used as modalities:
    :obj:`keys` if given (each checked to be a :obj:`[num_items, d]` tensor
    on :obj:`data[node_type]`), else :obj:`data.modalities` (in their stored
    order), else :obj:`['x']` when :obj:`data[node_type].x` is set, else an
    empty list.

    Args:
        data (HeteroData): The graph.
        keys (list[str], optional): The feature keys to use.
            (default: :obj:`None`)
        node_type (str, optional): The item node type.
            (default: :obj:`'item'`)
    """
    if keys is None:
        stored = list(getattr(data, 'modalities', None) or [])
        if stored:
            return stored
        if node_type in data.node_types and 'x' in data[node_type]:
            keys = ['x']
        else:
            return []
    keys = [keys] if isinstance(keys, str) else list(keys)
    store = data[node_type]
    for key in keys:
        value = store[key] if key in store else None
        if not isinstance(value, Tensor) or value.dim() != 2 or (
                store.num_nodes is not None
                and value.size(0) != store.num_nodes):
            raise ValueError(f"'modalities' must be keys of [num_items, "
                             f"dim] feature tensors of data['{node_type}'] "
                             f"(data['{node_type}'].{key}: "
                             f"{_describe(value)})")
    return keys


def _describe(value: object) -> str:
    if isinstance(value, Tensor):
        return f'shape {list(value.shape)}'
    return 'missing' if value is None else type(value).__name__


def split_edge_index(data: HeteroData, split: str,
                     edge_type: Optional[Sequence[str]] = None) -> Tensor:
    r"""Returns the :obj:`[2, E]` interactions of a split.

    Args:
        data (HeteroData): A graph built by :func:`build_hetero_data`.
        split (str): One of :obj:`'train'`, :obj:`'valid'`, :obj:`'test'`.
        edge_type (tuple[str, str, str], optional): The user-item relation
            (default: :obj:`None`, see :func:`user_item_edge_type`).
    """
    if split not in _SPLIT_ATTR:
        raise ValueError(f"Unknown split '{split}', expected one of "
                         f"{list(SPLITS)}")
    store = data[user_item_edge_type(data, edge_type)]
    value = getattr(store, _SPLIT_ATTR[split], None)
    if value is None:
        raise ValueError(f"the data has no '{split}' split: "
                         f"data[{store._key}].{_SPLIT_ATTR[split]} is "
                         f"missing")
    return value


def num_users(data: HeteroData) -> int:
    r"""Returns the number of users of :obj:`data`."""
    return int(data[USER].num_nodes)


def num_items(data: HeteroData) -> int:
    r"""Returns the number of items of :obj:`data`."""
    return int(data[ITEM].num_nodes)
