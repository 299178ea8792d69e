import torch

from lirdrec_pyg.models import Popularity


def test_popularity_scores_are_counts(tiny_data):
    model = Popularity(tiny_data)
    users = torch.arange(3)
    scores = model.score(model.inference(), users)
    counts = torch.bincount(tiny_data['user', 'interacts', 'item'].edge_index[1],
                            minlength=40).float()
    assert torch.equal(scores, counts.expand(3, -1))
    assert not model.trainable
