# Everything runs in a local virtual environment (.venv) built from Python 3.11.
# torch is pinned through constraints.txt so that no install pulls a CUDA build.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
STAMP := $(VENV)/.installed

.PHONY: install install-ext demo test test-slow bench docs clean

$(STAMP): setup.cfg pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -c constraints.txt torch==2.13.0
	$(PIP) install -q -c constraints.txt -e ".[test,plots,features,distributed,ann]"
	# The compiled SpMM kernel builds here, once per install (runs never compile it).
	$(BIN)/lirdrec build-kernels >/dev/null || echo "note: the compiled SpMM kernel did not build; torch's kernels are used"
	touch $(STAMP)

install: $(STAMP)

# torch-scatter / torch-sparse (SparseTensor inputs) exist on PyPI only as sources:
# they compile against the installed torch (about 20 minutes once; pip caches the wheels).
install-ext: $(STAMP)
	$(PIP) install -q -c constraints.txt --no-build-isolation "torch-scatter>=2.1" "torch-sparse>=0.6.17"

demo: $(STAMP)
	$(BIN)/python benchmarks/run.py --suite quick --threads 1

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

# The API reference, generated from the docstrings by Sphinx (docs/api/conf.py)
# with warnings as errors: docs/_build/html/index.html. autosummary writes one
# page per module into docs/api/generated, rebuilt from scratch every time.
$(VENV)/.installed-docs: $(STAMP)
	$(PIP) install -q -c constraints.txt -e ".[docs]"
	touch $@

docs: $(VENV)/.installed-docs
	rm -rf docs/api/generated
	$(BIN)/python -m sphinx -E -W --keep-going -q -b html docs/api docs/_build/html
	@echo "API reference: docs/_build/html/index.html"

clean:
	rm -rf $(VENV) build *.egg-info docs/_build docs/api/generated
