"""Executes the tutorials in docs/tutorials: every ```python block, in order,
in one namespace per tutorial."""
import re
from pathlib import Path

import pytest

TUTORIALS = sorted((Path(__file__).resolve().parents[1] / 'docs' /
                    'tutorials').glob('*.md'))
BLOCK = re.compile(r'```python\n(.*?)```', re.S)


def test_there_are_tutorials():
    assert len(TUTORIALS) >= 3


@pytest.mark.parametrize('path', TUTORIALS, ids=lambda p: p.stem)
def test_tutorial_runs(path, capsys):
    blocks = BLOCK.findall(path.read_text())
    assert blocks, f'{path.name} has no python block'
    namespace = {'__name__': f'tutorial_{path.stem}'}
    for i, code in enumerate(blocks):
        exec(compile(code, f'{path.name}[block {i}]', 'exec'), namespace)


ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r'\]\(([^)#\s]+)(?:#[^)]*)?\)')


def test_relative_links_and_images_exist():
    pages = [ROOT / 'README.md', *sorted((ROOT / 'docs').rglob('*.md'))]
    missing = []
    for page in pages:
        for target in LINK.findall(page.read_text()):
            if '://' in target or target.startswith('mailto:'):
                continue
            if not (page.parent / target).exists():
                missing.append(f'{page.relative_to(ROOT)} -> {target}')
    assert not missing, missing
