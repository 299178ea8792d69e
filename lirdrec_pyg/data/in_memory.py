r"""The registered datasets as :class:`torch_geometric.data.InMemoryDataset`
objects, with a processed cache so the raw files are parsed once."""
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Callable, List, Optional, Union

import torch
from torch_geometric.data import HeteroData, InMemoryDataset

from lirdrec_pyg.data import datasets as registry
from lirdrec_pyg.data.errors import DatasetNotFoundError

Transform = Callable[[HeteroData], HeteroData]


class RecommendationDataset(InMemoryDataset):
    r"""A registered dataset of :obj:`lirdrec_pyg`
    (:func:`~lirdrec_pyg.data.load_dataset`) as an
    :class:`~torch_geometric.data.InMemoryDataset` holding one
    :class:`~torch_geometric.data.HeteroData` graph.

    The raw files stay where the registry finds them (:obj:`raw_dir`:
    :obj:`<data root>/<name>`, see :func:`~lirdrec_pyg.data.data_root`); the
    parsed graph is cached under :obj:`<root>/processed/` in a file whose
    name digests the loader arguments and the size and modification time of
    every raw file, so changed raw files or arguments are processed again.
    The cache is read with :obj:`torch.load(..., weights_only=True)` (no
    code runs when loading).

    .. code-block:: python

        dataset = RecommendationDataset('runs/cache', 'lastfm2k')
        data = dataset[0]   # parsed once, then read from the cache

    Args:
        root (str or pathlib.Path): Folder of the processed cache.
        name (str): A registered dataset name (see
            :func:`~lirdrec_pyg.data.list_datasets`).
        data_root (str or pathlib.Path, optional): Folder holding the raw
            dataset folders. (default: :obj:`None`,
            :func:`~lirdrec_pyg.data.data_root`)
        transform (callable, optional): Applied to the graph on every
            access. (default: :obj:`None`)
        pre_transform (callable, optional): Applied once before caching.
            (default: :obj:`None`)
        force_reload (bool, optional): Re-process even if cached.
            (default: :obj:`False`)
        **kwargs (optional): Loader arguments (e.g. :obj:`num_users` for
            :obj:`synthetic`); JSON-serialisable values only.
    """
    def __init__(self, root: Union[str, Path], name: str,
                 data_root: Optional[Union[str, Path]] = None,
                 transform: Optional[Transform] = None,
                 pre_transform: Optional[Transform] = None,
                 force_reload: bool = False, **kwargs: Any) -> None:
        if name not in registry.DATASETS:
            raise ValueError(f"Unknown dataset '{name}', expected one of "
                             f"{sorted(registry.DATASETS)}")
        try:
            self._key = json.dumps(kwargs, sort_keys=True)
        except TypeError as error:
            raise ValueError(f"loader arguments must be JSON-serialisable "
                             f"to key the cache ({error})") from None
        self.name = name
        self.loader_kwargs = kwargs
        self._data_root = Path(data_root if data_root is not None else
                               registry.data_root())
        super().__init__(str(root), transform, pre_transform,
                         force_reload=force_reload)
        self._load_cached(self.processed_paths[0])

    @property
    def generated(self) -> bool:
        r"""Whether the dataset is generated (no raw files)."""
        return self.name in registry._GENERATED

    @property
    def raw_dir(self) -> str:
        return str(self._data_root / self.name)

    @property
    def raw_file_names(self) -> List[str]:
        if self.generated:
            return []
        folder = Path(self.raw_dir)
        if not folder.is_dir():
            return [self.name]  # missing: download() explains
        return sorted(p.name for p in folder.iterdir() if p.is_file())

    @property
    def processed_file_names(self) -> List[str]:
        digest = hashlib.sha256(self._key.encode())
        for name in self.raw_file_names:
            path = Path(self.raw_dir) / name
            if path.is_file():
                stat = path.stat()
                digest.update(f'{name}:{stat.st_size}:'
                              f'{stat.st_mtime_ns}'.encode())
        return [f'{self.name}_{digest.hexdigest()[:16]}.pt']

    def download(self) -> None:
        if self.generated:
            return
        info = registry.DATASETS[self.name]
        raise DatasetNotFoundError(
            f"Dataset '{self.name}' not found at '{self.raw_dir}'. It is: "
            f"{info.description}. It comes from: {info.source}. Set the "
            f"environment variable {registry.ENV_VAR} (or 'data_root') to "
            f"the folder that holds the '{self.name}/' dataset folder.")

    def process(self) -> None:
        data = registry.load_dataset(self.name, root=self._data_root,
                                     **self.loader_kwargs)
        if self.pre_transform is not None:
            data = self.pre_transform(data)
        path = Path(self.processed_paths[0])
        tmp = path.with_name(f'.{path.name}.{os.getpid()}.tmp')
        self.save([data], str(tmp))
        os.replace(tmp, path)  # atomic: a crash leaves no half file

    def _load_cached(self, path: str) -> None:
        out = torch.load(path, weights_only=True)
        data, self.slices, data_cls = out
        self.data = data_cls.from_dict(data)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}({self.name})'
