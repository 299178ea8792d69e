"""Sphinx configuration of the API reference (``make docs``).

Set up as PyG's ``docs/source/conf.py``: autodoc reads the docstrings,
napoleon parses their Google-style ``Args:`` / ``Returns:`` sections,
mathjax renders ``.. math::`` blocks, and autosummary writes one page per
module of the package (recursively, so new modules appear without editing
these files).
"""
import datetime
import os.path as osp
import sys

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))

import lirdrec_pyg  # noqa: E402

project = 'lirdrec_pyg'
author = 'lirdrec_pyg contributors'
version = release = lirdrec_pyg.__version__
copyright = f'{datetime.date.today().year}, {author}'

extensions = [
    'sphinx.ext.autodoc',
    'sphinx.ext.autosummary',
    'sphinx.ext.mathjax',
    'sphinx.ext.napoleon',
    'sphinx.ext.viewcode',
]

templates_path = ['_templates']
exclude_patterns = ['_build']
html_theme = 'alabaster'

autosummary_generate = True
# Submodules are found by walking the package, not from `__all__`.
autosummary_ignore_module_all = True
add_module_names = False
autodoc_member_order = 'bysource'
autodoc_typehints = 'description'
# A method without a docstring shows none, rather than e.g. the generic text
# of torch.nn.Module.forward.
autodoc_inherit_docstrings = False
# Optional dependencies that are imported lazily at run time are not needed
# to document their modules.
autodoc_mock_imports = ['torch_sparse', 'torch_scatter']
napoleon_google_docstring = True
napoleon_numpy_docstring = False
# 'Attributes:' as fields of the class, not as attribute entries that
# duplicate those autodoc writes for NamedTuple and dataclass fields.
napoleon_use_ivar = True
