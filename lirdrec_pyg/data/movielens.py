r"""Reader for the raw `MovieLens <https://grouplens.org/datasets/movielens/>`_
csv files (:obj:`ratings.csv`, :obj:`movies.csv`, :obj:`tags.csv`), turned
into implicit feedback with a random or temporal split."""
import csv
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from lirdrec_pyg.data.errors import DataFormatError
from lirdrec_pyg.data.hetero import (
    ITEM,
    USER,
    build_hetero_data,
    check_nonempty_splits,
)
from lirdrec_pyg.data.mmrec import find_feature_files, read_feature_file
from lirdrec_pyg.data.splits import (
    global_temporal_split,
    random_split_per_user,
    temporal_split_per_user,
)

RATING_COLUMNS = ('userId', 'movieId', 'rating', 'timestamp')
SPLITS = ('random', 'temporal', 'global_temporal')


def _read_ratings(path: Path) -> np.ndarray:
    if not path.is_file():
        raise FileNotFoundError(f"MovieLens ratings file '{path}' not found")
    with open(path, newline='') as f:
        header = [h.strip() for h in f.readline().strip().split(',')]
    for column in RATING_COLUMNS:
        if column not in header:
            raise DataFormatError(
                f"{path.name}: missing column '{column}' (header found: "
                f"{header}; expected {list(RATING_COLUMNS)})")
    try:
        table = np.loadtxt(path, delimiter=',', skiprows=1, comments=None,
                           usecols=[header.index(c) for c in RATING_COLUMNS],
                           dtype=np.float64, ndmin=2)
    except ValueError as e:
        raise DataFormatError(f"{path.name}: {e}; expected numeric columns "
                              f"{list(RATING_COLUMNS)}") from None
    if table.shape[0] == 0:
        raise DataFormatError(f"{path.name}: no ratings below the header")
    return table


def _read_movies(path: Path) -> Dict[int, List[str]]:
    # movieId -> [title, genres]; titles may hold quoted commas.
    movies: Dict[int, List[str]] = {}
    with open(path, newline='', encoding='utf-8') as f:
        reader = csv.reader(f)
        header = next(reader, [])
        if header[:3] != ['movieId', 'title', 'genres']:
            raise DataFormatError(f"{path.name}: header {header}, expected "
                                  f"['movieId', 'title', 'genres']")
        for line, row in enumerate(reader, start=2):
            if len(row) != 3 or not row[0].strip().isdigit():
                raise DataFormatError(
                    f"{path.name}, line {line}: {row!r}, expected an "
                    f"integer movieId, a title and '|'-separated genres")
            movies[int(row[0])] = [row[1], row[2]]
    return movies


def _read_tags(path: Path) -> Dict[int, List[str]]:
    tags: Dict[int, List[str]] = {}
    if not path.is_file():
        return tags
    with open(path, newline='', encoding='utf-8') as f:
        reader = csv.DictReader(f)
        for line, row in enumerate(reader, start=2):
            try:
                movie = int(row['movieId'])
            except (KeyError, TypeError, ValueError):
                raise DataFormatError(
                    f"{path.name}, line {line}: expected an integer "
                    f"'movieId' and a 'tag' column") from None
            tag = (row.get('tag') or '').strip()
            seen = tags.setdefault(movie, [])
            if tag and tag not in seen:
                seen.append(tag)
    return tags


def movielens_item_texts(folder: Union[str, Path]) -> Dict[int, str]:
    r"""Builds one text per movie, :obj:`"<title>. genres: <g1>, <g2>.
    tags: <t1>, <t2>"`, from :obj:`movies.csv` and (if present)
    :obj:`tags.csv`. Parts without content are left out; tags keep the order
    of their first use.

    Args:
        folder (str or pathlib.Path): The MovieLens folder.

    Returns:
        A dictionary from the raw :obj:`movieId` to its text.
    """
    folder = Path(folder)
    movies = _read_movies(folder / 'movies.csv')
    tags = _read_tags(folder / 'tags.csv')
    texts: Dict[int, str] = {}
    for movie, (title, genres) in movies.items():
        parts = [title.strip()]
        genre_list = [g for g in genres.split('|')
                      if g and g != '(no genres listed)']
        if genre_list:
            parts.append('genres: ' + ', '.join(genre_list))
        if tags.get(movie):
            parts.append('tags: ' + ', '.join(tags[movie]))
        texts[movie] = '. '.join(parts)
    return texts


def _load_features(folder: Path, num_items: int) -> Dict[str, Tensor]:
    features = {}
    for modality, path in find_feature_files(folder).items():
        x = read_feature_file(path)
        if x.shape[0] != num_items:
            raise DataFormatError(
                f"{path.name}: found {x.shape[0]} rows, expected one per "
                f"item ({num_items} items expected, in the order of "
                f"data['item'].raw_id)")
        features[modality] = torch.from_numpy(x)
    return features


def read_movielens(folder: Union[str, Path], min_rating: float = 0.0,
                   split: str = 'random',
                   ratios: Sequence[float] = (0.8, 0.1, 0.1),
                   seed: int = 2024, name: str = 'movielens_small',
                   features_dir: Optional[Union[str, Path]] = None
                   ) -> HeteroData:
    r"""Reads MovieLens ratings as implicit feedback into a
    :class:`~torch_geometric.data.HeteroData` (see
    :func:`~lirdrec_pyg.data.hetero.build_hetero_data`).

    Ratings of at least :obj:`min_rating` become interactions. Users are
    numbered by ascending :obj:`userId` among the kept ratings; items by
    ascending :obj:`movieId` over the whole catalogue (:obj:`movies.csv` and
    :obj:`ratings.csv`), so that item numbering, and with it any feature
    file, does not depend on :obj:`min_rating` or the split. The raw ids are
    kept in :obj:`data['user'].raw_id` and :obj:`data['item'].raw_id`,
    training timestamps in :obj:`data['user', 'interacts', 'item'].time`.
    Every :obj:`<modality>_feat.npy` in :obj:`features_dir` (one row per
    item, in :obj:`raw_id` order) becomes a modality.

    Args:
        folder (str or pathlib.Path): The folder holding :obj:`ratings.csv`
            and :obj:`movies.csv`.
        min_rating (float, optional): Smallest rating kept.
            (default: :obj:`0.0`)
        split (str, optional): :obj:`'random'` (per user),
            :obj:`'temporal'` (per user) or :obj:`'global_temporal'`.
            (default: :obj:`'random'`)
        ratios (tuple, optional): Train, validation, test fractions.
            (default: :obj:`(0.8, 0.1, 0.1)`)
        seed (int, optional): Seed of the random split.
            (default: :obj:`2024`)
        name (str, optional): Dataset name.
            (default: :obj:`'movielens_small'`)
        features_dir (str or pathlib.Path, optional): Folder of feature
            files. (default: :obj:`<folder>/features`)
    """
    if split not in SPLITS:
        raise ValueError(f"Unknown split '{split}', expected one of "
                         f"{list(SPLITS)}")
    folder = Path(folder)
    table = _read_ratings(folder / 'ratings.csv')
    catalogue = table[:, 1].astype(np.int64)
    if (folder / 'movies.csv').is_file():
        movies = np.fromiter(_read_movies(folder / 'movies.csv').keys(),
                             dtype=np.int64)
        catalogue = np.concatenate([catalogue, movies])
    item_raw = np.unique(catalogue)

    table = table[table[:, 2] >= min_rating]
    if table.shape[0] == 0:
        raise DataFormatError(f"ratings.csv: no rating >= min_rating "
                              f"({min_rating})")
    user_raw, users = np.unique(table[:, 0].astype(np.int64),
                                return_inverse=True)
    items = np.searchsorted(item_raw, table[:, 1].astype(np.int64))
    edge_index = torch.from_numpy(np.stack([users, items])).long()
    time = torch.from_numpy(table[:, 3].astype(np.int64))
    num_users, num_items = len(user_raw), len(item_raw)

    if split == 'random':
        parts = random_split_per_user(edge_index, num_users, ratios, seed)
    elif split == 'temporal':
        parts = temporal_split_per_user(edge_index, time, num_users, ratios)
    else:
        parts = global_temporal_split(time, ratios)
    train, val, test = parts

    features_dir = Path(features_dir) if features_dir is not None else (
        folder / 'features')
    features = _load_features(features_dir, num_items)

    data = build_hetero_data(num_users, num_items, edge_index[:, train],
                             edge_index[:, val], edge_index[:, test],
                             features=features, name=name,
                             train_time=time[train])
    check_nonempty_splits(data, f"{folder.name}/ratings.csv ({split} split)")
    data[USER].raw_id = torch.from_numpy(user_raw)
    data[ITEM].raw_id = torch.from_numpy(item_raw)
    return data

