r"""Reader for the MMRec dataset layout used by the multimodal-recommendation
literature (`MMRec <https://github.com/enoche/MMRec>`_).

A dataset folder holds

* :obj:`<name>.inter`: tab-separated, one header row, columns :obj:`userID`,
  :obj:`itemID`, :obj:`x_label` (0 train, 1 validation, 2 test) and
  optionally :obj:`rating` and :obj:`timestamp`;
* any number of :obj:`<modality>_feat.npy` matrices, row :obj:`i` holding
  the features of :obj:`itemID == i`.
"""
import os.path as osp
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from torch_geometric.data import HeteroData

from lirdrec_pyg.data.errors import DataFormatError
from lirdrec_pyg.data.hetero import build_hetero_data, check_nonempty_splits

REQUIRED_COLUMNS = ('userID', 'itemID', 'x_label')
FEATURE_SUFFIX = '_feat.npy'
#: Ids may leave gaps, but an id at or beyond this many times the number of
#: rows (for items: or of feature rows) plus :obj:`ID_SLACK` is taken for a
#: raw id: tables are allocated up to the largest id, and an id of 10^12
#: would ask for hundreds of terabytes.
MAX_ID_FACTOR = 10
ID_SLACK = 1000
_IMPORT_HINT = '; for raw ids, convert the table with `lirdrec data import`'
_SPLIT_NAMES = {0: 'train', 1: 'valid', 2: 'test'}


def _first_bad(values: Sequence[str], parse) -> int:
    for i, value in enumerate(values):
        try:
            if parse is int and not -2**63 <= int(value) < 2**63:
                return i
            parse(value)
        except ValueError:
            return i
    raise AssertionError('no bad value found')  # pragma: no cover


def _parse_column(path: Path, column: str, values: Sequence[str],
                  kind: str) -> np.ndarray:
    parse = int if kind == 'integer' else float
    try:
        return np.fromiter(map(parse, values), dtype=np.float64
                           if kind == 'number' else np.int64,
                           count=len(values))
    except (ValueError, OverflowError):
        row = _first_bad(values, parse)
        # Line 1 is the header.
        raise DataFormatError(
            f"{path.name}, line {row + 2}: column '{column}' holds "
            f"{values[row]!r}, expected {'an' if kind == 'integer' else 'a'} "
            f"{kind}{' of at most 64 bits' if kind == 'integer' else ''}"
            f"{_IMPORT_HINT if column in ('userID', 'itemID') else ''}"
            ) from None


def _read_header(path: Path) -> List[str]:
    with open(path) as f:
        first = f.readline().rstrip('\r\n')
    header = [h.strip() for h in first.split('\t')] if first else []
    for column in REQUIRED_COLUMNS:
        if column not in header:
            raise DataFormatError(
                f"{path.name}: missing column '{column}' (header found: "
                f"{header}; expected tab-separated columns "
                f"{list(REQUIRED_COLUMNS)} plus optional 'rating', "
                f"'timestamp')")
    return header


def _load_columns(path: Path, header: List[str]) -> Dict[str, np.ndarray]:
    # Fast path in C; malformed files fall back to _scan_columns, which
    # locates the offending line.
    with open(path, 'rb') as f:
        num_lines = len(f.read().rstrip().split(b'\n')) - 1
    names = list(REQUIRED_COLUMNS)
    if num_lines == 0:
        empty = np.empty(0, dtype=np.int64)
        return {c: empty for c in names + ['timestamp'] if c in header}
    out = {}
    ids = np.loadtxt(path, delimiter='\t', skiprows=1, comments=None,
                     usecols=[header.index(c) for c in names],
                     dtype=np.int64, ndmin=2)
    if ids.shape[0] != num_lines:
        # loadtxt skips blank lines; the scan reports them with their line.
        raise ValueError('blank line')
    out.update({c: ids[:, i] for i, c in enumerate(names)})
    if 'timestamp' in header:
        out['timestamp'] = np.loadtxt(
            path, delimiter='\t', skiprows=1, comments=None,
            usecols=header.index('timestamp'), dtype=np.float64, ndmin=1)
    return out


def _scan_columns(path: Path, header: List[str]) -> Dict[str, np.ndarray]:
    lines = path.read_text().splitlines()[1:]
    while lines and not lines[-1].strip():
        lines.pop()
    rows = [line.split('\t') for line in lines]
    width = len(header)
    if any(len(r) != width for r in rows):
        row = next(i for i, r in enumerate(rows) if len(r) != width)
        raise DataFormatError(
            f"{path.name}, line {row + 2}: found {len(rows[row])} "
            f"tab-separated fields, expected {width} as in the header")
    columns: List[Sequence[str]] = list(zip(*rows)) if rows else [
        ()] * width
    raw = dict(zip(header, columns))
    out = {c: _parse_column(path, c, raw[c], 'integer')
           for c in REQUIRED_COLUMNS}
    if 'timestamp' in raw:
        out['timestamp'] = _parse_column(path, 'timestamp', raw['timestamp'],
                                         'number')
    return out


def read_inter_file(path: Union[str, Path]) -> Dict[str, np.ndarray]:
    r"""Parses an MMRec :obj:`.inter` file into integer columns
    :obj:`userID`, :obj:`itemID`, :obj:`x_label` and, when present, an
    :obj:`int64` column :obj:`timestamp`.

    Args:
        path (str or pathlib.Path): The :obj:`.inter` file.
    """
    path = Path(path)
    header = _read_header(path)
    try:
        out = _load_columns(path, header)
    except (ValueError, OverflowError):
        out = _scan_columns(path, header)
    for column in ('userID', 'itemID'):
        neg = np.flatnonzero(out[column] < 0)
        if neg.size:
            raise DataFormatError(
                f"{path.name}, line {neg[0] + 2}: column '{column}' holds "
                f"the negative id {out[column][neg[0]]}, expected ids >= 0")
    bad = np.flatnonzero(~np.isin(out['x_label'], (0, 1, 2)))
    if bad.size:
        raise DataFormatError(
            f"{path.name}, line {bad[0] + 2}: column 'x_label' holds "
            f"{out['x_label'][bad[0]]}, expected 0 (train), 1 (valid) or "
            f"2 (test)")
    if 'timestamp' in out:
        out['timestamp'] = out['timestamp'].astype(np.int64)
    return out


def read_feature_file(path: Union[str, Path]) -> np.ndarray:
    r"""Loads a :obj:`<modality>_feat.npy` matrix as :obj:`float32`,
    checking that it is 2-D, numeric and finite.

    Args:
        path (str or pathlib.Path): The :obj:`.npy` file.
    """
    path = Path(path)
    try:
        x = np.load(path, allow_pickle=False)
    except ValueError as e:
        raise DataFormatError(f"{path.name}: cannot be read as a numeric "
                              f".npy matrix ({e})") from None
    if x.ndim != 2 or not np.issubdtype(x.dtype, np.number):
        raise DataFormatError(f"{path.name}: expected a 2-D numeric matrix "
                              f"[num_items, dim], found shape "
                              f"{list(x.shape)} of dtype {x.dtype}")
    x = x.astype(np.float32, copy=False)
    finite = np.isfinite(x).all(axis=1)
    if not finite.all():
        row = int(np.flatnonzero(~finite)[0])
        raise DataFormatError(f"{path.name}, row {row}: NaN or inf feature "
                              f"values, expected finite numbers")
    return x


def find_feature_files(folder: Union[str, Path]) -> Dict[str, Path]:
    r"""Returns :obj:`{modality: path}` for every :obj:`<modality>_feat.npy`
    in :obj:`folder`, sorted by modality name."""
    files = sorted(Path(folder).glob('*' + FEATURE_SUFFIX))
    return {f.name[:-len(FEATURE_SUFFIX)]: f for f in files}


def _check_id_range(path: Path, users: np.ndarray, items: np.ndarray,
                    feature_rows: int) -> None:
    for column, ids, rows in (('userID', users, users.size),
                              ('itemID', items, max(items.size,
                                                    feature_rows))):
        limit = MAX_ID_FACTOR * rows + ID_SLACK
        beyond = np.flatnonzero(ids >= limit)
        if beyond.size:
            raise DataFormatError(
                f"{path.name}, line {beyond[0] + 2}: {column} "
                f"{ids[beyond[0]]} is far beyond the {rows:,} rows (expected "
                f"dense ids 0..n-1, below {limit:,}){_IMPORT_HINT}")


def read_mmrec(folder: Union[str, Path], name: Optional[str] = None,
               inter_file: Optional[Union[str, Path]] = None) -> HeteroData:
    r"""Reads an MMRec dataset folder into a
    :class:`~torch_geometric.data.HeteroData` (see
    :func:`~lirdrec_pyg.data.hetero.build_hetero_data`).

    The number of users is the largest :obj:`userID` plus one; the number of
    items the largest :obj:`itemID` plus one or, with features, the number of
    feature rows (all feature files must have one row per item). Modalities
    are named by file prefix and sorted by name. Raises
    :class:`~lirdrec_pyg.data.errors.DataFormatError` naming the file, line
    and expectation for any malformed input, and if a split is empty. Ids
    must be dense: an id of at least :obj:`MAX_ID_FACTOR` times the number
    of rows (items: or of feature rows) plus :obj:`ID_SLACK` is refused with
    a pointer to :obj:`lirdrec data import`, which converts raw ids.

    Args:
        folder (str or pathlib.Path): The dataset folder.
        name (str, optional): Dataset name. (default: the folder name)
        inter_file (str or pathlib.Path, optional): The interaction file.
            (default: :obj:`<folder>/<name>.inter`)
    """
    folder = Path(folder)
    name = name or folder.resolve().name
    path = Path(inter_file) if inter_file is not None else (
        folder / f'{name}.inter')
    if not path.is_file():
        found = sorted(p.name for p in folder.glob('*.inter'))
        raise FileNotFoundError(f"Interaction file '{path}' not found "
                                f"(.inter files in '{folder}': {found})")
    cols = read_inter_file(path)
    users, items, label = cols['userID'], cols['itemID'], cols['x_label']
    if users.size == 0:
        raise DataFormatError(f"{path.name}: no interactions below the "
                              f"header")

    features = {m: read_feature_file(f)
                for m, f in find_feature_files(folder).items()}
    num_items = int(items.max()) + 1
    if features:
        rows = {m: x.shape[0] for m, x in features.items()}
        fewest = min(rows, key=rows.get)
        beyond = np.flatnonzero(items >= rows[fewest])
        if beyond.size:
            raise DataFormatError(
                f"{path.name}, line {beyond[0] + 2}: itemID "
                f"{items[beyond[0]]} is beyond the {rows[fewest]} rows of "
                f"{fewest}{FEATURE_SUFFIX}, expected ids below the number "
                f"of feature rows")
        num_items = max(num_items, max(rows.values()))
        for m, n in rows.items():
            if n != num_items:
                raise DataFormatError(
                    f"{m}{FEATURE_SUFFIX}: found {n} rows, expected one "
                    f"per item ({num_items} items expected)")

    _check_id_range(path, users, items,
                    max((x.shape[0] for x in features.values()), default=0))

    edges = {}
    for code, split in _SPLIT_NAMES.items():
        mask = label == code
        if not mask.any():
            raise DataFormatError(
                f"{path.name}: the '{split}' split is empty (no row with "
                f"x_label == {code}); expected interactions in every split")
        edges[split] = torch.from_numpy(np.stack([users[mask], items[mask]]))
    time = None
    if 'timestamp' in cols:
        time = torch.from_numpy(cols['timestamp'][label == 0])

    data = build_hetero_data(
        int(users.max()) + 1, num_items, edges['train'], edges['valid'],
        edges['test'],
        features={m: torch.from_numpy(x) for m, x in features.items()},
        name=name, train_time=time)
    check_nonempty_splits(data, osp.basename(path))
    return data
