import torch

from lirdrec_pyg.data import build_hetero_data, dataset_summary, format_summary


def tiny_graph():
    train = torch.tensor([[0, 0, 1, 2], [0, 1, 1, 2]])
    val = torch.tensor([[0, 3], [2, 0]])  # user 3 is cold: dropped
    test = torch.tensor([[1], [0]])
    return build_hetero_data(4, 3, train, val, test,
                             features={'text': torch.ones(3, 5)},
                             name='tiny')


def test_dataset_summary():
    summary = dataset_summary(tiny_graph())
    assert summary['name'] == 'tiny'
    assert summary['users'] == 4 and summary['items'] == 3
    assert summary['interactions'] == dict(train=4, valid=1, test=1, total=6)
    assert summary['density'] == 6 / 12
    # User degrees [2, 1, 1, 0], item degrees [1, 2, 1].
    assert summary['user_degree'] == dict(min=0, mean=1.0, median=1.0, max=2)
    assert summary['item_degree'] == dict(min=1, mean=4 / 3, median=1.0,
                                          max=2)
    # {u0, u1, i0, i1}, {u2, i2}, {u3}.
    assert summary['components'] == 3
    assert summary['largest_component'] == 4
    assert summary['modalities'] == {'text': 5}
    assert summary['dropped_cold_users'] == 1


def test_format_summary():
    text = format_summary(dataset_summary(tiny_graph()))
    lines = text.splitlines()
    assert lines[0] == 'Dataset: tiny'
    assert set(lines[1]) == {'-'}
    rows = {line[:38].strip(): line[38:].strip() for line in lines[2:]}
    assert rows['interactions train / valid / test'] == '4 / 1 / 1'
    assert rows['density'] == '50.0000%'
    assert rows['user degree min / mean / median / max'] == \
        '0 / 1.00 / 1.0 / 2'
    assert rows['connected components (train graph)'] == \
        '3 (largest: 4 nodes)'
    assert rows['modalities'] == 'text (5)'
    assert rows['dropped cold users'] == '1'


def test_networkx_is_imported_only_by_the_summary():
    # Training processes should not pay for networkx (about 12 MiB).
    import subprocess
    import sys
    code = ('import sys, lirdrec_pyg.models, lirdrec_pyg.train, '
            'lirdrec_pyg.cli; print("networkx" in sys.modules)')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True,
                         text=True, check=True).stdout.strip()
    assert out == 'False'
