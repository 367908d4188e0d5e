# The two commands of the README's quick start are `make demo` and `make test`; everything
# else here is what they need. Both set up the Python environment on first use.

VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-12)

.PHONY: demo test lint unit integration e2e build venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,dev]'
	rm -f $(VENV)/.installed-*
	touch $@

# The main job: a real local cluster, and a release happening on it, live.
demo: $(STAMP)
	$(VENV)/bin/canary demo

# Every check CI runs: lint, types, layering, then all tests (the sandbox starts if needed;
# the end-to-end tests run several at once: tests/suite.py).
test: lint build
	$(PY) -m tests.suite

lint: $(STAMP)
	$(VENV)/bin/python -m canary.api.crdgen --check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# Build (or find in ~/.cache/canary) the pinned sandbox binaries.
build: $(STAMP)
	$(VENV)/bin/canary sandbox build

unit: $(STAMP)
	$(PY) -m pytest tests/unit

integration: build
	$(PY) -m pytest tests/integration

e2e: build
	$(PY) -m pytest tests/e2e

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
