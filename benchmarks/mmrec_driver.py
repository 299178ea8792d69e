"""Runs one model of an MMRec checkout once and writes a JSON summary.

Started by ``benchmarks/side_by_side.py`` as a subprocess with the working
directory ``<mmrec>/src`` and the toolbox's own Python environment. It calls
the toolbox's own classes the way its ``utils/quick_start.py`` does, for one
setting instead of a grid (each hyper-parameter list reduced to the value
given, by default its first), and records per epoch the training seconds and
the validation score, from which the best epoch follows by the toolbox's own
early-stopping rule (strict improvement). This file holds none of the
toolbox's code.

Usage: ``python mmrec_driver.py MODEL DATASET SEED OUT.json [JSON overrides]``
"""
import json
import logging
import os
import sys
import time


def main() -> None:
    model_name, dataset, seed, out = sys.argv[1:5]
    overrides = json.loads(sys.argv[5]) if len(sys.argv) > 5 else {}
    sys.path.insert(0, os.getcwd())
    import torch
    torch.set_num_threads(int(os.environ.get('LIRDREC_THREADS', '1')))
    from utils.configurator import Config
    from utils.dataloader import EvalDataLoader, TrainDataLoader
    from utils.dataset import RecDataset
    from utils.logger import init_logger
    from utils.utils import get_model, get_trainer, init_seed

    config = Config(model_name, dataset, {'gpu_id': 0, 'use_gpu': False})
    init_logger(config)
    names = list(config['hyper_parameters'])
    for name in names:
        if isinstance(config[name], list):
            config[name] = config[name][0]
    for key, value in overrides.items():
        config[key] = value
    config['seed'] = int(seed)
    settings = {n: config[n] for n in names}
    settings.update(overrides)

    data = RecDataset(config)
    train_ds, valid_ds, test_ds = data.split()
    # quick_start logs the splits; str() also sets the inter_num the
    # loaders read.
    logger = logging.getLogger()
    for part in (data, train_ds, valid_ds, test_ds):
        logger.info(str(part))
    train_data = TrainDataLoader(config, train_ds,
                                 batch_size=config['train_batch_size'],
                                 shuffle=True)
    valid_data = EvalDataLoader(config, valid_ds, additional_dataset=train_ds,
                                batch_size=config['eval_batch_size'])
    test_data = EvalDataLoader(config, test_ds, additional_dataset=train_ds,
                               batch_size=config['eval_batch_size'])
    init_seed(config['seed'])
    train_data.pretrain_setup()
    model = get_model(config['model'])(config, train_data).to(
        config['device'])
    trainer = get_trainer()(config, model, False)

    epoch_seconds, valid_scores = [], []
    train_epoch, valid_epoch = trainer._train_epoch, trainer._valid_epoch

    def timed_train_epoch(*args, **kwargs):
        start = time.perf_counter()
        result = train_epoch(*args, **kwargs)
        epoch_seconds.append(time.perf_counter() - start)
        return result

    def recorded_valid_epoch(eval_data):
        score, result = valid_epoch(eval_data)
        if eval_data is valid_data:
            valid_scores.append(float(score))
        return score, result

    trainer._train_epoch = timed_train_epoch
    trainer._valid_epoch = recorded_valid_epoch
    start = time.perf_counter()
    _, best_valid, best_test = trainer.fit(train_data, valid_data=valid_data,
                                           test_data=test_data, saved=False)
    total = time.perf_counter() - start
    best_epoch, best = 0, -1.0
    for epoch, score in enumerate(valid_scores, start=1):
        if score > best:
            best_epoch, best = epoch, score
    summary = {
        'model': model_name, 'dataset': dataset, 'seed': int(seed),
        'settings': settings,
        'learning_rate': config['learning_rate'],
        'learning_rate_scheduler': config['learning_rate_scheduler'],
        'valid': {k: float(v) for k, v in best_valid.items()},
        'test': {k: float(v) for k, v in best_test.items()},
        'best_epoch': best_epoch, 'epochs': len(epoch_seconds),
        'seconds_per_epoch': (sum(epoch_seconds) / len(epoch_seconds)
                              if epoch_seconds else 0.0),
        'epoch_seconds': epoch_seconds,
        'total_seconds': total, 'threads': torch.get_num_threads(),
        'valid_curve': valid_scores,
    }
    tmp = out + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(summary, f, indent=1)
    os.replace(tmp, out)


if __name__ == '__main__':
    main()
