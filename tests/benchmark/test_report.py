import csv
import io
import json

import numpy as np
import pytest

from lirdrec_pyg.benchmark.cli import main
from lirdrec_pyg.benchmark.report import (
    format_csv,
    format_markdown,
    format_table,
)
from lirdrec_pyg.train.experiment import load_per_user


def _summary(rows):
    return {'metric': 'Recall@20', 'entries': rows}


def _row(model, r20, std=0.01, outcome=None):
    metrics = {m: {'mean': r20, 'std': std}
               for m in ('Recall@10', 'Recall@20', 'NDCG@10', 'NDCG@20')}
    row = {'dataset': 'd', 'model': model, 'status': 'ok', 'detail': '',
           'seeds_done': [0, 1], 'metrics': metrics,
           'valid': {'mean': r20, 'std': 0}, 'best_epoch': 3,
           'train_seconds': 1.0, 'cached': 0, 'cells': []}
    if outcome:
        row['significance'] = {'Recall@20': {'outcome': outcome, 'p': 0.01,
                                             'p_holm': 0.02}}
    return row


def test_table_bolds_the_best_and_marks_significance():
    table = format_table(_summary([
        _row('lirdrec', 0.30), _row('a', 0.25, outcome='win'),
        _row('b', 0.35, outcome='loss'), _row('c', 0.29, outcome='tie')]),
        'd')
    lines = {line.split(' | ')[0][2:]: line for line in table.splitlines()}
    assert '**0.3500 ± 0.0100** ‡' in lines['b']
    assert '0.2500 ± 0.0100 †' in lines['a']
    assert '**' not in lines['lirdrec'] and '**' not in lines['a']
    assert '†' not in lines['c'] and '‡' not in lines['c']


def test_one_seed_shows_no_spread_and_a_not_applicable_row_no_seeds():
    one = _row('a', 0.25)
    for stats in one['metrics'].values():
        stats['n'] = 1
    na = {'dataset': 'd', 'model': 'b', 'status': 'n/a', 'cells': [],
          'detail': 'bpr cannot run in train.mode=sampled', 'seeds_done': []}
    lines = format_table(_summary([_row('lirdrec', 0.30), one, na]),
                         'd').splitlines()
    assert '0.2500 |' in lines[3] and '0.2500 ±' not in lines[3]
    assert '0.3000 ± 0.0100' in lines[2]
    assert lines[4].startswith('| b | - |') and 'n/a: bpr' in lines[4]


def test_markers_are_explained_only_when_the_target_ran():
    summary = {'suite': 's', 'description': '', 'command': 'c',
               'section': 'test', 'metric': 'Recall@20', 'seeds': [0],
               'target': 'lirdrec', 'test': 'Wilcoxon', 'alpha': 0.05,
               'executor': 'local', 'threads_per_process': 1,
               'seconds': 1.0, 'interrupted': False,
               'entries': [_row('a', 0.2)]}
    assert 'significantly' not in format_markdown(summary)
    summary['entries'].append(_row('lirdrec', 0.3))
    assert 'lirdrec is significantly better' in format_markdown(summary)


def test_a_suite_changed_on_the_command_line_says_so():
    from lirdrec_pyg.benchmark.cli import _suite, build_parser

    args = build_parser().parse_args(['--suite', 'quick', '--models', 'bpr',
                                      '--seeds', '3'])
    text = _suite(args).description
    assert text.endswith('Changed on the command line: --models bpr, '
                         '--seeds 3.')
    unchanged = _suite(build_parser().parse_args(['--suite', 'quick']))
    assert 'Changed' not in unchanged.description


def test_csv_has_one_row_per_model_with_p_values():
    text = format_csv(_summary([_row('lirdrec', 0.3),
                                _row('a', 0.2, outcome='win')]))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r['model'] for r in rows] == ['lirdrec', 'a']
    assert rows[1]['Recall@20_vs_target'] == 'win'
    assert float(rows[1]['Recall@20_mean']) == 0.2
    assert float(rows[1]['Recall@20_std']) == 0.01


def test_csv_leaves_the_spread_of_one_seed_empty():
    one = _row('lirdrec', 0.3, std=0.0)
    one['seeds_done'] = [0]
    (row, ) = csv.DictReader(io.StringIO(format_csv(_summary([one]))))
    assert float(row['Recall@20_mean']) == 0.3
    assert row['Recall@20_std'] == '' and row['valid_std'] == ''


def test_command_line_writes_every_output(tmp_path, capsys):
    from tests.benchmark.conftest import TINY
    out = tmp_path / 'out'
    code = main(['--datasets', 'synthetic', '--models', 'lirdrec',
                 'popularity', '--seeds', '0', '1', '--set', *TINY,
                 '--out', str(out), '--no-progress'])
    assert code == 0
    for name in ('summary.md', 'summary.csv', 'summary.json',
                 'metrics.png', 'valid_curves_synthetic.png'):
        assert (out / name).stat().st_size > 0, name
    summary = json.loads((out / 'summary.json').read_text())
    lird, pop = summary['entries']
    assert summary['threads_per_process'] == 1 and summary['jobs'] == 1
    assert len(lird['cells']) == 2 and lird['config']['model']
    for cell in lird['cells']:
        assert {'valid', 'test', 'seconds', 'versions',
                'status'} <= set(cell)
        values = load_per_user(f"{cell['dir']}/per_user_test.npz")
        assert np.mean(values['Recall@20']) == pytest.approx(
            cell['test']['Recall@20'])
    assert set(pop['significance']) == {'Recall@20', 'NDCG@20'}
    assert 'lirdrec' in capsys.readouterr().out

    # another command must not overwrite this summary
    assert main(['--datasets', 'synthetic', '--models', 'popularity',
                 '--set', *TINY, '--out', str(out)]) == 2
    assert 'another command' in capsys.readouterr().err


def test_usage_errors_exit_2_before_anything_runs(tmp_path, capsys):
    assert main(['--datasets', 'synthetic', '--models', 'bpr', 'popularity',
                 '--set', 'num_layers=2', '--out', str(tmp_path)]) == 2
    assert "no selected model has the key 'num_layers'" in \
        capsys.readouterr().err
    assert main(['--models', 'bpr']) == 2
    assert not any(tmp_path.iterdir())


def test_different_commands_get_different_default_folders():
    from lirdrec_pyg.benchmark.cli import _suite, build_parser, default_out

    def out(*argv):
        args = build_parser().parse_args(list(argv))
        suite = _suite(args)
        return default_out(args, suite, args.grid or suite.tune)

    assert str(out('--suite', 'quick')) == 'results/quick'
    assert str(out('--suite', 'lastfm2k_grid')) == 'results/lastfm2k_grid'
    folders = {out('--suite', 'quick', '--set', 'train.epochs=5'),
               out('--suite', 'quick', '--set', 'train.epochs=6'),
               out('--suite', 'quick', '--seeds', '3'),
               out('--suite', 'quick', '--grid'),
               out('--datasets', 'synthetic', '--models', 'bpr'),
               out('--datasets', 'synthetic', '--models', 'lightgcn')}
    assert len(folders) == 6
    assert out('--suite', 'quick', '--set', 'train.epochs=5') == \
        out('--suite', 'quick', '--set', 'train.epochs=5')
