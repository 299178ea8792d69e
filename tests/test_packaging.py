r"""The installed package, not the checkout: a wheel built from the checkout
and installed into a fresh virtual environment resolves the shipped configs
(model yaml and dataset overrides) exactly as the checkout does."""
import json
import os
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = textwrap.dedent('''
    import json, sys
    import lirdrec_pyg
    from lirdrec_pyg.data import data_root
    from lirdrec_pyg.train.config import config_root, load_config
    out = {'package': lirdrec_pyg.__file__, 'configs': str(config_root()),
           'data_root': str(data_root())}
    for model, dataset in (('lirdrec', 'lastfm2k'), ('lightgcn', 'lastfm2k'),
                           ('lirdrec', 'synthetic'), ('mgcn', None)):
        cfg = load_config(model, dataset)
        out[f'{model}/{dataset}'] = {s: cfg[s] for s in ('model', 'train',
                                                          'data')}
        out[f'{model}/{dataset}']['dataset_config'] = cfg['run'][
            'dataset_config']
    print(json.dumps(out))
''')


def probe(python, cwd, env):
    done = subprocess.run([str(python), '-c', PROBE], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_wheel_resolves_configs_like_the_checkout(tmp_path):
    wheels = tmp_path / 'wheels'
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps',
                    '--no-build-isolation', '-q', '-w', str(wheels),
                    str(ROOT)], check=True, timeout=300,
                   capture_output=True)
    wheel, = wheels.glob('lirdrec_pyg-*.whl')
    venv = tmp_path / 'venv'
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip',
                    str(venv)], check=True, timeout=120)
    python = venv / 'bin' / 'python'
    site = Path(subprocess.run(
        [str(python), '-c', 'import sysconfig; '
         'print(sysconfig.get_paths()["purelib"])'], check=True,
        capture_output=True, text=True).stdout.strip())
    # The dependencies (torch, PyG, ...) come from this environment's
    # site-packages, seen through a plain path entry (so this environment's
    # editable install of the checkout is not activated); the package itself
    # comes from the wheel.
    (site / 'deps.pth').write_text(sysconfig.get_paths()['purelib'] + '\n')
    subprocess.run([sys.executable, '-m', 'pip', 'install', '--no-deps',
                    '-q', '--target', str(site), str(wheel)], check=True,
                   timeout=300, capture_output=True)

    env = {k: v for k, v in os.environ.items()
           if k not in ('PYTHONPATH', 'LIRDREC_DATA')}
    env['HOME'] = str(tmp_path / 'home')
    installed = probe(python, tmp_path, env)
    assert installed['package'].startswith(str(site))
    assert installed['configs'].startswith(str(site))
    assert installed['data_root'] == str(tmp_path / 'home' / 'lirdrec_data')

    env['PYTHONPATH'] = str(ROOT)
    checkout = probe(sys.executable, tmp_path, env)
    assert checkout['package'].startswith(str(ROOT))
    for key in ('lirdrec/lastfm2k', 'lightgcn/lastfm2k', 'lirdrec/synthetic',
                'mgcn/None'):
        assert installed[key] == checkout[key], key
    # The shipped files were read, not code defaults.
    assert installed['lightgcn/lastfm2k']['model']['num_layers'] == 1
    assert installed['lirdrec/lastfm2k']['train']['lr'] == 1e-4
    assert installed['lirdrec/synthetic']['train']['lr'] == 1e-3
    assert installed['lirdrec/synthetic']['data']['num_users'] == 2000
    assert installed['lirdrec/lastfm2k']['dataset_config'] == \
        'configs/datasets/lastfm2k.yaml'
