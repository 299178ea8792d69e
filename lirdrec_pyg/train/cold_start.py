"""Ranking held-out (cold-start) items for users."""
from typing import Callable, Dict, List, Sequence, Tuple

import torch
from torch import Tensor
from torch_geometric.data import HeteroData

from lirdrec_pyg.data.cold_start import ColdItems
from lirdrec_pyg.models.base import Recommender
from lirdrec_pyg.train.evaluator import FullRankingEvaluator


def _cold_evaluator(model: Recommender, cold: ColdItems,
                    ks: Sequence[int]) -> Tuple[FullRankingEvaluator,
                                                Callable[[Tensor], Tensor],
                                                List[int]]:
    # The held-out items renumbered 0..C-1, and a score function restricted
    # to them.
    position = torch.full((model.num_items,), -1, dtype=torch.long)
    position[cold.items] = torch.arange(cold.items.numel())
    edge_index = torch.stack([cold.edge_index[0],
                              position[cold.edge_index[1]]])
    # At K >= the number of candidates every ranking recalls everything.
    ks = [k for k in ks if k < cold.items.numel()]
    evaluator = FullRankingEvaluator(edge_index, model.num_users,
                                     cold.items.numel(), ks=ks)
    model.eval()
    state = model.inference()
    items = cold.items

    tensors = list(model.parameters()) + list(model.buffers())
    device = tensors[0].device if tensors else torch.device('cpu')

    def score(users: Tensor) -> Tensor:
        return model.score(state, users.to(device))[:, items.to(device)]

    return evaluator, score, ks


@torch.no_grad()
def evaluate_cold_items(model: Recommender, data: HeteroData,
                        cold: ColdItems,
                        ks: Sequence[int] = (5, 10, 20, 50)) -> Dict[str,
                                                                   float]:
    r"""Ranks only the held-out items for every user that interacted with
    one, with the metrics of the full-ranking protocol (no masking: none of
    these items were seen in training). Also reports the expected Recall@K
    of a random ranking, :math:`K / |\mathcal{I}_{cold}|`, for scale."""
    evaluator, score, ks = _cold_evaluator(model, cold, ks)
    out = evaluator.evaluate(score)
    out['num_cold_items'] = int(cold.items.numel())
    out['num_cold_interactions'] = int(cold.edge_index.size(1))
    for k in ks:
        out[f'random_Recall@{k}'] = min(1.0, k / cold.items.numel())
    return out


@torch.no_grad()
def evaluate_cold_items_per_user(
        model: Recommender, cold: ColdItems,
        ks: Sequence[int] = (5, 10, 20, 50)) -> Dict[str, Tensor]:
    r"""The per-user values behind :func:`evaluate_cold_items` (see
    :meth:`~lirdrec_pyg.train.FullRankingEvaluator.evaluate_per_user`)."""
    evaluator, score, _ = _cold_evaluator(model, cold, ks)
    return evaluator.evaluate_per_user(score)
