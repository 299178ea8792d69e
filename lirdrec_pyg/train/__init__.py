"""Training, full-ranking evaluation and experiment running."""
from lirdrec_pyg.train.trainer import (TrainConfig, Trainer, TrainResult,
                                       seed_everything)

__all__ = ['TrainConfig', 'Trainer', 'TrainResult', 'seed_everything']
