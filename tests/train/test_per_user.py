import numpy as np
import pytest

from lirdrec_pyg.train.config import load_config
from lirdrec_pyg.train.experiment import (PER_USER, load_per_user,
                                          run_experiment, save_per_user)


@pytest.mark.parametrize('model', ['popularity', 'lirdrec'])
def test_run_saves_the_per_user_values_behind_its_test_metrics(model,
                                                               tmp_path):
    config = load_config(model, 'synthetic', overrides=[
        'data.num_users=80', 'data.num_items=150',
        'data.interactions_per_user=8', 'data.modality_dims={image: 8}',
        'train.epochs=3', 'train.progress=false',
        'eval.cold_item_fraction=0.2'])
    results = run_experiment('synthetic', model, config, out_dir=tmp_path)
    test = load_per_user(tmp_path / PER_USER.format('test'))
    cold = load_per_user(tmp_path / PER_USER.format('cold'))
    assert set(test) == {'user'} | {f'{m}@{k}' for m in ('Recall', 'NDCG')
                                    for k in (5, 10, 20, 50)}
    for key in ('Recall@20', 'NDCG@20'):
        assert test[key].mean() == pytest.approx(results['test'][key])
        assert cold[key].mean() == pytest.approx(results['cold_start'][key])
    assert test['user'].dtype == np.int64
    assert np.all(np.diff(test['user']) > 0)


def test_per_user_files_hold_no_objects(tmp_path):
    path = tmp_path / 'x.npz'
    np.savez(path, user=np.array([object()], dtype=object))
    with pytest.raises(ValueError, match='allow_pickle'):
        load_per_user(path)
    import torch
    save_per_user(path, {'user': torch.tensor([3, 5]),
                         'Recall@20': torch.tensor([0.5, 1.0],
                                                   dtype=torch.float64),
                         'MAP@20': torch.tensor([0.1, 0.2])})
    assert sorted(load_per_user(path)) == ['Recall@20', 'user']
