"""Executes the code blocks of the documentation: README.md and every page
under docs/ (tutorials included), so that what the pages show keeps working.

How a fenced block is treated depends on its language tag:

- ``python``: executed; the blocks of a page run in order in one namespace,
  with a scratch folder as the working directory.
- ``bash`` / ``sh`` / ``shell``: first every command is **checked** without
  running it: ``lirdrec ...`` is parsed by the real parser
  (:func:`lirdrec_pyg.cli.build_parser`, so a renamed flag fails);
  ``python SCRIPT ...`` / ``python -m MODULE ...``: every ``--option`` must
  appear in the script's ``--help``; ``make TARGET``: the Makefile has the
  target; ``pip install ...[EXTRA]``: setup.cfg has the extra. Then the block
  is **run** by bash (``set -euo pipefail``) in the page's scratch folder,
  with ``LIRDREC_MAX_EPOCHS=1`` capping every training (see
  :func:`lirdrec_pyg.train.config.cap_epochs`), one torch thread, and
  ``python`` / ``lirdrec`` meaning this interpreter; the repository's
  ``benchmarks/`` and ``configs/`` are linked into the scratch folder.
- ``text``, ``yaml``, ``json`` and the other data tags: not code (yaml and
  json must parse). A block without a tag is an error.

An HTML comment on the line right before the opening fence changes that:

- ``<!-- docs-test: slow: REASON -->``: checked, and run only by the slow
  suite (``make test-slow``), after the page's other blocks: a benchmark or
  another command that costs tens of seconds even with one epoch.
- ``<!-- docs-test: no-run: REASON -->``: checked, never run (installs
  something, needs a downloaded model, takes minutes). ``make`` and ``pip``
  commands are only allowed in such blocks.
- ``<!-- docs-test: skip: REASON -->``: neither checked nor run (a command
  this test cannot check, such as a download from a model hub).

The reason is required; the comment does not show on rendered pages.
"""
import contextlib
import configparser
import io
import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import pytest
import yaml

from lirdrec_pyg.features.requirements import MissingExtraError

ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = sorted((ROOT / 'docs' / 'tutorials').glob('*.md'))
PAGES = [ROOT / 'README.md', *sorted((ROOT / 'docs').rglob('*.md'))]

PYTHON_TAGS = {'python', 'py'}
SHELL_TAGS = {'bash', 'sh', 'shell'}
DATA_TAGS = {'text', 'txt', 'yaml', 'yml', 'json', 'toml', 'csv', 'tsv',
             'ini', 'cfg', 'diff', 'output'}
FENCE = re.compile(r'^(?P<indent>[ \t]*)```(?P<tag>[^`\n]*)\n(?P<body>.*?)'
                   r'^(?P=indent)```[ \t]*$', re.M | re.S)
MARKER = re.compile(r'<!--\s*docs-test:\s*(?P<mode>[\w-]+)\s*(?::\s*'
                    r'(?P<reason>.*?))?\s*-->')
SEPARATORS = {'&&', '||', ';', '|', '&'}
REDIRECT = re.compile(r'\d*(?:>>?|<|&>)(?:&\d+|\S*)')
ASSIGNMENT = re.compile(r'^[A-Za-z_]\w*=')
VARIABLE = re.compile(r'\$(?:\{(\w+)\}|(\w+))')
BLOCK_TIMEOUT = 900


@dataclass
class Block:
    page: Path
    line: int
    tag: str
    code: str
    mode: str = 'run'
    reason: str = ''

    @property
    def where(self) -> str:
        return f'{self.page.relative_to(ROOT)}:{self.line}'


def read_blocks(page: Path, text: Optional[str] = None) -> List[Block]:
    text = page.read_text() if text is None else text
    blocks = []
    for match in FENCE.finditer(text):
        line = text.count('\n', 0, match.start()) + 1
        before = text[:match.start()].rstrip().rsplit('\n', 1)[-1]
        indent = match.group('indent')
        body = '\n'.join(ln[len(indent):] if ln.startswith(indent) else ln
                         for ln in match.group('body').split('\n'))
        block = Block(page, line, match.group('tag').strip().lower(), body)
        marker = MARKER.search(before)
        if marker:
            block.mode = marker.group('mode')
            block.reason = (marker.group('reason') or '').strip()
        blocks.append(block)
    return blocks


# ---------------------------------------------------------------- checks --

def shell_commands(code: str) -> Iterator[List[str]]:
    r"""The simple commands of a shell block as token lists: continuation
    lines joined, comments, separators and redirections removed. Tokens are
    split with their quotes kept, so that a quoted :obj:`'|'` is an argument
    and not a pipe, then unquoted."""
    code = re.sub(r'\\\n', ' ', code)
    for line in code.splitlines():
        lexer = shlex.shlex(line, posix=False)
        lexer.whitespace_split = True
        lexer.commenters = '#'
        command: List[str] = []
        skip_next = False
        for raw in lexer:
            if skip_next:
                skip_next = False
            elif raw in SEPARATORS:
                if command:
                    yield command
                command = []
            elif REDIRECT.fullmatch(raw):
                # A bare operator takes the next token as its target.
                skip_next = not re.search(r'[^<>&\d]', raw) and \
                    not raw.endswith(('&1', '&2'))
            else:
                command.append(''.join(shlex.split(raw)) if raw else raw)
        if command:
            yield command


def expand(token: str, variables: Dict[str, str]) -> str:
    def value(match: re.Match) -> str:
        name = match.group(1) or match.group(2)
        return variables.get(name, os.environ.get(name, match.group(0)))
    return VARIABLE.sub(value, token)


def makefile_targets() -> set:
    text = (ROOT / 'Makefile').read_text()
    return set(re.findall(r'^([\w.-]+)\s*:(?!=)', text, re.M))


def setup_extras() -> set:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / 'setup.cfg')
    return set(cfg['options.extras_require'])


def check_lirdrec(args: List[str]) -> Optional[str]:
    from lirdrec_pyg.cli import build_parser
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), \
                contextlib.redirect_stdout(io.StringIO()):
            build_parser().parse_args(args)
    except SystemExit as e:
        if e.code not in (0, None):
            return err.getvalue().strip().splitlines()[-1]
    return None


_HELP: Dict[Tuple[str, ...], subprocess.CompletedProcess] = {}


def help_text(prefix: List[str]) -> subprocess.CompletedProcess:
    key = tuple(prefix)
    if key not in _HELP:
        _HELP[key] = subprocess.run(
            [sys.executable, *prefix, '--help'], cwd=ROOT, env=run_env(),
            capture_output=True, text=True, timeout=300)
    return _HELP[key]


def check_script(target: List[str], args: List[str]) -> Optional[str]:
    r""":obj:`target` is :obj:`[script]` or :obj:`['-m', module]`; every
    option of :obj:`args` must appear in the help of the (sub)command named
    by the leading positional arguments."""
    if target[0] != '-m' and not (ROOT / target[0]).is_file():
        return f'no script {target[0]} in the repository'
    positionals = []
    for arg in args:
        if arg.startswith('-'):
            break
        positionals.append(arg)
    result = help_text([*target, *positionals])
    if result.returncode != 0:
        return (f"'{' '.join(target + positionals)} --help' failed: "
                f"{(result.stderr or result.stdout).strip()[-300:]}")
    options = {a.split('=', 1)[0] for a in args if a.startswith('--')}
    missing = sorted(o for o in options if o not in result.stdout)
    if missing:
        return f'options not in its --help: {missing}'
    return None


def check_pip(args: List[str]) -> Optional[str]:
    if not args or args[0] != 'install':
        return f'only pip install is checked (got pip {" ".join(args)})'
    for i, arg in enumerate(args):
        if i > 0 and args[i - 1] in ('-c', '--constraint', '-r') \
                and not (ROOT / arg).is_file():
            return f'no file {arg} in the repository'
        for extras in re.findall(r'\[([^\]]+)\]', arg):
            unknown = set(extras.split(',')) - setup_extras()
            if unknown:
                return f'setup.cfg has no extra(s) {sorted(unknown)}'
    return None


def check_command(tokens: List[str], variables: Dict[str, str],
                  runs: bool) -> Optional[str]:
    r"""Checks one command without running it; returns an error or
    :obj:`None`. Assignments update :obj:`variables`."""
    while tokens and ASSIGNMENT.match(tokens[0]):
        name, value = tokens[0].split('=', 1)
        variables[name] = expand(value, variables)
        tokens = tokens[1:]
    if tokens and tokens[0] == 'export':
        for token in tokens[1:]:
            if '=' in token:
                name, value = token.split('=', 1)
                variables[name] = expand(value, variables)
        return None
    if not tokens:
        return None
    tokens = [expand(t, variables) for t in tokens]
    head, args = tokens[0], tokens[1:]
    if head in ('python', 'python3') and args[:2] == ['-m', 'pip']:
        head, args = 'pip', args[2:]
    if head == 'torchrun':  # torchrun [options] -m MODULE ARGS
        if '-m' not in args:
            return 'torchrun is checked only with -m MODULE'
        head, args = 'python', args[args.index('-m'):]
    if head == 'lirdrec':
        return check_lirdrec(args)
    if head in ('python', 'python3'):
        if args[:2] in (['-m', 'lirdrec_pyg.cli'], ['-m', 'lirdrec_pyg']):
            return check_lirdrec(args[2:])
        if args[:1] == ['-m'] and len(args) > 1:
            return check_script(args[:2], args[2:])
        if args and not args[0].startswith('-'):
            return check_script(args[:1], args[1:])
    if head == 'make':
        if runs:
            return 'make runs only in a no-run block (it installs)'
        missing = [t for t in args if not t.startswith('-') and '=' not in t
                   and t not in makefile_targets()]
        return f'the Makefile has no target(s) {missing}' if missing else None
    if head == 'pip':
        if runs:
            return 'pip runs only in a no-run block (it installs)'
        return check_pip(args)
    if runs:
        return None  # run by bash below, which checks it
    return (f"'{head}' cannot be checked without running it: run the block, "
            f"or mark it '<!-- docs-test: skip: REASON -->'")


def check_block(block: Block) -> List[str]:
    where = block.where
    if block.mode not in ('run', 'slow', 'no-run', 'skip'):
        return [f"{where}: unknown docs-test mode '{block.mode}' (slow, "
                f"no-run or skip)"]
    if block.mode != 'run' and not block.reason:
        return [f'{where}: docs-test {block.mode} needs a reason: '
                f'<!-- docs-test: {block.mode}: REASON -->']
    tag = block.tag
    if tag not in PYTHON_TAGS | SHELL_TAGS | DATA_TAGS:
        return [f"{where}: code block tagged '{tag}'; tag it python, bash "
                f"or one of {sorted(DATA_TAGS)} (text for diagrams)"]
    if block.mode == 'skip':
        return []
    errors = []
    if tag in PYTHON_TAGS:
        try:
            compile(block.code, where, 'exec')
        except SyntaxError as e:
            errors.append(f'{where}: {e}')
    elif tag in SHELL_TAGS:
        variables: Dict[str, str] = {}
        for tokens in shell_commands(block.code):
            error = check_command(tokens, variables,
                                  block.mode in ('run', 'slow'))
            if error:
                errors.append(f"{where}: '{' '.join(tokens)}': {error}")
    elif tag in ('yaml', 'yml'):
        try:
            yaml.safe_load(block.code)
        except yaml.YAMLError as e:
            errors.append(f'{where}: not valid YAML: {e}')
    elif tag == 'json':
        try:
            json.loads(block.code)
        except ValueError as e:
            errors.append(f'{where}: not valid JSON: {e}')
    return errors


# ------------------------------------------------------------------ runs --

def run_env() -> Dict[str, str]:
    from lirdrec_pyg.data.datasets import data_root
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        [str(ROOT)] + [p for p in [env.get('PYTHONPATH')] if p])
    env.setdefault('LIRDREC_MAX_EPOCHS', '1')
    env.setdefault('LIRDREC_DATA', str(data_root()))
    env['LIRDREC_THREADS'] = '1'
    env['MPLBACKEND'] = 'Agg'
    env['HF_HUB_OFFLINE'] = env['TRANSFORMERS_OFFLINE'] = '1'
    env['DOCS_TEST_PYTHON'] = sys.executable
    return env


PRELUDE = '''set -euo pipefail
python() { "$DOCS_TEST_PYTHON" "$@"; }
python3() { "$DOCS_TEST_PYTHON" "$@"; }
lirdrec() { "$DOCS_TEST_PYTHON" -m lirdrec_pyg.cli "$@"; }
'''


def run_shell(block: Block, cwd: Path) -> Optional[str]:
    result = subprocess.run(['bash', '-c', PRELUDE + block.code], cwd=cwd,
                            env=run_env(), capture_output=True, text=True,
                            timeout=BLOCK_TIMEOUT, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        return (f'{block.where}: the block exited with {result.returncode}'
                f'\n--- stdout ---\n{result.stdout[-3000:]}'
                f'\n--- stderr ---\n{result.stderr[-3000:]}')
    return None


def scratch_folder(tmp_path: Path) -> Path:
    for name in ('benchmarks', 'configs'):
        (tmp_path / name).symlink_to(ROOT / name, target_is_directory=True)
    return tmp_path


def pages_with(modes: Tuple[str, ...]) -> List[Path]:
    return [p for p in PAGES if any(b.tag in PYTHON_TAGS | SHELL_TAGS
                                    and b.mode in modes
                                    for b in read_blocks(p))]


# ----------------------------------------------------------------- tests --

def test_there_are_tutorials():
    assert len(TUTORIALS) >= 5


@pytest.mark.parametrize('page', PAGES,
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_code_blocks_are_tagged_and_check(page):
    errors = [e for block in read_blocks(page) for e in check_block(block)]
    assert not errors, '\n'.join(errors)


def run_page(page: Path, modes: Tuple[str, ...], tmp_path: Path,
             monkeypatch: pytest.MonkeyPatch) -> None:
    cwd = scratch_folder(tmp_path)
    monkeypatch.chdir(cwd)
    for key, value in run_env().items():
        if key.startswith('LIRDREC_') or key == 'MPLBACKEND':
            monkeypatch.setenv(key, value)
    namespace = {'__name__': f'docs_{page.stem}'}
    for block in read_blocks(page):
        if block.mode not in modes:
            continue
        if block.tag in PYTHON_TAGS:
            try:
                exec(compile(block.code, block.where, 'exec'), namespace)
            except MissingExtraError as e:  # like tests/features
                pytest.skip(str(e))
        elif block.tag in SHELL_TAGS:
            error = run_shell(block, cwd)
            assert error is None, error


# A page runs several trainings and commands: more than the default limit
# per test on a loaded machine, still a bound on a hanging command.
@pytest.mark.timeout(1800)
@pytest.mark.parametrize('page', pages_with(('run', )),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_page_runs(page, tmp_path, monkeypatch, capsys):
    run_page(page, ('run', ), tmp_path, monkeypatch)


@pytest.mark.slow
@pytest.mark.timeout(3600)
@pytest.mark.parametrize('page', pages_with(('slow', )),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_page_runs_with_slow_blocks(page, tmp_path, monkeypatch, capsys):
    run_page(page, ('run', 'slow'), tmp_path, monkeypatch)


def test_checks_catch_planted_mistakes(tmp_path):
    # The checks above can fail: each planted mistake must be reported.
    page = tmp_path / 'page.md'
    text = '\n'.join([
        '```bash', 'lirdrec train --dataset synthetic --model lirdrec '
        '--out runs/x', '```',
        '```bash', 'lirdrec train --datset synthetic --model lirdrec '
        '--out runs/x', '```',
        '<!-- docs-test: no-run: long -->', '```bash',
        'make no-such-target', '```',
        '<!-- docs-test: no-run: installs -->', '```bash',
        "pip install -c constraints.txt -e '.[no_such_extra]'", '```',
        '<!-- docs-test: no-run: needs a model -->', '```bash',
        'D=$HOME/x', 'hf download some/model --local-dir $D', '```',
        '<!-- docs-test: no-run: long -->', '```bash',
        'python benchmarks/run.py --no-such-option 3', '```',
        '```bash', 'make test', '```',
        '<!-- docs-test: skip -->', '```bash', 'anything', '```',
        '```', 'untagged', '```',
        '```python', 'def broken(:', '```',
        '```yaml', 'a: [1, 2', '```',
        '<!-- docs-test: skip: a download -->', '```bash', 'hf x', '```',
    ]) + '\n'
    page.write_text(text)
    blocks = read_blocks(page, text)
    assert [b.mode for b in blocks] == ['run', 'run', 'no-run', 'no-run',
                                        'no-run', 'no-run', 'run', 'skip',
                                        'run', 'run', 'run', 'skip']

    def errors(block):
        block.page = ROOT / 'planted.md'
        return check_block(block)

    assert errors(blocks[0]) == []
    assert 'datset' in errors(blocks[1])[0] or 'required' in \
        errors(blocks[1])[0]
    assert 'no-such-target' in errors(blocks[2])[0]
    assert 'no_such_extra' in errors(blocks[3])[0]
    assert "'hf' cannot be checked" in errors(blocks[4])[0]
    assert '--no-such-option' in errors(blocks[5])[0]
    assert 'no-run block' in errors(blocks[6])[0]
    assert 'needs a reason' in errors(blocks[7])[0]
    assert 'tag it' in errors(blocks[8])[0]
    assert errors(blocks[9]) and errors(blocks[10])
    assert errors(blocks[11]) == []


def test_shell_parsing_and_runner(tmp_path):
    code = ('A=1 lirdrec summary --dataset synthetic  # a comment\n'
            'python benchmarks/run.py \\\n    --seeds 0 1 > out.txt 2>&1 '
            '&& echo done\n')
    assert list(shell_commands(code)) == [
        ['A=1', 'lirdrec', 'summary', '--dataset', 'synthetic'],
        ['python', 'benchmarks/run.py', '--seeds', '0', '1'],
        ['echo', 'done']]
    assert list(shell_commands("x --replace '|' ', ' 2>err.txt | wc -l\n"
                               "torchrun --nnodes 2 -m lirdrec_pyg train >> "
                               "log")) == [
        ['x', '--replace', '|', ', '], ['wc', '-l'],
        ['torchrun', '--nnodes', '2', '-m', 'lirdrec_pyg', 'train']]
    assert 'required' in check_command(
        ['torchrun', '--nproc_per_node', '2', '-m', 'lirdrec_pyg', 'train'],
        {}, runs=False)
    assert expand('$D/x ${D}', {'D': 'y'}) == 'y/x y'
    failing = Block(ROOT / 'planted.md', 1, 'bash', 'true\nfalse\ntrue\n')
    assert 'exited with 1' in run_shell(failing, tmp_path)
    # The runner's python and lirdrec are this interpreter and this package.
    ok = Block(ROOT / 'planted.md', 1, 'bash',
               'python -c "import lirdrec_pyg, sys; print(sys.executable)" '
               '> exe.txt\nlirdrec datasets > datasets.txt\n')
    assert run_shell(ok, tmp_path) is None
    assert (tmp_path / 'exe.txt').read_text().strip() == sys.executable
    assert 'synthetic' in (tmp_path / 'datasets.txt').read_text()


LINK = re.compile(r'\]\(([^)#\s]+)(?:#[^)]*)?\)')


def test_relative_links_and_images_exist():
    missing = []
    for page in PAGES:
        for target in LINK.findall(page.read_text()):
            if '://' in target or target.startswith('mailto:'):
                continue
            if not (page.parent / target).exists():
                missing.append(f'{page.relative_to(ROOT)} -> {target}')
    assert not missing, missing
