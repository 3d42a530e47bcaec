# neurona — set-up, tests and demo.
#
#   make demo              create/refresh .venv, install neurona, run the viz demo (python -m viz
#                          demo: XOR training, graphs and plots in ./neurona-demo)
#   make test              same set-up (+ Graphviz and, as root, Chromium via apt), then the
#                          whole test suite (pytest)
#   WITH_TORCH=1 make test also installs torch==2.13.0 for the PyTorch reference tests
#   make lint              same set-up, then ruff check . (ruff comes from the dev extra); fails on
#                          any finding
#   make mutants           mutation testing with mutmut (not part of CI; README "Development"):
#                          GROUPS="graph checks" runs some groups only (tools/mutants.py lists them)
#   make results           notebook 11's full run of course 002's two studies (≈ 30 min on 2 cores;
#                          needs NEURONA_DATA) → notebooks/results/course002_*.json
#   make clean             remove .venv, caches and build artifacts
#
# Variables:
#   PYTHON=python3.X       interpreter for a new .venv (default: the first of python3.13 ...
#                          python3.10, python3 that runs and is >= 3.10)
#   PYTEST_ARGS            extra pytest arguments, e.g. make test PYTEST_ARGS="-m 'not slow'"
#   NUMBA_CACHE_DIR        where Numba caches compiled kernels (@njit(cache=True)), so a second
#                          process starts without recompiling; default .numba_cache/ in the repo.
#                          Set it in the environment to put the cache elsewhere.

VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PYTHON ?=
PYTEST_ARGS ?=
GROUPS ?=

export NUMBA_CACHE_DIR ?= $(CURDIR)/.numba_cache

GRAPHVIZ_HELP := Graphviz 'dot' not found: install it with 'sudo apt-get install graphviz' (Debian/Ubuntu) or from https://graphviz.org/download/

.PHONY: test demo lint clean setup graphviz chromium torch gallery mutants results results-activations \
        results-optimizers

test: setup graphviz chromium torch
	$(PY) -m pytest -q $(PYTEST_ARGS)

demo: setup graphviz
	$(PY) -m viz demo

# the course's pictures (forward and inverse, en and es) into docs/gallery/
gallery: setup graphviz
	$(PY) docs/gallery.py

# ---- internal set-up targets ---------------------------------------------------------------

# The shared set-up: a .venv with neurona installed in editable mode plus the extras the suite
# and the lint use: test (pytest, notebooks), dev (ruff), dask (the Dask LocalCluster test).
setup: $(STAMP)

# Create the virtual environment with the first Python >= 3.10 that actually runs (pyenv shims
# may exist for versions that are not selected; those fail when called, so each one is tried).
# On Debian/Ubuntu, `python3 -m venv` needs the pythonX.Y-venv package: installed via apt when
# running as root, otherwise the error says what to install.
$(PY):
	@py="$(PYTHON)"; \
	if [ -z "$$py" ]; then \
	    for c in python3.13 python3.12 python3.11 python3.10 python3; do \
	        if "$$c" -c 'import sys; sys.exit(sys.version_info < (3, 10))' >/dev/null 2>&1; then \
	            py=$$c; break; \
	        fi; \
	    done; \
	fi; \
	if [ -z "$$py" ]; then \
	    echo "error: neurona needs Python >= 3.10, but none of python3.13, python3.12," \
	         "python3.11, python3.10, python3 is one. Install one (e.g. 'sudo apt-get install" \
	         "python3 python3-venv') or pass PYTHON=/path/to/python3.X." >&2; \
	    exit 1; \
	elif ! "$$py" -c 'import sys; sys.exit(sys.version_info < (3, 10))' >/dev/null 2>&1; then \
	    echo "error: PYTHON=$$py is not a working Python >= 3.10." >&2; \
	    exit 1; \
	fi; \
	if ! "$$py" -c 'import ensurepip, venv' >/dev/null 2>&1; then \
	    pkg="$$(basename "$$py")-venv"; \
	    if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	        echo "Installing $$pkg with apt-get (needed by '$$py -m venv')"; \
	        apt-get update -qq || exit 1; \
	        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$$pkg" >/dev/null || exit 1; \
	    else \
	        echo "error: '$$py -m venv' is not available: install it with" \
	             "'sudo apt-get install $$pkg' (Debian/Ubuntu)." >&2; \
	        exit 1; \
	    fi; \
	fi; \
	version=$$("$$py" -c 'import platform; print(platform.python_version())'); \
	echo "Creating $(VENV) with $$py ($$version)"; \
	"$$py" -m venv $(VENV) || { rm -rf $(VENV); exit 1; }
	$(PY) -m pip install --quiet --upgrade pip

# (Re)install neurona and its dependencies whenever pyproject.toml changes, or when a top-level
# package's __init__.py appears or changes: the editable install maps the packages that exist at
# install time, so a package created after it would not be importable from examples/.
PACKAGE_INITS := $(wildcard $(addsuffix /__init__.py,autograd_core nn optim viz))

$(STAMP): pyproject.toml $(PACKAGE_INITS) | $(PY)
	@echo "Installing neurona and its dependencies into $(VENV) (the first time takes a few minutes)"
	$(PY) -m pip install --quiet -e '.[test,dev,dask]'
	@touch $@

# The `dot` binary renders the graphs drawn by viz. Missing it is not fatal: drawing still
# builds the DOT source, and the tests that render skip.
graphviz:
	@if ! command -v dot >/dev/null 2>&1; then \
	    if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	        echo "Installing Graphviz with apt-get"; \
	        { apt-get update -qq && \
	          DEBIAN_FRONTEND=noninteractive apt-get install -y -qq graphviz >/dev/null; } \
	            || echo "$(GRAPHVIZ_HELP)"; \
	    else \
	        echo "$(GRAPHVIZ_HELP)"; \
	    fi; \
	fi

# Chromium runs the lesson page's browser tests (tests/viz/test_lesson.py; they skip without it).
chromium:
	@if ! command -v chromium >/dev/null 2>&1; then \
	    if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	        echo "Installing Chromium with apt-get (for the browser tests)"; \
	        { apt-get update -qq && \
	          DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
	            || echo "Chromium could not be installed: the browser tests will skip"; \
	    else \
	        echo "Chromium not found: the browser tests will skip (sudo apt-get install chromium)"; \
	    fi; \
	fi

# PyTorch serves only as a reference in tests (they skip without it): installed on request only.
# The pin matters: on these machines pip finds a CPU build of 2.13.0 (for Python 3.11) locally,
# while an unpinned torch would pull a CUDA build of several GB.
torch: setup
ifeq ($(WITH_TORCH),1)
	@echo "Ensuring torch==2.13.0 for the PyTorch reference tests (WITH_TORCH=1)"
	$(PY) -m pip install --quiet torch==2.13.0
endif

# ---- other targets -------------------------------------------------------------------------

# Mutation testing: the dev extra (mutmut) on top of the test set-up, then every group of
# tools/mutants.py (each mutates its files and runs only the tests that cover them), at low
# priority. Copies and results go to build/mutants/.
$(VENV)/.dev-installed: pyproject.toml | $(STAMP)
	$(PY) -m pip install --quiet -e '.[test,dev,dask,mutants]'
	@touch $@

mutants: setup $(VENV)/.dev-installed
	nice -n 15 $(PY) tools/mutants.py $(GROUPS)

lint: setup
	$(PY) -m ruff check .

# Course 002's two tables, the full run behind notebook 11 (the two studies run side by side).
results:
	$(MAKE) -j2 results-activations results-optimizers

results-activations results-optimizers: setup
	nice -n 15 $(PY) -m notebooks.reproduce --study $(@:results-%=%)

clean:
	rm -rf $(VENV) .numba_cache .pytest_cache .hypothesis .ruff_cache build dist *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
	find . -name .ipynb_checkpoints -type d -prune -exec rm -rf {} +
