import pytest
import torch

# torch on this 2-core machine runs much faster with one thread; tests pin it.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(12345)
    yield


def shared_data_root() -> str:
    from lirdrec_pyg.data.datasets import data_root
    return str(data_root())
