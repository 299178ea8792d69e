"""One-shot GPU check: the CUDA tests, then timed LIRDRec and LightGCN
training epochs and evaluations on lastfm2k and a Baby-sized synthetic graph
(19,445 users, 7,050 items, 4,096-d + 384-d features), in full-graph and in
sampled-subgraph training (``train.mode: sampled``, sampled on the device);
one JSON line per figure on stdout. Run through ``benchmarks/gpu_check.sh``.

``--dry-run`` runs the same code on the CPU with a tiny synthetic graph (the
CUDA tests then skip), which is what CI runs.
"""
import argparse
import collections
import contextlib
import json
import sys
import time

from epoch_timing import ROOT, build_trainer, load, peak_mib, time_epochs, \
    time_evaluation

MODELS = ('lirdrec', 'lightgcn')
MODES = ('full', 'sampled')


class _Outcomes:
    r"""Counts the outcomes of the tests pytest runs (a pytest plugin)."""
    def __init__(self) -> None:
        self.counts: collections.Counter = collections.Counter()

    def pytest_runtest_logreport(self, report) -> None:
        if report.when == 'call' or report.outcome != 'passed':
            self.counts[report.outcome] += 1


def emit(row: dict) -> None:
    print(json.dumps(row), flush=True)


def run_cuda_tests() -> int:
    import pytest
    outcomes = _Outcomes()
    start = time.perf_counter()
    # pytest's report goes to stderr: stdout holds only the JSON lines.
    with contextlib.redirect_stdout(sys.stderr):
        code = pytest.main(['-q', '-p', 'no:cacheprovider', '-m', 'cuda',
                            str(ROOT / 'tests')], plugins=[outcomes])
    emit({'figure': 'cuda_tests', 'passed': outcomes.counts['passed'],
          'failed': outcomes.counts['failed'],
          'skipped': outcomes.counts['skipped'],
          'seconds': round(time.perf_counter() - start, 1)})
    return int(code)


def time_models(dataset: str, device: str, epochs: int) -> None:
    data = load(dataset)
    for mode in MODES:
        for name in MODELS:
            time_model(name, mode, dataset, data, device, epochs)


def time_model(name: str, mode: str, dataset: str, data, device: str,
               epochs: int) -> None:
    import torch
    if device.startswith('cuda'):
        torch.cuda.reset_peak_memory_stats()
    trainer = build_trainer(name, dataset, data, device, mode=mode)
    row = {'figure': 'epoch', 'model': name, 'mode': mode,
           'dataset': dataset, 'device': str(trainer.device)}
    row.update(time_epochs(trainer, epochs))
    if mode == 'sampled':
        # The sampled batches come from a graph held on the device.
        row['sampler_device'] = str(trainer.subgraph_sampler.rowptr.device)
    row['eval_seconds'] = time_evaluation(trainer)
    if trainer.device.type == 'cuda':
        row['gpu'] = torch.cuda.get_device_name(trainer.device)
        row['peak_gpu_mib'] = round(
            torch.cuda.max_memory_allocated(trainer.device) / 2**20, 1)
    row['peak_host_mib'] = round(peak_mib(), 1)
    row['threads'] = torch.get_num_threads()
    emit(row)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--dry-run', action='store_true',
                        help='the same code on the CPU with a tiny graph')
    parser.add_argument('--epochs', type=int, default=2,
                        help='timed epochs per model after one warm-up')
    parser.add_argument('--skip-tests', action='store_true')
    args = parser.parse_args(argv)

    import torch
    torch.set_num_threads(1 if args.dry_run else torch.get_num_threads())
    if not args.dry_run and not torch.cuda.is_available():
        print('gpu_check: no CUDA device (torch.cuda.is_available() is '
              'False); use --dry-run to run the same code on the CPU',
              file=sys.stderr)
        return 2
    status = 0 if args.skip_tests else run_cuda_tests()
    device = 'cpu' if args.dry_run else 'cuda'
    datasets = ['tiny'] if args.dry_run else ['lastfm2k', 'baby_sized']
    epochs = 1 if args.dry_run else args.epochs
    for dataset in datasets:
        time_models(dataset, device, epochs)
    return status


if __name__ == '__main__':
    sys.exit(main())
