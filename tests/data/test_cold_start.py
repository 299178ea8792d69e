import pytest
import torch

from lirdrec_pyg.data import make_synthetic, split_edge_index
from lirdrec_pyg.data.cold_start import hold_out_items


def test_held_out_items_leave_every_split_and_keep_features():
    data = make_synthetic(num_users=120, num_items=80, interactions_per_user=8,
                          modality_dims={'image': 6, 'text': 4}, seed=2)
    reduced, cold = hold_out_items(data, 0.25, seed=1)
    all_items = torch.unique(torch.cat(
        [split_edge_index(data, s)[1] for s in ('train', 'valid', 'test')]))
    assert cold.items.numel() == round(0.25 * all_items.numel())
    for split in ('train', 'valid', 'test'):
        kept = split_edge_index(reduced, split)
        assert not torch.isin(kept[1], cold.items).any()
    assert torch.isin(cold.edge_index[1], cold.items).all()
    assert torch.equal(reduced['item'].image, data['item'].image)
    # Same seed, same items; another seed, other items.
    assert torch.equal(hold_out_items(data, 0.25, seed=1)[1].items, cold.items)
    assert not torch.equal(hold_out_items(data, 0.25, seed=2)[1].items,
                           cold.items)
    with pytest.raises(ValueError, match="'cold_item_fraction' must lie"):
        hold_out_items(data, 1.0)
