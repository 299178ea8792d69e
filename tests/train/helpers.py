r"""What the trainer tests share: a small planted dataset and a short fit."""
from lirdrec_pyg.data import make_synthetic
from lirdrec_pyg.models import create_model
from lirdrec_pyg.train import TrainConfig, Trainer, seed_everything


def small_data():
    return make_synthetic(num_users=300, num_items=150,
                          interactions_per_user=15,
                          modality_dims={'image': 16, 'text': 8}, seed=3)


def fit(data, model='lightgcn', out_dir=None, resume=False, **train):
    r"""Trains :obj:`model` (16-d, seeded) with a short default schedule
    overridden by :obj:`train`; returns the result and the model."""
    seed_everything(0)
    net = create_model(model, data, **({} if model == 'popularity' else
                                       {'embedding_dim': 16}))
    cfg = TrainConfig(**{'epochs': 6, 'batch_size': 256, 'lr': 5e-3,
                         'progress': False, 'seed': 7, **train})
    return Trainer(net, data, cfg, out_dir=out_dir, resume=resume).fit(), net
