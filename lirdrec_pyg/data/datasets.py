r"""Registry of the datasets :obj:`lirdrec_pyg` knows by name, and where to
find them on disk.

Data files are never part of the repository: they live under a data root
given by the environment variable :obj:`LIRDREC_DATA` (default:
:obj:`../shared/data` next to the repository), one folder per dataset.
"""
import os
from pathlib import Path
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Union

from torch_geometric.data import HeteroData

from lirdrec_pyg.data.errors import DatasetNotFoundError
from lirdrec_pyg.data.mmrec import read_mmrec
from lirdrec_pyg.data.movielens import read_movielens
from lirdrec_pyg.data.synthetic import make_synthetic

ENV_VAR = 'LIRDREC_DATA'


def data_root() -> Path:
    r"""Returns the folder holding the datasets: :obj:`$LIRDREC_DATA` if set,
    else :obj:`<repo root>/../shared/data` if it exists, else
    :obj:`./../shared/data`."""
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    # The repository root is the parent of the package folder.
    repo_root = Path(__file__).resolve().parents[2]
    candidate = repo_root.parent / 'shared' / 'data'
    if candidate.is_dir():
        return candidate
    return Path('.', '..', 'shared', 'data')


class DatasetInfo(NamedTuple):
    r"""A registry entry: what the dataset is, where it comes from, and a
    loader :obj:`loader(folder, **kwargs) -> HeteroData` (:obj:`folder` is
    :obj:`None` for generated datasets)."""
    description: str
    source: str
    loader: Callable[..., HeteroData]


def _mmrec_loader(name: str) -> Callable[..., HeteroData]:
    def load(folder: Path, **kwargs: Any) -> HeteroData:
        return read_mmrec(folder, name=name, **kwargs)

    return load


def _synthetic_loader(folder: Optional[Path], **kwargs: Any) -> HeteroData:
    return make_synthetic(**kwargs)


DATASETS: Dict[str, DatasetInfo] = {
    'lastfm2k': DatasetInfo(
        'Last.fm 2K artists (HetRec 2011, 5-core, implicit) with audio '
        '(VGGish, 128-d) and text (all-MiniLM-L6-v2 of artist tags, 384-d) '
        'item features; MMRec layout with an 80/10/10 per-user split',
        'HetRec 2011 Last.fm data extended by Spillo et al., "See the '
        'Movie, Hear the Song, Read the Book" (2025); non-commercial '
        'research use', _mmrec_loader('lastfm2k')),
    'amazon_baby': DatasetInfo(
        'Amazon "Baby" 5-core interaction graph with the standard MMRec '
        'split; no item features (ID-based models only)',
        'Amazon review data (McAuley et al.) as distributed with MMRec '
        '(https://github.com/enoche/MMRec)', _mmrec_loader('amazon_baby')),
    'movielens_small': DatasetInfo(
        'MovieLens latest-small ratings (671 users) as implicit feedback, '
        'split at load time; raw titles, genres and tags for text features',
        'GroupLens MovieLens "latest-small" 2016 snapshot '
        '(https://grouplens.org/datasets/movielens/); research use',
        read_movielens),
    'synthetic': DatasetInfo(
        'Generated users and items with planted latent factors and noisy '
        'image/text features (needs no files)',
        'lirdrec_pyg.data.make_synthetic', _synthetic_loader),
}

_GENERATED = {'synthetic'}


def _folder(name: str, root: Optional[Union[str, Path]]) -> Path:
    return Path(root if root is not None else data_root()) / name


def load_dataset(name: str, root: Optional[Union[str, Path]] = None,
                 **kwargs: Any) -> HeteroData:
    r"""Loads a registered dataset by name.

    Args:
        name (str): A key of :obj:`DATASETS`.
        root (str or pathlib.Path, optional): The data root.
            (default: :func:`data_root`)
        **kwargs (optional): Passed to the dataset's loader (e.g.
            :obj:`split` for :obj:`movielens_small`, :obj:`num_users` for
            :obj:`synthetic`).
    """
    if name not in DATASETS:
        raise ValueError(f"Unknown dataset '{name}', expected one of "
                         f"{sorted(DATASETS)}")
    info = DATASETS[name]
    if name in _GENERATED:
        return info.loader(None, **kwargs)
    folder = _folder(name, root)
    if not folder.is_dir():
        raise DatasetNotFoundError(
            f"Dataset '{name}' not found at '{folder}'. It is: "
            f"{info.description}. It comes from: {info.source}. Set the "
            f"environment variable {ENV_VAR} to the folder that holds the "
            f"'{name}/' dataset folder.")
    return info.loader(folder, **kwargs)


def list_datasets(root: Optional[Union[str, Path]] = None
                  ) -> List[Dict[str, Any]]:
    r"""Lists the registered datasets with their availability.

    Returns:
        One dictionary per dataset with keys :obj:`name`,
        :obj:`description`, :obj:`available` and :obj:`path` (:obj:`None`
        for generated datasets).
    """
    out = []
    for name, info in DATASETS.items():
        if name in _GENERATED:
            path, available = None, True
        else:
            path = _folder(name, root)
            available = path.is_dir()
        out.append(dict(name=name, description=info.description,
                        available=available, path=path))
    return out
