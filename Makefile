# Two entry points: `make demo` and `make test`. Each creates .venv on first use.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && echo $$p && break; done)
VENV := .venv
BIN := $(VENV)/bin
export MLX_DISABLE_COMPILE ?= 1

.PHONY: demo test test-fast lint-imports bench clean check-python

check-python:
	@test -n "$(PYTHON)" || { echo "distill needs Python 3.11 or newer on PATH (python3.11, python3.12 or python3)"; exit 1; }

$(BIN)/python: | check-python
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Byte-compiled once, as pip leaves an installed wheel: an editable install otherwise compiles on
# every start where PYTHONDONTWRITEBYTECODE is set (as in some sandboxes and CI images).
COMPILE := $(BIN)/python -m compileall -q -x '/\.|/workspace/' .

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	@$(COMPILE) >/dev/null
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	@$(COMPILE) >/dev/null
	@touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/distill demo

# Both cores: test files are spread over two workers (the demo's tests, in one file, share one demo).
test: $(VENV)/.installed-dev
	$(BIN)/python tools/lint_imports.py
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --durations=15

# Under 30 s of pytest time on 2 cores: no model training, no real mlx_lm.server, no demo, no
# subprocess sweeps, no browser (those are marked slow). The slowest tests are printed.
test-fast: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -q -m "not slow" --durations=10

lint-imports: $(VENV)/.installed-dev
	$(BIN)/python tools/lint_imports.py

bench: $(VENV)/.installed-dev
	for b in bench/*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) workspace .pytest_cache
