import math

import pytest
import torch

from lirdrec_pyg.data import (
    ITEM,
    IU,
    UI,
    USER,
    build_hetero_data,
    get_modalities,
    num_items,
    num_users,
    split_edge_index,
)


def test_build_hetero_data_layout():
    train = torch.tensor([[2, 0, 1, 0, 2], [1, 3, 0, 1, 1]])
    time = torch.tensor([50, 10, 20, 30, 40])
    val = torch.tensor([[1, 0], [2, 2]])
    test = torch.tensor([[0], [0]])
    feats = {'text': torch.arange(8.).view(4, 2).double(),
             'image': torch.ones(4, 3)}
    data = build_hetero_data(3, 4, train, val, test, feats, name='toy',
                             train_time=time)
    assert num_users(data) == 3 and num_items(data) == 4
    assert data[USER].num_nodes == 3 and data[ITEM].num_nodes == 4
    # Sorted by (user, item); the duplicate (2, 1) keeps its first time.
    assert data[UI].edge_index.tolist() == [[0, 0, 1, 2], [1, 3, 0, 1]]
    assert data[UI].time.tolist() == [30, 10, 20, 50]
    assert data[IU].edge_index.tolist() == [[1, 3, 0, 1], [0, 0, 1, 2]]
    assert split_edge_index(data, 'valid').tolist() == [[0, 1], [2, 2]]
    assert split_edge_index(data, 'test').tolist() == [[0], [0]]
    assert split_edge_index(data, 'train').dtype == torch.long
    assert get_modalities(data) == ['text', 'image']
    assert data[ITEM]['text'].dtype == torch.float32
    assert data[ITEM]['text'][3].tolist() == [6., 7.]
    assert data.name == 'toy' and data.num_dropped_cold_users == 0
    assert data.validate()
    with pytest.raises(ValueError, match="Unknown split 'val'"):
        split_edge_index(data, 'val')


def test_build_hetero_data_drops_cold_users():
    train = torch.tensor([[0, 1], [0, 1]])
    val = torch.tensor([[0, 2, 3], [1, 0, 0]])
    test = torch.tensor([[3, 1], [1, 0]])
    data = build_hetero_data(4, 2, train, val, test)
    assert data.num_dropped_cold_users == 2  # users 2 and 3
    assert split_edge_index(data, 'valid').tolist() == [[0], [1]]
    assert split_edge_index(data, 'test').tolist() == [[1], [0]]


def test_build_hetero_data_empty_splits_and_to():
    data = build_hetero_data(2, 2, torch.tensor([[0, 1], [1, 0]]))
    assert split_edge_index(data, 'valid').shape == (2, 0)
    assert split_edge_index(data, 'test').shape == (2, 0)
    assert get_modalities(data) == []
    moved = data.to('cpu')
    assert moved[UI].val_edge_index.shape == (2, 0)


@pytest.mark.parametrize('kwargs, match', [
    (dict(train_edge_index=torch.tensor([[0], [5]])), 'item id 5'),
    (dict(train_edge_index=torch.tensor([[-1], [0]])), 'user id -1'),
    (dict(test_edge_index=torch.tensor([[3], [0]])), "'test_edge_index'"),
    (dict(train_edge_index=torch.tensor([0, 1])), r'shape \[2, num_edges\]'),
    (dict(features={'text': torch.ones(3, 2)}), "'text' have 3 rows"),
    (dict(features={'num_nodes': torch.ones(4, 2)}), 'reserved'),
    (dict(train_time=torch.ones(3)), "'train_time'"),
])
def test_build_hetero_data_checks(kwargs, match):
    args = dict(num_users=3, num_items=4,
                train_edge_index=torch.tensor([[0, 1], [1, 2]]))
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        build_hetero_data(**args)


def test_build_hetero_data_non_finite_features():
    x = torch.ones(4, 2)
    x[2, 1] = math.inf
    with pytest.raises(ValueError, match=r"'audio'.*first bad row: 2"):
        build_hetero_data(1, 4, torch.tensor([[0], [0]]),
                          features={'audio': x})


def test_get_modalities_reads_x_and_explicit_keys():
    from torch_geometric.data import HeteroData
    data = HeteroData()
    data['item'].num_nodes = 4
    assert get_modalities(data) == []
    data['item'].x = torch.randn(4, 3)
    assert get_modalities(data) == ['x']
    data['item'].img = torch.randn(4, 2)
    assert get_modalities(data, ['img', 'x']) == ['img', 'x']
    assert get_modalities(data, 'img') == ['img']
    data.modalities = ['img']
    assert get_modalities(data) == ['img']
    with pytest.raises(ValueError, match=r"data\['item'\].audio: missing"):
        get_modalities(data, ['audio'])
    data['item'].bad = torch.randn(3, 2)
    with pytest.raises(ValueError, match=r"shape \[3, 2\]"):
        get_modalities(data, ['bad'])


def test_user_item_edge_type_and_split_edge_index():
    from torch_geometric.data import HeteroData

    from lirdrec_pyg.data import user_item_edge_type
    data = HeteroData()
    data['user', 'rates', 'item'].edge_index = torch.tensor([[0], [1]])
    data['item', 'rev_rates', 'user'].edge_index = torch.tensor([[1], [0]])
    assert user_item_edge_type(data) == ('user', 'rates', 'item')
    assert torch.equal(split_edge_index(data, 'train'),
                       torch.tensor([[0], [1]]))
    with pytest.raises(ValueError, match="no 'valid' split"):
        split_edge_index(data, 'valid')
    data['user', 'interacts', 'item'].edge_index = torch.tensor([[1], [1]])
    assert user_item_edge_type(data) == ('user', 'interacts', 'item')
    assert user_item_edge_type(data, ['user', 'rates', 'item']) == (
        'user', 'rates', 'item')
    del data['user', 'interacts', 'item']
    data['user', 'clicks', 'item'].edge_index = torch.tensor([[0], [0]])
    with pytest.raises(ValueError, match='pass edge_type='):
        user_item_edge_type(data)
