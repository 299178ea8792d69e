import os
import pickle

import pytest
import torch

from lirdrec_pyg.train.io import (CheckpointError, atomic_torch_save,
                                  safe_torch_load)


class _Payload:
    r"""Unpickling this object would create a marker file: the attack a
    crafted checkpoint carries."""
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f'touch {self.marker}', ))


@pytest.mark.parametrize('container', ['torch', 'raw_pickle'])
def test_pickle_payload_is_refused_and_never_runs(tmp_path, container):
    marker = tmp_path / 'pwned'
    path = tmp_path / 'checkpoint.pt'
    payload = {'model': {'w': torch.ones(2)}, 'evil': _Payload(marker)}
    if container == 'torch':
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload))
    with pytest.raises(CheckpointError, match="checkpoint '.*checkpoint.pt'"):
        safe_torch_load(path)
    assert not marker.exists()


def test_round_trip_of_plain_checkpoint(tmp_path):
    state = {'model': {'w': torch.arange(3.)}, 'trainer': {
        'epoch': 3, 'best_score': float('-inf'), 'history': [{'loss': 1.0}]}}
    atomic_torch_save(tmp_path / 'c.pt', state)
    out = safe_torch_load(tmp_path / 'c.pt', keys=('model', 'trainer'))
    assert torch.equal(out['model']['w'], state['model']['w'])
    assert out['trainer'] == state['trainer']


def test_truncated_foreign_missing_and_incomplete(tmp_path):
    path = tmp_path / 'c.pt'
    atomic_torch_save(path, {'model': {'w': torch.randn(100, 100)}})
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(CheckpointError, match='cannot be read'):
        safe_torch_load(path)
    path.write_text('model: not a checkpoint\n')
    with pytest.raises(CheckpointError, match="'.*c.pt' cannot be read"):
        safe_torch_load(path)
    with pytest.raises(CheckpointError, match='does not exist'):
        safe_torch_load(tmp_path / 'missing.pt')
    atomic_torch_save(path, {'model': {}})
    with pytest.raises(CheckpointError, match=r"missing \['trainer'\]"):
        safe_torch_load(path, keys=('model', 'trainer'))
