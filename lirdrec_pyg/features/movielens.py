"""Item features for MovieLens (raw csv files) from the pipeline: an embedding
of title, genres and user tags (:obj:`text`) and multi-hot genres
(:obj:`genre`)."""
import csv
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from lirdrec_pyg.data.movielens import movielens_item_texts
from lirdrec_pyg.features.assemble import (FeatureReport, write_feature_file,
                                           write_matrix_file)
from lirdrec_pyg.features.io import PathLike
from lirdrec_pyg.features.text import Embedder

NO_GENRE = '(no genres listed)'


def _read_csv(path: Path, columns: Sequence[str]) -> List[Dict[str, str]]:
    if not path.is_file():
        raise FileNotFoundError(f"MovieLens file '{path}' does not exist")
    with open(path, newline='', encoding='utf-8') as f:
        reader = csv.DictReader(f)
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"'{path}' lacks column(s) {missing} "
                             f"(found {reader.fieldnames})")
        return list(reader)


def movielens_item_order(folder: PathLike) -> List[int]:
    r"""The movie id of every item id, as numbered by
    :func:`~lirdrec_pyg.data.movielens.read_movielens`: ascending
    :obj:`movieId` over the whole catalogue (:obj:`movies.csv` and
    :obj:`ratings.csv`), independent of rating filters and splits."""
    folder = Path(folder)
    ids = {int(r['movieId'])
           for r in _read_csv(folder / 'ratings.csv', ['movieId'])}
    if (folder / 'movies.csv').is_file():
        ids.update(movielens_genres(folder))
    return sorted(ids)


def movielens_genres(folder: PathLike) -> Dict[int, List[str]]:
    r"""Movie id -> genres from :obj:`movies.csv` (:obj:`"(no genres
    listed)"` becomes an empty list)."""
    rows = _read_csv(Path(folder) / 'movies.csv', ['movieId', 'genres'])
    return {int(r['movieId']): [g for g in r['genres'].split('|')
                                if g and g != NO_GENRE] for r in rows}


def genre_matrix(genres: Dict[int, List[str]], movie_ids: Sequence[int]
                 ) -> Tuple[np.ndarray, List[str]]:
    r"""Multi-hot genre matrix :obj:`[len(movie_ids), num_genres]` (columns in
    sorted genre order) and the genre names."""
    names = sorted({g for gs in genres.values() for g in gs})
    column = {g: j for j, g in enumerate(names)}
    matrix = np.zeros((len(movie_ids), len(names)), dtype=np.float32)
    for i, movie in enumerate(movie_ids):
        for g in genres.get(movie, []):
            matrix[i, column[g]] = 1.0
    return matrix, names


def build_movielens_features(
    out_dir: PathLike,
    folder: PathLike,
    embedder: Embedder,
    movie_ids: Optional[Sequence[int]] = None,
    item_texts: Optional[Dict[int, str]] = None,
    fallback: str = 'mean',
    chunk_size: int = 256,
    progress: bool = True,
    force: bool = False,
) -> Dict[str, FeatureReport]:
    r"""Writes :obj:`text_feat.npy` (embedding of title, genres and tags) and
    :obj:`genre_feat.npy` (multi-hot genres) into :obj:`out_dir`, row
    :obj:`i` belonging to movie :obj:`movie_ids[i]`.

    Args:
        out_dir (str): Output folder.
        folder (str): The MovieLens folder (:obj:`movies.csv`,
            :obj:`tags.csv`, :obj:`ratings.csv`).
        embedder (Embedder): The text encoder.
        movie_ids (list of int, optional): Movie id of each item id.
            (default: the numbering of
            :func:`~lirdrec_pyg.data.movielens.read_movielens`, see
            :func:`movielens_item_order`)
        item_texts (dict, optional): Movie id -> text. (default: title,
            genres and tags from
            :func:`~lirdrec_pyg.data.movielens.movielens_item_texts`)
        fallback (str, optional): For movies without text.
            (default: :obj:`"mean"`)
        chunk_size (int, optional): Texts per cached chunk.
            (default: :obj:`256`)
        progress (bool, optional): Show a progress bar. (default: :obj:`True`)
        force (bool, optional): Rebuild an up-to-date text feature file.
            (default: :obj:`False`)
    """
    out_dir = Path(out_dir)
    if movie_ids is None:
        movie_ids = movielens_item_order(folder)
    movie_ids = [int(m) for m in movie_ids]
    if len(set(movie_ids)) != len(movie_ids):
        raise ValueError("'movie_ids' contains repeated movie ids")
    texts = movielens_item_texts(folder) if item_texts is None else \
        item_texts
    by_item = {i: texts[m] for i, m in enumerate(movie_ids) if m in texts}
    reports = {}
    reports['text'] = write_feature_file(
        out_dir / 'text_feat.npy', by_item, len(movie_ids), embedder,
        fallback=fallback, chunk_size=chunk_size, progress=progress,
        force=force)
    matrix, names = genre_matrix(movielens_genres(folder), movie_ids)
    reports['genre'] = write_matrix_file(out_dir / 'genre_feat.npy', matrix,
                                         genres=names)
    return reports
