r"""Registry of the datasets :obj:`lirdrec_pyg` knows by name, and where to
find them on disk.

Data files are never part of the repository: they live under a data root
given by the environment variable :obj:`LIRDREC_DATA` (see
:func:`data_root`), one folder per dataset. Besides the registered names, any
folder :obj:`NAME/NAME.inter` under the data root is a dataset by that name,
and any folder in MMRec layout can be given by its path.
"""
import os
from pathlib import Path
from typing import (Any, Callable, Dict, List, NamedTuple, Optional, Tuple,
                    Union)

from torch_geometric.data import HeteroData

from lirdrec_pyg.data.errors import DatasetNotFoundError
from lirdrec_pyg.data.mmrec import read_mmrec
from lirdrec_pyg.data.movielens import read_movielens
from lirdrec_pyg.data.synthetic import make_synthetic

ENV_VAR = 'LIRDREC_DATA'


def data_root() -> Path:
    r"""Returns the folder holding the datasets:

    1. :obj:`$LIRDREC_DATA` if set;
    2. in a source checkout, :obj:`<checkout>/../shared/data` if it exists;
    3. otherwise (an installed package) :obj:`~/lirdrec_data`.
    """
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / 'setup.cfg').is_file():
        candidate = checkout.parent / 'shared' / 'data'
        if candidate.is_dir():
            return candidate
    return Path.home() / 'lirdrec_data'


class DatasetInfo(NamedTuple):
    r"""A registry entry: what the dataset is, where it comes from, and its
    reader (:func:`~lirdrec_pyg.data.read_mmrec`,
    :func:`~lirdrec_pyg.data.read_movielens` with the folder first, or a
    generator such as :func:`~lirdrec_pyg.data.make_synthetic`)."""
    description: str
    source: str
    reader: Callable[..., HeteroData]


DATASETS: Dict[str, DatasetInfo] = {
    'lastfm2k': DatasetInfo(
        'Last.fm 2K artists (HetRec 2011, 5-core, implicit) with audio '
        '(VGGish, 128-d) and text (all-MiniLM-L6-v2 of artist tags, 384-d) '
        'item features; MMRec layout with an 80/10/10 per-user split',
        'HetRec 2011 Last.fm data extended by Spillo et al., "See the '
        'Movie, Hear the Song, Read the Book" (2025); non-commercial '
        'research use', read_mmrec),
    'amazon_baby': DatasetInfo(
        'Amazon "Baby" 5-core interaction graph with the standard MMRec '
        'split; no item features (ID-based models only)',
        'Amazon review data (McAuley et al.) as distributed with MMRec '
        '(https://github.com/enoche/MMRec)', read_mmrec),
    'movielens_small': DatasetInfo(
        'MovieLens latest-small ratings (671 users) as implicit feedback, '
        'split at load time; raw titles, genres and tags for text features',
        'GroupLens MovieLens "latest-small" 2016 snapshot '
        '(https://grouplens.org/datasets/movielens/); research use',
        read_movielens),
    'synthetic': DatasetInfo(
        'Generated users and items with planted latent factors and noisy '
        'image/text features (needs no files)',
        'lirdrec_pyg.data.make_synthetic', make_synthetic),
}

_GENERATED = {'synthetic'}


def _folder(name: str, root: Optional[Union[str, Path]]) -> Path:
    return Path(root if root is not None else data_root()) / name


class DatasetSpec(NamedTuple):
    r"""A resolved dataset: what :func:`load_dataset` reads. Its fields are
    :obj:`name` (the registry key or folder name), :obj:`path` (the folder;
    :obj:`None` for generated datasets), :obj:`registered` (whether it is a
    registry entry: only then does :obj:`configs/datasets/<name>.yaml`
    apply), :obj:`reader` (the reading function, whose keyword parameters
    are the dataset's :obj:`data.*` settings) and :obj:`fixed` (the reader
    parameters set by the resolution itself, such as the folder and the
    name, which :obj:`data.*` cannot set)."""
    name: str
    path: Optional[Path]
    registered: bool
    reader: Callable[..., HeteroData]
    fixed: Tuple[str, ...]

    def load(self, **kwargs: Any) -> HeteroData:
        if self.path is None:
            return self.reader(**kwargs)
        if self.reader is read_mmrec:
            return read_mmrec(self.path, name=self.name, **kwargs)
        return self.reader(self.path, **kwargs)


def _mmrec_name(folder: Path) -> str:
    r"""The dataset name of an MMRec folder: :obj:`NAME` of its
    :obj:`NAME.inter` (the folder's own name first)."""
    if (folder / f'{folder.name}.inter').is_file():
        return folder.name
    found = sorted(p.stem for p in folder.glob('*.inter'))
    if len(found) == 1:
        return found[0]
    if not found:
        raise DatasetNotFoundError(
            f"'{folder}' holds no .inter file; a dataset folder needs "
            f"NAME.inter (MMRec layout: userID, itemID, x_label columns) and "
            f"optional <modality>_feat.npy files (raw interactions: "
            f"'lirdrec data import')")
    raise DatasetNotFoundError(
        f"'{folder}' holds several .inter files {found}; expected "
        f"'{folder.name}.inter'")


def _looks_like_path(dataset: str) -> bool:
    return ('/' in dataset or '\\' in dataset or dataset.startswith('.')
            or dataset.startswith('~'))


def discovered_datasets(root: Optional[Union[str, Path]] = None
                        ) -> List[str]:
    r"""The folders :obj:`NAME` under the data root that hold
    :obj:`NAME/NAME.inter` and are not registered: datasets by that name."""
    folder = Path(root if root is not None else data_root())
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir()
                  if p.is_dir() and p.name not in DATASETS
                  and (p / f'{p.name}.inter').is_file())


def resolve_dataset(dataset: Union[str, Path],
                    root: Optional[Union[str, Path]] = None) -> DatasetSpec:
    r"""Resolves a dataset given by registered name, by the name of a folder
    :obj:`NAME/NAME.inter` under the data root, or by the path of a folder in
    MMRec layout (:obj:`NAME.inter` and :obj:`<modality>_feat.npy`).

    A path to a registered dataset's own folder resolves to the registered
    dataset; any other folder is a dataset of its own (named after its
    :obj:`.inter` file), to which no registered dataset's settings apply.
    """
    root_path = Path(root if root is not None else data_root())
    text = str(dataset)
    if isinstance(dataset, str) and text in DATASETS:
        path = None if text in _GENERATED else root_path / text
        reader = DATASETS[text].reader
        fixed = () if path is None else ('folder', 'name') if (
            reader is read_mmrec) else ('folder', )
        return DatasetSpec(text, path, True, reader, fixed)
    if isinstance(dataset, Path) or _looks_like_path(text) or (
            Path(text).is_dir() and not (root_path / text).is_dir()):
        folder = Path(text).expanduser()
        if folder.is_file():
            raise DatasetNotFoundError(
                f"--dataset '{folder}' is a file; pass the folder that holds "
                f"it ('{folder.parent}')")
        if not folder.is_dir():
            raise DatasetNotFoundError(
                f"dataset folder '{folder}' does not exist; --dataset takes a "
                f"registered name, a folder name under {ENV_VAR} "
                f"('{root_path}') or the path of a folder in MMRec layout")
        for name in DATASETS:
            if name not in _GENERATED and (root_path / name).is_dir() and (
                    root_path / name).resolve() == folder.resolve():
                return resolve_dataset(name, root)
        return DatasetSpec(_mmrec_name(folder), folder, False, read_mmrec,
                           ('folder', 'name'))
    folder = root_path / text
    if (folder / f'{text}.inter').is_file():
        return DatasetSpec(text, folder, False, read_mmrec,
                           ('folder', 'name'))
    raise ValueError(
        f"unknown dataset '{text}'; expected a registered name "
        f"{sorted(DATASETS)}, a folder NAME/NAME.inter under {ENV_VAR} "
        f"('{root_path}': {discovered_datasets(root) or 'none'}), or the "
        f"path of a dataset folder (e.g. ./{text})")


def load_dataset(dataset: Union[str, Path], /,
                 root: Optional[Union[str, Path]] = None,
                 **kwargs: Any) -> HeteroData:
    r"""Loads a dataset by registered name, by folder name under the data
    root, or by folder path (see :func:`resolve_dataset`).

    Args:
        dataset (str or pathlib.Path): A key of :obj:`DATASETS`, a folder name
            :obj:`NAME` under the data root holding :obj:`NAME/NAME.inter`,
            or the path of a folder in MMRec layout.
        root (str or pathlib.Path, optional): The data root.
            (default: :func:`data_root`)
        **kwargs (optional): Passed to the dataset's reader (e.g.
            :obj:`split` for :obj:`movielens_small`, :obj:`num_users` for
            :obj:`synthetic`).
    """
    spec = resolve_dataset(dataset, root)
    if spec.registered and spec.path is not None and not spec.path.is_dir():
        info = DATASETS[spec.name]
        raise DatasetNotFoundError(
            f"Dataset '{spec.name}' not found at '{spec.path}'. It is: "
            f"{info.description}. It comes from: {info.source}. Set the "
            f"environment variable {ENV_VAR} to the folder that holds the "
            f"'{spec.name}/' dataset folder.")
    return spec.load(**kwargs)


def list_datasets(root: Optional[Union[str, Path]] = None
                  ) -> List[Dict[str, Any]]:
    r"""Lists the registered datasets with their availability, then the
    unregistered dataset folders found under the data root.

    Returns:
        One dictionary per dataset with keys :obj:`name`,
        :obj:`description`, :obj:`available`, :obj:`registered` and
        :obj:`path` (:obj:`None` for generated datasets).
    """
    out = []
    for name, info in DATASETS.items():
        if name in _GENERATED:
            path, available = None, True
        else:
            path = _folder(name, root)
            available = path.is_dir()
        out.append(dict(name=name, description=info.description,
                        available=available, registered=True, path=path))
    for name in discovered_datasets(root):
        out.append(dict(name=name, description='dataset folder (MMRec '
                        'layout) under the data root', available=True,
                        registered=False, path=_folder(name, root)))
    return out
