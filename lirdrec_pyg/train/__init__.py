"""Training, full-ranking evaluation and experiment running."""
from lirdrec_pyg.train.evaluator import FullRankingEvaluator
from lirdrec_pyg.train.metrics import (RankingMetricAccumulator,
                                       ranking_metrics)
from lirdrec_pyg.train.trainer import (TrainConfig, Trainer, TrainResult,
                                       seed_everything)

__all__ = [
    'FullRankingEvaluator', 'RankingMetricAccumulator', 'ranking_metrics',
   'TrainConfig', 'Trainer', 'TrainResult', 'seed_everything']
