import pytest

from lirdrec_pyg.data import make_synthetic


@pytest.fixture(scope='module')
def tiny_data():
    return make_synthetic(num_users=60, num_items=40, interactions_per_user=8,
                          modality_dims={'image': 8, 'text': 6}, seed=1)
