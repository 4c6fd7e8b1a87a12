# maillog — one command to set up and run on demo data, one to test.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
BIN     = $(VENV)/bin
DEMO_DB ?= demo/maillog-demo.db

.PHONY: install run demo test test-fast lint format bench completions clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

install: $(VENV)/.installed

## Generate demo data, import it into a fresh demo database, open the main view.
run: demo
	$(BIN)/maillog --db $(DEMO_DB) tui || $(BIN)/maillog --db $(DEMO_DB) tail -n 30

demo: install
	rm -rf demo && mkdir -p demo
	$(BIN)/maillog demo --out demo/data
	$(BIN)/maillog --db $(DEMO_DB) import demo/data/*

## Every test, the slow ones (real processes, kills, big files) included.
test: install
	$(PY) -m pytest -q -p no:cacheprovider

## The quick loop while working: skips tests marked slow.
test-fast: install
	$(PY) -m pytest -q -p no:cacheprovider -m "not slow"

lint: install
	$(BIN)/ruff check maillog_cli tests benchmarks
	$(BIN)/ruff format --check maillog_cli tests benchmarks
	$(BIN)/mypy

format: install
	$(BIN)/ruff format maillog_cli tests benchmarks
	$(BIN)/ruff check --fix maillog_cli tests benchmarks

bench: install
	$(PY) benchmarks/run_all.py

completions: install
	$(PY) -m maillog_cli.completion_scripts completions

clean:
	rm -rf $(VENV) demo benchmarks/out .pytest_cache
