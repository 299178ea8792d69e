import json

import pytest

from lirdrec_pyg.train.plots import load_run, plot_learning_curves


def fake_run(model, best_epoch=3, epochs=5, eval_every=1):
    history = []
    for epoch in range(1, epochs + 1):
        record = {'epoch': epoch, 'loss': 1.0 / epoch, 'seconds': 0.1}
        if epoch % eval_every == 0:
            record['valid'] = {'Recall@20': 0.1 * min(epoch, best_epoch),
                               'NDCG@20': 0.05}
        history.append(record)
    return {'model': model, 'dataset': 'synthetic', 'best_epoch': best_epoch,
            'epochs': epochs, 'history': history}


@pytest.mark.parametrize('suffix,magic', [('.png', b'\x89PNG'),
                                          ('.svg', b'<?xml'),
                                          ('.pdf', b'%PDF')])
def test_writes_the_image_format_of_the_suffix(tmp_path, suffix, magic):
    path = tmp_path / f'curves{suffix}'
    runs = [fake_run('lirdrec'), fake_run('lightgcn', 2, 6, eval_every=2)]
    assert plot_learning_curves(runs, path, labels=['a', 'b']) == path
    assert path.read_bytes().startswith(magic)
    assert not list(tmp_path.glob('.*.tmp'))  # written atomically


def test_clear_errors(tmp_path):
    with pytest.raises(ValueError, match='at least one run'):
        plot_learning_curves([], tmp_path / 'x.png')
    with pytest.raises(ValueError, match='2 labels for 1 runs'):
        plot_learning_curves([fake_run('bpr')], tmp_path / 'x.png',
                             labels=['a', 'b'])
    with pytest.raises(ValueError, match="unknown metric 'MRR@20'"):
        plot_learning_curves([fake_run('bpr')], tmp_path / 'x.png',
                             metric='MRR@20')
    with pytest.raises(FileNotFoundError, match='no results.json'):
        load_run(tmp_path)
    (tmp_path / 'results.json').write_text(json.dumps({'model': 'x'}))
    with pytest.raises(ValueError, match="no per-epoch 'history'"):
        load_run(tmp_path)
    assert not (tmp_path / 'x.png').exists()


def test_takes_train_results(tmp_path):
    from lirdrec_pyg.data import make_synthetic
    from lirdrec_pyg.models import create_model
    from lirdrec_pyg.train import TrainConfig, Trainer
    data = make_synthetic(num_users=60, num_items=80, seed=0)
    result = Trainer(create_model('bpr', data, embedding_dim=8), data,
                     TrainConfig(epochs=2, progress=False)).fit()
    path = plot_learning_curves([result], tmp_path / 'r.png', labels=['x'])
    assert path.read_bytes().startswith(b'\x89PNG')
    with pytest.raises(TypeError, match='TrainResult'):
        plot_learning_curves([42], tmp_path / 'r.png')
