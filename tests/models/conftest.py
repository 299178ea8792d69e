import pytest

from lirdrec_pyg.data import make_synthetic

# Asserts in the shared helpers report values like those in the tests.
pytest.register_assert_rewrite('tests.models.helpers')

from tests.models.helpers import mm_data, mm_small  # noqa: E402


@pytest.fixture(scope='module')
def tiny_data():
    return make_synthetic(num_users=60, num_items=40, interactions_per_user=8,
                          modality_dims={'image': 8, 'text': 6}, seed=1)


@pytest.fixture(scope='module')
def data():
    r"""40 users x 30 items with three modalities (:func:`mm_data`)."""
    return mm_data()


@pytest.fixture(scope='module')
def small():
    r"""60 users x 40 items with three modalities (:func:`mm_small`)."""
    return mm_small()
