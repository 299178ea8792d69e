import pytest
import torch

from lirdrec_pyg.models import BPR, embedding_norm_loss
from tests.models.helpers import assert_reaches, reproduce


def test_bpr_loss_formula(tiny_data):
    model = BPR(tiny_data, embedding_dim=8, reg_weight=0.1)
    u, p, n = torch.tensor([0, 1]), torch.tensor([2, 3]), torch.tensor([4, 5])
    ue, pe, ne = (model.user_emb.weight[u], model.item_emb.weight[p],
                  model.item_emb.weight[n])
    diff = (ue * pe).sum(-1) - (ue * ne).sum(-1)
    expected = -torch.log(torch.sigmoid(diff)).mean() + 0.1 * (
        ue.norm() + pe.norm() + ne.norm()) / 2
    assert torch.allclose(model.loss(u, p, n), expected, atol=1e-6)


def test_embedding_norm_loss():
    a, b = torch.ones(2, 3), torch.zeros(2, 3)
    assert embedding_norm_loss(a, b).item() == pytest.approx(6 ** 0.5 / 2)


@pytest.mark.slow
@pytest.mark.real_data
def test_lastfm2k_reaches_public_run():
    # The public MMRec run on this split (reg 1e-5): 0.3965 / 0.2736.
    assert_reaches(reproduce('bpr', 'lastfm2k', seed=0), 0.3965, 0.2736)
