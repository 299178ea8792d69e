"""Seconds of each step of ``lirdrec data import`` on a generated table.

    python benchmarks/import_speed.py --rows 1000000 --threads 1

Writes a CSV of ``--rows`` interactions (string user ids ``u<k>``, item ids
around 10^12, Unix timestamps, ratings 1-5; users and items drawn with a
popularity skew over items) into a temporary folder, then
times one full import (rating threshold 3, 5-core, per-user temporal split,
no text) step by step, and prints the seconds per step, the rows per second
of the whole import and the thread count as JSON.
"""
import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lirdrec_pyg.data import importer  # noqa: E402


def make_table(path: Path, rows: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    users = rng.integers(0, max(rows // 50, 1), rows)
    num_items = max(rows // 20, 1)
    popularity = 1.0 / (np.arange(num_items) + 10.0)
    items = 10**12 + 7 * rng.choice(num_items, rows,
                                    p=popularity / popularity.sum())
    time_ = rng.integers(10**9, 2 * 10**9, rows)
    rating = rng.integers(1, 6, rows)
    lines = ['user,item,timestamp,rating']
    lines += [f'u{u},{i},{t},{r}' for u, i, t, r in zip(
        users.tolist(), items.tolist(), time_.tolist(), rating.tolist())]
    path.write_text('\n'.join(lines) + '\n')


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--rows', type=int, default=1_000_000)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    seconds = {}
    with tempfile.TemporaryDirectory() as tmp:
        table = Path(tmp) / 'log.csv'
        make_table(table, args.rows, args.seed)
        start = time.perf_counter()

        def step(name, fn, *a, **kw):
            t = time.perf_counter()
            out = fn(*a, **kw)
            seconds[name] = round(time.perf_counter() - t, 3)
            return out

        data = step('read', importer.read_interactions, table, 'user', 'item',
                    time_col='timestamp', rating_col='rating')
        data = data.subset(data.rating >= 3)
        keep = step('duplicates', importer.drop_duplicates, data.user,
                    data.item, data.time)
        data = data.subset(keep)
        core = step('k_core', importer.k_core, data.user, data.item, 5, 5)
        data = data.subset(core.keep)
        user, user_raw = step('dense_ids', importer.dense_ids, data.user,
                              data.user_ids)
        item, item_raw = importer.dense_ids(data.item, data.item_ids)
        label = step('split', importer.split_labels, user, data.time,
                     len(user_raw), 'temporal')
        step('write', importer.write_mmrec, tmp, 'bench', user, item, label,
             data.rating, data.time)
        steps = time.perf_counter() - start
        t = time.perf_counter()
        report = importer.import_interactions(
            table, Path(tmp) / 'out', user_col='user', item_col='item',
            time_col='timestamp', rating_col='rating', min_rating=3,
            user_k=5, item_k=5, split='temporal')
        whole = time.perf_counter() - t
    print(json.dumps({
        'rows': args.rows, 'kept': sum(report.splits.values()),
        'users': report.num_users, 'items': report.num_items,
        'seconds_per_step': seconds, 'seconds_steps': round(steps, 2),
        'seconds_import_interactions': round(whole, 2),
        'rows_per_second': int(args.rows / whole),
        'threads': torch.get_num_threads(),
        'python': platform.python_version(),
        'numpy': np.__version__}, indent=2))
    return 0


if __name__ == '__main__':
    sys.exit(main())
