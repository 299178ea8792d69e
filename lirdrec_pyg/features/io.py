"""File input and output of the feature pipeline: atomic writes, item-text
tables, key maps and fingerprints of model folders."""
import csv
import hashlib
import json
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from lirdrec_pyg.io import PathLike, atomic_write


def save_npy_atomic(path: PathLike, array: np.ndarray) -> None:
    r"""Saves :obj:`array` to the :obj:`.npy` file :obj:`path` atomically."""
    atomic_write(path, lambda f: np.save(f, array), 'wb')


def write_text_atomic(path: PathLike, text: str) -> None:
    r"""Writes :obj:`text` (UTF-8) to :obj:`path` atomically."""
    atomic_write(path, lambda f: f.write(text.encode('utf-8')), 'wb')


def write_json_atomic(path: PathLike, obj: Any) -> None:
    r"""Writes :obj:`obj` as indented JSON to :obj:`path` atomically."""
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True) + '\n')


def _delimiter(path: Path) -> str:
    tab = {'.tsv', '.tab', '.txt', '.inter'}
    return '\t' if path.suffix.lower() in tab else ','


def read_rows(path: PathLike) -> Tuple[List[str], List[List[str]]]:
    r"""Reads a delimited table with a header row.

    Files ending in :obj:`.tsv`, :obj:`.tab`, :obj:`.txt` or :obj:`.inter`
    are tab-separated without quoting (tags may contain quote characters);
    anything else is read as CSV with standard quoting.

    Returns:
        The header and the data rows.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Table '{path}' does not exist")
    delimiter = _delimiter(path)
    quoting = csv.QUOTE_NONE if delimiter == '\t' else csv.QUOTE_MINIMAL
    with open(path, newline='', encoding='utf-8') as f:
        rows = list(csv.reader(f, delimiter=delimiter, quoting=quoting))
    if not rows:
        raise ValueError(f"Table '{path}' is empty (expected a header row)")
    return rows[0], rows[1:]


def _column(header: Sequence[str], name: Optional[str], default: int,
            path: Path) -> int:
    if name is None:
        if len(header) <= default:
            raise ValueError(f"Table '{path}' has {len(header)} column(s) "
                             f"(expected at least {default + 1})")
        return default
    if name not in header:
        raise ValueError(f"Table '{path}' has no column '{name}' "
                         f"(columns: {', '.join(header)})")
    return header.index(name)


def read_keyed_texts(
    path: PathLike,
    key_col: Optional[str] = None,
    text_col: Optional[str] = None,
    replace: Sequence[Tuple[str, str]] = (),
) -> Dict[str, str]:
    r"""Reads a table of texts keyed by an identifier.

    Args:
        path (str): A :obj:`.tsv` or :obj:`.csv` file with a header row.
        key_col (str, optional): The key column (default: the first column).
        text_col (str, optional): The text column (default: the second).
        replace (list of (str, str), optional): Substring replacements applied
            in order to every text, *e.g.*, :obj:`[(",", ", ")]` to put a
            space after the commas of a tag list. (default: :obj:`()`)
    """
    path = Path(path)
    header, rows = read_rows(path)
    k = _column(header, key_col, 0, path)
    t = _column(header, text_col, 1, path)
    out: Dict[str, str] = {}
    for line, row in enumerate(rows, start=2):
        if len(row) <= max(k, t):
            raise ValueError(f"{path}, line {line}: expected at least "
                             f"{max(k, t) + 1} fields, found {len(row)}")
        key, text = row[k].strip(), row[t]
        if key in out:
            raise ValueError(f"{path}, line {line}: duplicate key '{key}'")
        for old, new in replace:
            text = text.replace(old, new)
        out[key] = text
    return out


def read_key_map(path: PathLike) -> Dict[int, str]:
    r"""Reads a map from item id to key, *e.g.*, lastfm2k's
    :obj:`item_map.tsv` (:obj:`itemID<TAB>artistID`, with a header).

    The first column must hold the integer item ids; the second the key under
    which the item's text or image is stored.
    """
    path = Path(path)
    header, rows = read_rows(path)
    out: Dict[int, str] = {}
    for line, row in enumerate(rows, start=2):
        if len(row) < 2:
            raise ValueError(f"{path}, line {line}: expected "
                             f"'itemID<sep>key', found {row!r}")
        try:
            item = int(row[0])
        except ValueError:
            raise ValueError(f"{path}, line {line}: item id '{row[0]}' is "
                             f"not an integer") from None
        if item < 0 or item in out:
            raise ValueError(f"{path}, line {line}: item id {item} is "
                             f"negative or repeated")
        out[item] = row[1].strip()
    return out


def num_items_from_inter(path: PathLike) -> int:
    r"""Returns :obj:`max(itemID) + 1` of an MMRec :obj:`.inter` file."""
    path = Path(path)
    header, rows = read_rows(path)
    col = _column(header, 'itemID', 1, path)
    if not rows:
        raise ValueError(f"'{path}' has no interactions")
    return max(int(row[col]) for row in rows) + 1


def items_from_keys(texts: Mapping[str, str]) -> Dict[int, str]:
    r"""Converts texts keyed by item id strings to integer item ids, with an
    error naming the first key that is not an integer."""
    out: Dict[int, str] = {}
    for key, text in texts.items():
        try:
            out[int(key)] = text
        except ValueError:
            raise ValueError(
                f"Key '{key}' is not an integer item id; pass a key map "
                f"(itemID -> key) to align keys with item ids") from None
    return out


def align_to_items(texts: Mapping[str, str],
                   key_map: Optional[Mapping[int, str]] = None
                   ) -> Dict[int, str]:
    r"""Re-keys texts by item id.

    Args:
        texts (dict): Texts keyed by a string key.
        key_map (dict, optional): Item id -> key. Items whose key has no text
            are left out (they receive the fallback later). Without a map the
            keys must be the item ids themselves. (default: :obj:`None`)
    """
    if key_map is None:
        return items_from_keys(texts)
    return {item: texts[key] for item, key in key_map.items() if key in texts}


def sha256_of(obj: Any) -> str:
    r"""A stable SHA-256 hex digest of a JSON-serialisable object."""
    data = json.dumps(obj, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(data.encode('utf-8')).hexdigest()


#: Files larger than this are fingerprinted by name and size only, so that a
#: multi-GB captioning model is not re-read on every run.
HASH_LIMIT = 64 * 2**20


def folder_fingerprint(path: PathLike) -> str:
    r"""Fingerprints a model folder: content hashes of its files up to
    :obj:`HASH_LIMIT` bytes, names and sizes of larger ones."""
    path = Path(path)
    entries = []
    for file in sorted(p for p in path.rglob('*') if p.is_file()):
        rel = file.relative_to(path).as_posix()
        if rel.startswith('.') or '/.' in rel:
            continue
        size = file.stat().st_size
        if size <= HASH_LIMIT:
            digest = hashlib.sha256(file.read_bytes()).hexdigest()
        else:
            digest = f'size:{size}'
        entries.append((rel, digest))
    return sha256_of(entries)
