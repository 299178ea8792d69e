import math

import torch
from torch_geometric.data import HeteroData

from lirdrec_pyg.data.cold_start import ColdItems
from lirdrec_pyg.models.base import Recommender
from lirdrec_pyg.train.cold_start import evaluate_cold_items


class FixedScores(Recommender):
    def __init__(self, data, scores):
        super().__init__(data)
        self.scores = scores

    def forward(self):
        return torch.eye(self.num_users), self.scores.t()


def test_ranks_only_cold_items_against_a_hand_computed_case():
    data = HeteroData()
    data['user'].num_nodes = 2
    data['item'].num_nodes = 6
    # Item 0 is warm and scores highest for both users: it must not count.
    scores = torch.tensor([[9., 5., 4., 3., 2., 1.],
                           [9., 1., 2., 3., 4., 5.]])
    cold = ColdItems(items=torch.tensor([1, 2, 3, 4, 5]),
                     edge_index=torch.tensor([[0, 1, 1], [2, 1, 3]]))
    out = evaluate_cold_items(FixedScores(data, scores), data, cold, ks=[1, 2])
    # user 0 ranks cold items 1,2,3,..: its item 2 is at rank 2.
    # user 1 ranks 5,4,3,2,1: its items 3 (rank 3) and 1 (rank 5).
    assert math.isclose(out['Recall@1'], 0.0)
    assert math.isclose(out['Recall@2'], (1.0 + 0.0) / 2)
    assert math.isclose(out['NDCG@2'], (1 / math.log2(3)) / 1 / 2)
    assert out['num_cold_items'] == 5
    assert math.isclose(out['random_Recall@2'], 2 / 5)
