from typing import Callable

import pytest
from torch_geometric.data import HeteroData

from lirdrec_pyg.data import DatasetNotFoundError, load_dataset


@pytest.fixture
def load_or_skip() -> Callable[..., HeteroData]:
    r"""Loads a registered dataset, skipping the test with the loader's
    message when its folder is missing."""
    def load(name: str, **kwargs) -> HeteroData:
        try:
            return load_dataset(name, **kwargs)
        except DatasetNotFoundError as e:
            pytest.skip(str(e))

    return load
