import pytest

from lirdrec_pyg.benchmark.suite import Suite

#: A few seconds per suite: 80 users x 60 items, small features, 3 epochs.
TINY = ['data.num_users=80', 'data.num_items=60',
        'data.interactions_per_user=8', 'data.modality_dims={image: 8, '
        'text: 6}', 'train.epochs=3', 'train.batch_size=128',
        'train.ks=[5, 10, 20]', 'embedding_dim=8']


@pytest.fixture
def tiny_suite():
    def make(models=('lightgcn', 'bpr'), seeds=(0, 1), extra=(), **kwargs):
        return Suite(name='tiny', datasets=['synthetic'], models=list(models),
                     seeds=list(seeds), set=[*TINY, *extra], **kwargs)
    return make
