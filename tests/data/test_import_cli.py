import shlex

from lirdrec_pyg.cli import main
from lirdrec_pyg.data import read_mmrec
from lirdrec_pyg.data.importer import read_id_map
from tests.data.test_importer import planted_rows, write_table


def test_data_import_command(tmp_path, capsys):
    rows = planted_rows(seed=1)
    path = write_table(tmp_path / 'log.tsv', ['who', 'what', 'when', 'r'],
                       rows, sep='\t')
    out = tmp_path / 'mine'
    args = ['data', 'import', str(path), '--out', str(out), '--user-col',
            'who', '--item-col', 'what', '--time-col', 'when',
            '--rating-col', 'r', '--min-rating', '2', '--k-core', '3', '2',
            '--split', 'temporal', '--ratios', '0.6', '0.2', '0.2']
    assert main(args) == 0
    printed = capsys.readouterr().out
    positive = sum(r[3] >= 2 for r in rows)
    assert 'rating < 2 ' in printed
    assert 'split temporal (0.6/0.2/0.2)' in printed
    assert f'train with: lirdrec train --dataset {out}' in printed
    data = read_mmrec(out)
    assert data.name == 'mine'
    edges = sum(data['user', 'interacts', 'item'][k].size(1) for k in (
        'edge_index', 'val_edge_index', 'test_edge_index'))
    assert edges <= positive and f'interactions {edges:,}' in printed
    assert read_id_map(out / 'user_map.tsv')[0] == 'user_000'

    # A second import into the same folder is refused in one line...
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("lirdrec: error: Output folder '") and \
        err.endswith("is not empty; choose another folder or pass "
                     "--overwrite\n")
    # ... unless --overwrite.
    assert main(args + ['--overwrite', '--split', 'random']) == 0


def test_data_import_bad_input_is_one_line(tmp_path, capsys):
    path = write_table(tmp_path / 'log.csv', ['u', 'i', 't'],
                       [('a', 'x', 1), ('b', 'y', 'later')])
    code = main(['data', 'import', str(path), '--out', str(tmp_path / 'o'),
                 '--user-col', 'u', '--item-col', 'i', '--time-col', 't'])
    assert code == 2
    assert capsys.readouterr().err == (
        "lirdrec: error: log.csv, line 3: column 't' (timestamp) holds "
        "'later', expected a number (e.g. Unix seconds) or an ISO 8601 "
        "date\n")
    code = main(['data', 'import', str(path), '--out', str(tmp_path / 'o'),
                 '--user-col', 'u', '--item-col', 'i', '--item-text-cols',
                 'title'])
    assert code == 2
    assert 'need --item-text FILE' in capsys.readouterr().err
    assert not (tmp_path / 'o').exists()


def test_the_suggested_command_trains_on_a_small_catalogue(tmp_path, capsys,
                                                           monkeypatch):
    # 20 items: the default cut-offs (up to 50) do not fit.
    path = write_table(tmp_path / 'log.csv', ['u', 'i', 't', 'r'],
                       planted_rows(num_items=20))
    monkeypatch.chdir(tmp_path)
    assert main(['data', 'import', str(path), '--out', 'shop',
                 '--user-col', 'u', '--item-col', 'i']) == 0
    line = [s for s in capsys.readouterr().out.splitlines()
            if s.startswith('train with: ')][0]
    command = shlex.split(line[len('train with: '):])
    assert command[0] == 'lirdrec'
    # Cut-offs up to half the catalogue, selection at a quarter: a cut-off of
    # 20 would rank every candidate and give Recall 1 from the first epoch.
    assert "train.ks=[5, 10]" in command
    assert 'train.valid_metric=Recall@5' in command
    assert main(command[1:] + ['--no-progress', '--set',
                               'train.epochs=1']) == 0
    assert (tmp_path / 'runs' / 'shop_lightgcn' / 'results.json').exists()


def test_suggested_command_narrows_the_cut_offs_only_when_needed():
    from pathlib import Path

    from lirdrec_pyg.data.import_cli import suggested_train_command
    big = suggested_train_command(Path('d'), 'bpr', 100)
    assert big == 'lirdrec train --dataset d --model bpr --out runs/d_bpr'
    # 50 is not at most half of 60, 20 is not at most a quarter of it
    assert suggested_train_command(Path('d'), 'bpr', 60).endswith(
        "--set 'train.ks=[5, 10, 20]' train.valid_metric=Recall@10")
    assert suggested_train_command(Path('d'), 'bpr', 12).endswith(
        "--set 'train.ks=[5]' train.valid_metric=Recall@5")
    assert suggested_train_command(Path('d'), 'bpr', 3).endswith(
        "--set 'train.ks=[1]' train.valid_metric=Recall@1")
