r"""Import of a raw interaction table (CSV/TSV with any user and item ids)
into the MMRec layout read by :func:`~lirdrec_pyg.data.mmrec.read_mmrec`.

The steps are small pure functions, chained by :func:`import_interactions`:

1. :func:`read_interactions`: the user, item and optional timestamp and
   rating columns of the table; ids are kept as strings, so string ids and
   ids such as :obj:`10^12` are equally fine;
2. :func:`drop_duplicates` after an optional rating threshold (ratings of
   at least :obj:`min_rating` are positive feedback);
3. :func:`k_core`: users with fewer than :math:`k_u` and items with fewer
   than :math:`k_i` interactions are removed until none is left, which
   gives the largest sub-graph in which every user has at least
   :math:`k_u` and every item at least :math:`k_i` interactions (it is
   unique, so the order of removals does not matter);
4. :func:`dense_ids`: ids :obj:`0 .. n-1` in ascending raw-id order
   (numeric when every raw id is an integer), written as
   :obj:`user_map.tsv` / :obj:`item_map.tsv` (:obj:`new id<TAB>raw id`);
5. :func:`split_labels`: per-user random, per-user temporal or global
   temporal split (:mod:`lirdrec_pyg.data.splits`);
6. :func:`write_mmrec`: :obj:`<name>.inter` with the header
   :obj:`userID itemID [rating] [timestamp] x_label`.

Item texts (and image captions) keyed by raw item id are embedded through
the feature pipeline (:mod:`lirdrec_pyg.features`, imported only then) into
:obj:`text_feat.npy` (:obj:`image_feat.npy`), row :obj:`i` belonging to
item :obj:`i`. Every file is written atomically.
"""
import csv
import json
import warnings
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import (Any, Dict, List, Mapping, Optional, Sequence, Tuple,
                    Union)

import numpy as np
import torch

from lirdrec_pyg.data.errors import DataFormatError
from lirdrec_pyg.data.splits import (
    _check_ratios,
    global_temporal_split,
    random_split_per_user,
    temporal_split_per_user,
)
from lirdrec_pyg.io import atomic_write

PathLike = Union[str, Path]

SPLITS = ('random', 'temporal', 'global_temporal')
#: Rows of items without text (or caption): the feature pipeline's
#: fallbacks :obj:`mean` / :obj:`zero` / :obj:`error`, or :obj:`drop` (the
#: items' interactions are removed before the k-core).
MISSING_TEXT = ('mean', 'zero', 'error', 'drop')
REPORT_FILE = 'import.json'
#: The caption file written when item images are captioned; it is kept by
#: an overwriting import, as it is keyed by raw id and image path.
CAPTION_FILE = 'captions.tsv'
MAP_FILES = ('user_map.tsv', 'item_map.tsv')
_TAB_SUFFIXES = {'.tsv', '.tab', '.txt', '.inter'}


@dataclass
class Interactions:
    r"""Interactions read from a table: ids as codes into the raw-id lists
    (in order of first appearance), optional timestamps and ratings, and
    the file line of every row (for error messages).

    Args:
        user (np.ndarray): :obj:`int64` codes :obj:`[E]` into
            :obj:`user_ids`.
        item (np.ndarray): :obj:`int64` codes :obj:`[E]` into
            :obj:`item_ids`.
        user_ids (list of str): The raw user ids.
        item_ids (list of str): The raw item ids.
        time (np.ndarray, optional): :obj:`float64` timestamps :obj:`[E]`.
        rating (np.ndarray, optional): :obj:`float64` ratings :obj:`[E]`.
        line (np.ndarray): :obj:`int64` line numbers :obj:`[E]` (the header
            is line 1).
        source (str): The file name, used in messages.
    """
    user: np.ndarray
    item: np.ndarray
    user_ids: List[str]
    item_ids: List[str]
    time: Optional[np.ndarray]
    rating: Optional[np.ndarray]
    line: np.ndarray
    source: str = ''

    def __len__(self) -> int:
        return int(self.user.size)

    def subset(self, mask: np.ndarray) -> 'Interactions':
        r"""The rows where :obj:`mask` is true (raw-id lists unchanged)."""
        def pick(x: Optional[np.ndarray]) -> Optional[np.ndarray]:
            return None if x is None else x[mask]
        return Interactions(self.user[mask], self.item[mask], self.user_ids,
                            self.item_ids, pick(self.time),
                            pick(self.rating), self.line[mask], self.source)


def infer_separator(path: PathLike) -> str:
    r"""Tab for :obj:`.tsv`, :obj:`.tab`, :obj:`.txt` and :obj:`.inter`
    files, comma otherwise."""
    return '\t' if Path(path).suffix.lower() in _TAB_SUFFIXES else ','


def parse_separator(sep: Optional[str], path: PathLike) -> str:
    r"""The one-character separator :obj:`sep` (:obj:`"tab"` and
    :obj:`"\\t"` mean a tab), or :func:`infer_separator` when
    :obj:`None`."""
    if sep is None:
        return infer_separator(path)
    sep = {'tab': '\t', '\\t': '\t', 'comma': ',', 'space': ' '}.get(
        sep.lower(), sep)
    if len(sep) != 1:
        raise ValueError(f"'sep' must be one character, 'tab' or '\\t' "
                         f"(got {sep!r})")
    return sep


def _reader(f: Any, sep: str) -> Any:
    # Tab-separated files are read without quoting (titles and tags hold
    # quote characters), like the feature pipeline's tables.
    quoting = csv.QUOTE_NONE if sep == '\t' else csv.QUOTE_MINIMAL
    return csv.reader(f, delimiter=sep, quoting=quoting)


def _read_header(path: Path, reader: Any, sep: str) -> List[str]:
    header = next(reader, None)
    if not header or not any(h.strip() for h in header):
        raise DataFormatError(f"{path.name}: the file is empty, expected a "
                              f"header row naming the columns")
    header = [h.strip() for h in header]
    if len(header) == 1 and sep != ',' and ',' in header[0]:
        raise DataFormatError(
            f"{path.name}, line 1: one column {header[0]!r} with separator "
            f"{sep!r}; the file looks comma-separated (pass --sep ,)")
    if len(header) == 1 and sep != '\t' and '\t' in header[0]:
        raise DataFormatError(
            f"{path.name}, line 1: one column {header[0]!r} with separator "
            f"{sep!r}; the file looks tab-separated (pass --sep tab)")
    return header


def _column_index(path: Path, header: List[str], column: str,
                  flag: str) -> int:
    if column not in header:
        raise DataFormatError(f"{path.name}, line 1: no column {column!r} "
                              f"(columns: {', '.join(header)}); name it with "
                              f"{flag}")
    return header.index(column)


def _factorize(values: List[str]) -> Tuple[np.ndarray, List[str]]:
    # Codes in order of first appearance; a dict is O(E), unlike a sort.
    index: Dict[str, int] = {}
    codes = np.fromiter((index.setdefault(v, len(index)) for v in values),
                        dtype=np.int64, count=len(values))
    return codes, list(index)


def _check_ids(path: Path, column: str, values: List[str],
               lines: np.ndarray) -> None:
    empty = [i for i, v in enumerate(values) if not v]
    if empty:
        raise DataFormatError(f"{path.name}, line {lines[empty[0]]}: column "
                              f"{column!r} is empty, expected an id")


def _parse_iso(value: str) -> float:
    when = datetime.fromisoformat(value.strip().replace('Z', '+00:00'))
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.timestamp()


def _parse_numbers(path: Path, column: str, values: List[str],
                   lines: np.ndarray, what: str,
                   allow_dates: bool = False) -> np.ndarray:
    try:
        out = np.fromiter(map(float, values), dtype=np.float64,
                          count=len(values))
    except ValueError:
        out = None
        if allow_dates:
            # ISO 8601 dates ('2016-05-01', '2016-05-01T12:00:00Z') become
            # Unix seconds (UTC when no zone is given).
            try:
                out = np.fromiter(map(_parse_iso, values), dtype=np.float64,
                                  count=len(values))
            except ValueError:
                out = None
        if out is None:
            # The column's first value says whether it holds numbers or
            # dates; the bad row is the first the same parser refuses.
            dates = allow_dates and not _parses(float, values[0])
            parse = _parse_iso if dates else float
            row = next(i for i, v in enumerate(values)
                       if not _parses(parse, v))
            expected = ('a number (e.g. Unix seconds) or an ISO 8601 date'
                        if allow_dates else 'a number')
            raise DataFormatError(f"{path.name}, line {lines[row]}: column "
                                  f"{column!r} ({what}) holds "
                                  f"{values[row]!r}, expected {expected}")
    bad = np.flatnonzero(~np.isfinite(out))
    if bad.size:
        raise DataFormatError(f"{path.name}, line {lines[bad[0]]}: column "
                              f"{column!r} ({what}) holds "
                              f"{values[bad[0]]!r}, expected a finite number")
    return out


def _parses(parse: Any, value: str) -> bool:
    try:
        parse(value)
        return True
    except ValueError:
        return False


def read_interactions(path: PathLike, user_col: str, item_col: str,
                      time_col: Optional[str] = None,
                      rating_col: Optional[str] = None,
                      sep: Optional[str] = None) -> Interactions:
    r"""Reads the user, item and optional timestamp and rating columns of a
    delimited table with a header row.

    Ids are taken verbatim (surrounding spaces removed) as strings.
    Timestamps are numbers (any unit) or ISO 8601 dates; ratings are
    numbers. Blank lines are skipped. Raises
    :class:`~lirdrec_pyg.data.errors.DataFormatError` naming the file, line
    and column of the first bad value.

    Args:
        path (str or pathlib.Path): The table.
        user_col (str): User id column.
        item_col (str): Item id column.
        time_col (str, optional): Timestamp column. (default: :obj:`None`)
        rating_col (str, optional): Rating column. (default: :obj:`None`)
        sep (str, optional): Separator, see :func:`parse_separator`.
            (default: from the file extension)
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Interaction file '{path}' not found")
    sep = parse_separator(sep, path)
    wanted = [('user', user_col, '--user-col'), ('item', item_col,
                                                 '--item-col'),
              ('time', time_col, '--time-col'),
              ('rating', rating_col, '--rating-col')]
    with open(path, newline='', encoding='utf-8-sig') as f:
        reader = _reader(f, sep)
        header = _read_header(path, reader, sep)
        width = len(header)
        index = {key: _column_index(path, header, col, flag)
                 for key, col, flag in wanted if col is not None}
        keys = list(index)
        cols: List[List[str]] = [[] for _ in keys]
        appends = [c.append for c in cols]
        where = [index[k] for k in keys]
        lines: List[int] = []
        try:
            for row in reader:
                if len(row) != width:
                    if not row or (len(row) == 1 and not row[0].strip()):
                        continue
                    raise DataFormatError(
                        f"{path.name}, line {reader.line_num}: found "
                        f"{len(row)} fields separated by {sep!r}, expected "
                        f"{width} as in the header")
                for append, j in zip(appends, where):
                    append(row[j])
                lines.append(reader.line_num)
        except csv.Error as e:
            raise DataFormatError(f"{path.name}, line {reader.line_num}: "
                                  f"{e}") from None
        except UnicodeDecodeError as e:
            raise DataFormatError(f"{path.name}: not UTF-8 text ({e})"
                                  ) from None
    if not lines:
        raise DataFormatError(f"{path.name}: no interactions below the "
                              f"header")
    line = np.asarray(lines, dtype=np.int64)
    raw = dict(zip(keys, cols))
    ids = {}
    for key, column in (('user', user_col), ('item', item_col)):
        values = [v.strip() for v in raw[key]]
        _check_ids(path, column, values, line)
        ids[key] = _factorize(values)
    time = rating = None
    if 'time' in raw:
        time = _parse_numbers(path, time_col, raw['time'], line, 'timestamp',
                              allow_dates=True)
    if 'rating' in raw:
        rating = _parse_numbers(path, rating_col, raw['rating'], line,
                                'rating')
    return Interactions(ids['user'][0], ids['item'][0], ids['user'][1],
                        ids['item'][1], time, rating, line, path.name)


def drop_duplicates(user: np.ndarray, item: np.ndarray,
                    time: Optional[np.ndarray] = None) -> np.ndarray:
    r"""Boolean mask keeping one row per (user, item) pair: the earliest
    (by :obj:`time`, ties and missing times by row order).

    Args:
        user (np.ndarray): User codes :obj:`[E]`.
        item (np.ndarray): Item codes :obj:`[E]`.
        time (np.ndarray, optional): Timestamps :obj:`[E]`.
    """
    n = user.size
    keep = np.zeros(n, dtype=bool)
    if n == 0:
        return keep
    key = user.astype(np.int64) * (int(item.max()) + 1) + item
    row = np.arange(n)
    order = np.lexsort((row, key) if time is None else (row, time, key))
    first = np.ones(n, dtype=bool)
    first[1:] = key[order[1:]] != key[order[:-1]]
    keep[order[first]] = True
    return keep


@dataclass
class KCoreResult:
    r"""Outcome of :func:`k_core`: the kept rows and what was removed."""
    keep: np.ndarray
    rounds: int
    dropped_users: int
    dropped_items: int
    dropped_interactions: int


def k_core(user: np.ndarray, item: np.ndarray, user_k: int = 1,
           item_k: int = 1) -> KCoreResult:
    r"""Iterative :math:`(k_u, k_i)`-core filtering: rows of users with fewer
    than :obj:`user_k` or items with fewer than :obj:`item_k` remaining
    interactions are removed, repeatedly, until every user and item left
    meets its bound.

    Args:
        user (np.ndarray): User codes :obj:`[E]` (duplicates already
            dropped).
        item (np.ndarray): Item codes :obj:`[E]`.
        user_k (int, optional): Least interactions per user.
            (default: :obj:`1`)
        item_k (int, optional): Least interactions per item.
            (default: :obj:`1`)
    """
    for name, k in (('user_k', user_k), ('item_k', item_k)):
        if int(k) != k or k < 0:
            raise ValueError(f"'{name}' must be a non-negative integer "
                             f"(got {k})")
    num_users = int(user.max()) + 1 if user.size else 0
    num_items = int(item.max()) + 1 if item.size else 0
    keep = np.ones(user.size, dtype=bool)
    rounds = 0
    while True:
        du = np.bincount(user[keep], minlength=num_users)
        di = np.bincount(item[keep], minlength=num_items)
        bad = keep & ((du[user] < user_k) | (di[item] < item_k))
        if not bad.any():
            break
        keep &= ~bad
        rounds += 1
    before_u = np.unique(user).size
    before_i = np.unique(item).size
    return KCoreResult(
        keep=keep, rounds=rounds,
        dropped_users=before_u - np.unique(user[keep]).size,
        dropped_items=before_i - np.unique(item[keep]).size,
        dropped_interactions=int((~keep).sum()))


def raw_id_order(raw_ids: Sequence[str]) -> np.ndarray:
    r"""The permutation sorting raw ids: numerically when every id is an
    integer (:obj:`"9" < "10"`), else as strings."""
    try:
        numbers = [int(v) for v in raw_ids]
    except ValueError:
        return np.asarray(sorted(range(len(raw_ids)),
                                 key=raw_ids.__getitem__), dtype=np.int64)
    # (value, string): '07' and '7' stay distinct ids, in a fixed order.
    return np.asarray(sorted(range(len(raw_ids)),
                             key=lambda i: (numbers[i], raw_ids[i])),
                      dtype=np.int64)


def dense_ids(codes: np.ndarray, raw_ids: Sequence[str]
              ) -> Tuple[np.ndarray, List[str]]:
    r"""Renumbers the codes that occur to :obj:`0 .. n-1` in ascending raw-id
    order (see :func:`raw_id_order`).

    Returns:
        The new id of every row and the raw id of every new id.
    """
    used = np.unique(codes)
    order = raw_id_order([raw_ids[c] for c in used])
    used = used[order]
    new = np.full(len(raw_ids), -1, dtype=np.int64)
    new[used] = np.arange(used.size)
    return new[codes], [raw_ids[c] for c in used]


def split_labels(user: np.ndarray, time: Optional[np.ndarray],
                 num_users: int, split: str = 'random',
                 ratios: Sequence[float] = (0.8, 0.1, 0.1),
                 seed: int = 2024) -> np.ndarray:
    r"""The MMRec :obj:`x_label` of every interaction (0 train,
    1 validation, 2 test) from the library's splits: :obj:`"random"`
    (:func:`~lirdrec_pyg.data.splits.random_split_per_user`),
    :obj:`"temporal"`
    (:func:`~lirdrec_pyg.data.splits.temporal_split_per_user`)
    or :obj:`"global_temporal"`
    (:func:`~lirdrec_pyg.data.splits.global_temporal_split`).

    Args:
        user (np.ndarray): Dense user ids :obj:`[E]`.
        time (np.ndarray, optional): Timestamps :obj:`[E]`, needed by the
            temporal splits.
        num_users (int): Number of users.
        split (str, optional): The split kind. (default: :obj:`"random"`)
        ratios (tuple, optional): Train, validation, test fractions.
            (default: :obj:`(0.8, 0.1, 0.1)`)
        seed (int, optional): Seed of the random split.
            (default: :obj:`2024`)
    """
    if split not in SPLITS:
        raise ValueError(f"'split' must be one of {list(SPLITS)} "
                         f"(got {split!r})")
    if split != 'random' and time is None:
        raise ValueError(f"The '{split}' split needs timestamps (name the "
                         f"timestamp column with --time-col)")
    # Items play no part in any split; a zero row keeps the [2, E] shape.
    edge_index = torch.stack([torch.from_numpy(user),
                              torch.zeros(user.size, dtype=torch.long)])
    if split == 'random':
        parts = random_split_per_user(edge_index, num_users, ratios, seed)
    elif split == 'temporal':
        parts = temporal_split_per_user(edge_index, torch.from_numpy(time),
                                        num_users, ratios)
    else:
        parts = global_temporal_split(torch.from_numpy(time), ratios)
    label = np.empty(user.size, dtype=np.int64)
    for code, part in enumerate(parts):
        label[part.numpy()] = code
    return label


def _as_strings(x: np.ndarray) -> List[str]:
    # Integral numbers without a decimal point (timestamps, 1-5 stars).
    if x.dtype.kind == 'f' and np.all(x == np.round(x)) and (
            x.size == 0 or np.abs(x).max() < 2**62):
        x = x.astype(np.int64)
    return list(map(str, x.tolist()))


def write_mmrec(folder: PathLike, name: str, user: np.ndarray,
                item: np.ndarray, x_label: np.ndarray,
                rating: Optional[np.ndarray] = None,
                time: Optional[np.ndarray] = None) -> Path:
    r"""Writes :obj:`<folder>/<name>.inter` atomically: tab-separated, header
    :obj:`userID itemID [rating] [timestamp] x_label`, rows sorted by user,
    then time (when given), then item.

    Returns:
        The path of the written file.
    """
    order = np.lexsort((item, user) if time is None else (item, time, user))
    columns = [('userID', user), ('itemID', item)]
    if rating is not None:
        columns.append(('rating', rating))
    if time is not None:
        columns.append(('timestamp', time))
    columns.append(('x_label', x_label))
    header = '\t'.join(c for c, _ in columns)
    values = [_as_strings(v[order]) for _, v in columns]
    body = '\n'.join(map('\t'.join, zip(*values)))
    path = Path(folder) / f'{name}.inter'
    atomic_write(path, lambda f: f.write(f'{header}\n{body}\n'), 'w')
    return path


def _check_raw_ids(kind: str, raw_ids: Sequence[str], source: str) -> None:
    for v in raw_ids:
        if '\t' in v or '\n' in v or '\r' in v:
            raise DataFormatError(f"{source}: the {kind} id {v!r} holds a "
                                  f"tab or line break, which the id map "
                                  f"(.tsv) cannot hold")


def write_id_map(path: PathLike, id_col: str, raw_col: str,
                 raw_ids: Sequence[str]) -> None:
    r"""Writes an id map atomically: a header :obj:`id_col<TAB>raw_col`,
    then :obj:`i<TAB>raw_ids[i]` per line."""
    lines = [f'{id_col}\t{raw_col}'] + [f'{i}\t{v}'
                                        for i, v in enumerate(raw_ids)]
    atomic_write(path, lambda f: f.write('\n'.join(lines) + '\n'), 'w')


def read_id_map(path: PathLike) -> List[str]:
    r"""Reads a map written by :func:`write_id_map`: the raw id of every new
    id, checking that the new ids are :obj:`0 .. n-1` in order."""
    path = Path(path)
    lines = path.read_text(encoding='utf-8').splitlines()
    out = []
    for line_no, line in enumerate(lines[1:], start=2):
        new, _, raw = line.partition('\t')
        if new != str(len(out)):
            raise DataFormatError(f"{path.name}, line {line_no}: id {new!r}, "
                                  f"expected {len(out)}")
        out.append(raw)
    return out


def read_item_texts(path: PathLike, id_col: str, text_cols: Sequence[str],
                    sep: Optional[str] = None,
                    replace: Sequence[Tuple[str, str]] = ()
                    ) -> Dict[str, str]:
    r"""Reads one text per raw item id from an item table (*e.g.*,
    MovieLens :obj:`movies.csv`).

    The text is the first text column's value followed by
    :obj:`"<column>: <value>"` of every further column, joined by
    :obj:`". "` (empty values left out), *e.g.*,
    :obj:`"Toy Story (1995). genres: Adventure, Animation"`.

    Args:
        path (str or pathlib.Path): The table, with a header row.
        id_col (str): The item id column (raw ids, as in the interactions).
        text_cols (list of str): The text columns, in order.
        sep (str, optional): Separator, see :func:`parse_separator`.
            (default: from the file extension)
        replace (list of (str, str), optional): Substring replacements
            applied to every value, *e.g.*, :obj:`[("|", ", ")]`.
            (default: :obj:`()`)
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Item text file '{path}' not found")
    if not text_cols:
        raise ValueError("'text_cols' must name at least one column")
    sep = parse_separator(sep, path)
    out: Dict[str, str] = {}
    with open(path, newline='', encoding='utf-8-sig') as f:
        reader = _reader(f, sep)
        header = _read_header(path, reader, sep)
        k = _column_index(path, header, id_col, '--item-text-id-col')
        cols = [(c, _column_index(path, header, c, '--item-text-cols'))
                for c in text_cols]
        try:
            for row in reader:
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                if len(row) != len(header):
                    raise DataFormatError(
                        f"{path.name}, line {reader.line_num}: found "
                        f"{len(row)} fields separated by {sep!r}, expected "
                        f"{len(header)} as in the header")
                key = row[k].strip()
                if key in out:
                    raise DataFormatError(f"{path.name}, line "
                                          f"{reader.line_num}: item id "
                                          f"{key!r} appears twice")
                parts = []
                for j, (name, c) in enumerate(cols):
                    value = row[c].strip()
                    for old, new in replace:
                        value = value.replace(old, new)
                    if value:
                        parts.append(value if j == 0 else f'{name}: {value}')
                out[key] = '. '.join(parts)
        except csv.Error as e:
            raise DataFormatError(f"{path.name}, line {reader.line_num}: "
                                  f"{e}") from None
    return out


def align_texts(texts: Mapping[str, str], item_raw: Sequence[str]
                ) -> Dict[int, str]:
    r"""Re-keys texts by raw item id to the new dense item ids; items
    without a (non-blank) text are left out."""
    return {i: texts[raw] for i, raw in enumerate(item_raw)
            if raw in texts and texts[raw].strip()}


@dataclass
class ImportReport:
    r"""What :func:`import_interactions` did; written as :obj:`import.json`
    in the output folder."""
    source: str
    folder: str
    name: str
    rows: int
    below_min_rating: int = 0
    duplicates: int = 0
    missing_text_dropped: int = 0
    k_core: Dict[str, int] = field(default_factory=dict)
    cold_users_dropped: int = 0
    cold_interactions_dropped: int = 0
    num_users: int = 0
    num_items: int = 0
    splits: Dict[str, int] = field(default_factory=dict)
    settings: Dict[str, Any] = field(default_factory=dict)
    features: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    files: List[str] = field(default_factory=list)

    def summary(self) -> str:
        r"""A one-screen summary of the import."""
        s, kc = self.settings, self.k_core

        def row(label: str, count: int, note: str = '') -> str:
            return f'  {label:<22}{count:>10,}{note}'

        lines = [f'imported {self.source} -> {self.folder}',
                 row('rows read', self.rows)]
        if s.get('min_rating') is not None:
            lines.append(row(f"rating < {s['min_rating']:g}",
                             -self.below_min_rating))
        lines.append(row('duplicate pairs', -self.duplicates))
        if self.missing_text_dropped:
            lines.append(row('items without text', -self.missing_text_dropped))
        lines.append(row(f"k-core ({s['user_k']}, {s['item_k']})",
                         -kc.get('dropped_interactions', 0),
                         f"   ({kc.get('dropped_users', 0):,} users, "
                         f"{kc.get('dropped_items', 0):,} items, "
                         f"{kc.get('rounds', 0)} rounds)"))
        if self.cold_interactions_dropped:
            lines.append(row('cold users (no train)',
                             -self.cold_interactions_dropped,
                             f'   ({self.cold_users_dropped:,} users)'))
        total = sum(self.splits.values())
        lines.append(f'  users {self.num_users:,}, items {self.num_items:,}, '
                     f'interactions {total:,}')
        ratios = '/'.join(f'{r:g}' for r in s['ratios'])
        seed = f", seed {s['seed']}" if s['split'] == 'random' else ''
        lines.append(f"  split {s['split']} ({ratios}{seed}): " + ', '.join(
            f'{k} {v:,}' for k, v in self.splits.items()))
        for modality, f in self.features.items():
            lines.append(f"  {modality}_feat.npy: {f['num_items']} x "
                         f"{f['dim']}, {f['num_missing']} item(s) without "
                         f"input -> {f['fallback']}")
        lines.append(f"  files: {', '.join(self.files)}")
        return '\n'.join(lines)


def check_output_folder(folder: PathLike, overwrite: bool = False) -> None:
    r"""Raises unless :obj:`folder` is absent, empty, or :obj:`overwrite`
    is set."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"Output '{folder}' exists and is not a folder")
    if folder.is_dir() and any(folder.iterdir()) and not overwrite:
        raise ValueError(f"Output folder '{folder}' is not empty; choose "
                         f"another folder or pass --overwrite")


def prepare_folder(folder: PathLike, overwrite: bool = False) -> Path:
    r"""Creates the output folder, refusing a non-empty one unless
    :obj:`overwrite`; then the files an import writes, and every
    :obj:`*_feat.npy` (whose rows would no longer match the item ids), are
    removed first. Other files are left alone."""
    folder = Path(folder)
    check_output_folder(folder, overwrite)
    if folder.is_dir():
        stale = [*folder.glob('*.inter'), *folder.glob('*_feat.npy'),
                 *folder.glob('*_feat.report.json'), folder / REPORT_FILE,
                 *(folder / m for m in MAP_FILES)]
        for path in stale:
            if path.is_file():
                path.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _check_name(name: str) -> None:
    if not name or name in ('.', '..') or any(c in name for c in '/\\\0'):
        raise ValueError(f"'name' (--name) must be a plain file name, "
                         f"without slashes (got {name!r})")


def _missing_items(aligned: Mapping[int, str], item_raw: Sequence[str]
                   ) -> List[str]:
    return [raw for i, raw in enumerate(item_raw) if i not in aligned]


def _embed(folder: Path, modality: str, aligned: Dict[int, str],
           item_raw: Sequence[str], embedder: Any, fallback: str,
           progress: bool) -> Dict[str, Any]:
    from lirdrec_pyg.features.assemble import write_feature_file
    missing = _missing_items(aligned, item_raw)
    if missing:
        warnings.warn(f"{len(missing)} of {len(item_raw)} items have no "
                      f"{modality} input (first raw ids: {missing[:5]}); "
                      f"their rows of {modality}_feat.npy get the "
                      f"'{fallback}' fallback", stacklevel=3)
    report = write_feature_file(folder / f'{modality}_feat.npy', aligned,
                                len(item_raw), embedder, fallback=fallback,
                                progress=progress, force=True)
    return {'num_items': report.num_items, 'dim': report.dim,
            'num_missing': report.num_missing, 'fallback': report.fallback,
            'missing_raw_ids': missing[:20], 'embedder': report.embedder}


def _caption(folder: Path, item_images: Mapping[str, PathLike],
             item_raw: Sequence[str], captioner: Any,
             progress: bool) -> Dict[str, str]:
    from lirdrec_pyg.features.caption import caption_images, caption_texts
    images = {raw: item_images[raw] for raw in item_raw
              if raw in item_images}
    report = caption_images(images, captioner, folder / CAPTION_FILE,
                            progress=progress)
    if report.failed:
        first = next(iter(report.failed.items()))
        warnings.warn(f"{len(report.failed)} image(s) could not be read "
                      f"(first: item {first[0]}, {first[1]})", stacklevel=3)
    return caption_texts(folder / CAPTION_FILE)


def import_interactions(
    input: PathLike,
    out: PathLike,
    user_col: str,
    item_col: str,
    name: Optional[str] = None,
    time_col: Optional[str] = None,
    rating_col: Optional[str] = None,
    min_rating: Optional[float] = None,
    sep: Optional[str] = None,
    user_k: int = 1,
    item_k: int = 1,
    split: str = 'random',
    ratios: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 2024,
    item_texts: Optional[Mapping[str, str]] = None,
    image_captions: Optional[Mapping[str, str]] = None,
    item_images: Optional[Mapping[str, PathLike]] = None,
    captioner: Any = None,
    embedder: Any = None,
    missing_text: str = 'mean',
    overwrite: bool = False,
    progress: bool = True,
) -> ImportReport:
    r"""Imports an interaction table into an MMRec dataset folder
    :obj:`out` (see the module description): :obj:`<name>.inter`,
    :obj:`user_map.tsv`, :obj:`item_map.tsv`, :obj:`import.json` and, with
    :obj:`item_texts` / :obj:`image_captions` (or :obj:`item_images`),
    :obj:`text_feat.npy` / :obj:`image_feat.npy`. The folder then loads with
    :func:`~lirdrec_pyg.data.mmrec.read_mmrec`.

    The global temporal split can leave users without training
    interactions; their validation and test interactions are dropped (and
    counted), and ids are assigned after that, so that every user and item
    in the maps occurs in :obj:`<name>.inter`.

    Args:
        input (str or pathlib.Path): The interaction table (CSV/TSV with a
            header row).
        out (str or pathlib.Path): The output folder; it must be empty or
            absent unless :obj:`overwrite`.
        user_col (str): User id column.
        item_col (str): Item id column.
        name (str, optional): Dataset name. (default: the folder name)
        time_col (str, optional): Timestamp column (numbers or ISO 8601
            dates), written to the :obj:`.inter` file. (default: :obj:`None`)
        rating_col (str, optional): Rating column. (default: :obj:`None`)
        min_rating (float, optional): Keep only rows rated at least this
            (positive feedback). (default: :obj:`None`)
        sep (str, optional): Separator of :obj:`input`.
            (default: from its extension)
        user_k (int, optional): k-core bound of users. (default: :obj:`1`)
        item_k (int, optional): k-core bound of items. (default: :obj:`1`)
        split (str, optional): :obj:`"random"`, :obj:`"temporal"` or
            :obj:`"global_temporal"`. (default: :obj:`"random"`)
        ratios (tuple, optional): Train, validation, test fractions.
            (default: :obj:`(0.8, 0.1, 0.1)`)
        seed (int, optional): Seed of the random split.
            (default: :obj:`2024`)
        item_texts (dict, optional): Raw item id -> text, embedded into
            :obj:`text_feat.npy` (see :func:`read_item_texts`).
            (default: :obj:`None`)
        image_captions (dict, optional): Raw item id -> image caption,
            embedded into :obj:`image_feat.npy` (*e.g.*, from
            :func:`lirdrec_pyg.features.caption.caption_texts`).
            (default: :obj:`None`)
        item_images (dict, optional): Raw item id -> image file, captioned
            by :obj:`captioner` into :obj:`<out>/captions.tsv` (only the
            items kept; the file is the feature pipeline's resumable caption
            file, see :func:`lirdrec_pyg.features.caption.caption_images`)
            and embedded like :obj:`image_captions`. (default: :obj:`None`)
        captioner (Captioner, optional): The image-to-text model, *e.g.*,
            :class:`~lirdrec_pyg.features.caption.ImageCaptioner`; needed
            with :obj:`item_images`. (default: :obj:`None`)
        embedder (Embedder, optional): The text encoder. (default: the
            feature pipeline's
            :class:`~lirdrec_pyg.features.text.SentenceEmbedder`)
        missing_text (str, optional): Items without text or image:
            :obj:`"mean"` (the mean row of the others, the feature
            pipeline's default), :obj:`"zero"`, :obj:`"error"`, or
            :obj:`"drop"` (their interactions are removed before the k-core).
            A warning gives their count. (default: :obj:`"mean"`)
        overwrite (bool, optional): Replace an earlier import in :obj:`out`
            (see :func:`prepare_folder`). (default: :obj:`False`)
        progress (bool, optional): Progress bars while embedding.
            (default: :obj:`True`)
    """
    input = Path(input)
    folder = Path(out)
    name = name or folder.resolve().name
    _check_settings(name, split, time_col, rating_col, min_rating,
                    missing_text, user_k, item_k, ratios)
    if item_images is not None and (image_captions is not None or
                                    captioner is None):
        raise ValueError("'item_images' needs a 'captioner' and excludes "
                         "'image_captions'")
    check_output_folder(folder, overwrite)

    data = read_interactions(input, user_col, item_col, time_col, rating_col,
                             sep)
    report = ImportReport(
        source=str(input), folder=str(folder), name=name, rows=len(data),
        settings=dict(user_col=user_col, item_col=item_col,
                      time_col=time_col, rating_col=rating_col,
                      min_rating=min_rating, user_k=user_k, item_k=item_k,
                      split=split, ratios=[float(r) for r in ratios],
                      seed=seed, missing_text=missing_text))
    inputs = {m: t for m, t in (('text', item_texts),
                                ('image', image_captions or item_images))
              if t is not None}
    data = _filter(data, report, min_rating, inputs, missing_text, user_k,
                   item_k)
    data, label, user, item, user_raw, item_raw = _split(
        data, report, split, ratios, seed)

    prepare_folder(folder, overwrite)
    files = [write_mmrec(folder, name, user, item, label, data.rating,
                         data.time).name]
    write_id_map(folder / 'user_map.tsv', 'userID', user_col, user_raw)
    write_id_map(folder / 'item_map.tsv', 'itemID', item_col, item_raw)
    files += list(MAP_FILES)
    if item_images is not None:
        inputs['image'] = _caption(folder, item_images, item_raw, captioner,
                                   progress)
        files.append(CAPTION_FILE)
    if inputs:
        if embedder is None:
            from lirdrec_pyg.features.text import SentenceEmbedder
            embedder = SentenceEmbedder()
        fallback = 'error' if missing_text == 'drop' else missing_text
        for modality, texts in inputs.items():
            report.features[modality] = _embed(
                folder, modality, align_texts(texts, item_raw), item_raw,
                embedder, fallback, progress)
            files.append(f'{modality}_feat.npy')
    report.files = files + [REPORT_FILE]
    text = json.dumps(asdict(report), indent=2) + '\n'
    atomic_write(folder / REPORT_FILE, lambda f: f.write(text), 'w')
    return report


def _check_settings(name: str, split: str, time_col: Optional[str],
                    rating_col: Optional[str], min_rating: Optional[float],
                    missing_text: str, user_k: int, item_k: int,
                    ratios: Sequence[float]) -> None:
    _check_name(name)
    if split not in SPLITS:
        raise ValueError(f"'split' must be one of {list(SPLITS)} "
                         f"(got {split!r})")
    if split != 'random' and time_col is None:
        raise ValueError(f"The '{split}' split needs timestamps: name the "
                         f"timestamp column with --time-col")
    if min_rating is not None and rating_col is None:
        raise ValueError("'min_rating' (--min-rating) needs the rating "
                         "column (--rating-col)")
    if missing_text not in MISSING_TEXT:
        raise ValueError(f"'missing_text' must be one of "
                         f"{list(MISSING_TEXT)} (got {missing_text!r})")
    if min(user_k, item_k) < 0:
        raise ValueError(f"k-core bounds (--k-core) must be non-negative "
                         f"(got {user_k}, {item_k})")
    _check_ratios(ratios)


def _filter(data: Interactions, report: ImportReport,
            min_rating: Optional[float], inputs: Mapping[str, Mapping],
            missing_text: str, user_k: int, item_k: int) -> Interactions:
    # Rating threshold, duplicates, items without text ('drop'), k-core.
    if min_rating is not None:
        keep = data.rating >= min_rating
        report.below_min_rating = int((~keep).sum())
        data = data.subset(keep)
    keep = drop_duplicates(data.user, data.item, data.time)
    report.duplicates = int((~keep).sum())
    data = data.subset(keep)
    for modality, texts in inputs.items():
        known = {raw for raw, t in texts.items() if t and str(t).strip()}
        has = np.fromiter((raw in known for raw in data.item_ids),
                          dtype=bool, count=len(data.item_ids))
        if len(data) and not has[data.item].any():
            raise DataFormatError(
                f"{data.source}: no item id of column "
                f"{report.settings['item_col']!r} (e.g. "
                f"{data.item_ids[:3]}) has a {modality}; expected the "
                f"{modality} table's ids to be the same raw item ids")
        if missing_text == 'drop':
            keep = has[data.item]
            report.missing_text_dropped += int((~keep).sum())
            data = data.subset(keep)
    if len(data) == 0:
        raise DataFormatError(f"{data.source}: no interaction left after "
                              f"the rating threshold and duplicates")
    core = k_core(data.user, data.item, user_k, item_k)
    report.k_core = dict(rounds=core.rounds,
                         dropped_users=core.dropped_users,
                         dropped_items=core.dropped_items,
                         dropped_interactions=core.dropped_interactions)
    if not core.keep.any():
        raise DataFormatError(
            f"{data.source}: the ({user_k}, {item_k})-core is empty: k-core "
            f"filtering removed all {len(data):,} interactions; lower "
            f"--k-core")
    return data.subset(core.keep)


def _split(data: Interactions, report: ImportReport, split: str,
           ratios: Sequence[float], seed: int
           ) -> Tuple[Interactions, np.ndarray, np.ndarray, np.ndarray,
                      List[str], List[str]]:
    # Labels the rows, drops cold users' rows, numbers what is left.
    user, _ = dense_ids(data.user, data.user_ids)
    num_users = int(user.max()) + 1
    label = split_labels(user, data.time, num_users, split, ratios, seed)
    # Users first seen after the training period (global temporal split)
    # cannot be scored.
    trained = np.zeros(num_users, dtype=bool)
    trained[user[label == 0]] = True
    cold = ~trained[user]
    report.cold_users_dropped = int(np.unique(user[cold]).size)
    report.cold_interactions_dropped = int(cold.sum())
    if cold.any():
        data, label = data.subset(~cold), label[~cold]
    user, user_raw = dense_ids(data.user, data.user_ids)
    item, item_raw = dense_ids(data.item, data.item_ids)
    _check_raw_ids('user', user_raw, data.source)
    _check_raw_ids('item', item_raw, data.source)
    report.num_users, report.num_items = len(user_raw), len(item_raw)
    report.splits = {s: int((label == c).sum())
                     for c, s in enumerate(('train', 'valid', 'test'))}
    for s, n in report.splits.items():
        if n == 0:
            raise DataFormatError(
                f"{data.source}: the '{s}' split is empty after splitting "
                f"{len(label):,} interactions ({split}, ratios "
                f"{list(ratios)}); expected interactions in every split "
                f"(more data, a looser k-core or other --ratios)")
    return data, label, user, item, user_raw, item_raw


__all__ = [
    'Interactions',
    'KCoreResult',
    'ImportReport',
    'read_interactions',
    'drop_duplicates',
    'k_core',
    'raw_id_order',
    'dense_ids',
    'split_labels',
    'write_mmrec',
    'write_id_map',
    'read_id_map',
    'read_item_texts',
    'align_texts',
    'check_output_folder',
    'prepare_folder',
    'import_interactions',
    'infer_separator',
    'parse_separator',
]
