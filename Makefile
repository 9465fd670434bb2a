# Relaydesk developer interface: `make run` and `make test` are all a newcomer needs.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
# Prefer the Python that .python-version selects (pyenv), else any 3.13/3.12 on PATH.
PYTHON ?= $(shell command -v python3.13 || command -v python3.12 || command -v python3)
HOST ?= 127.0.0.1
PORT ?= 8000
STAMP := $(VENV)/.installed

.PHONY: run test lint fmt typecheck bench install migrate demo test-sqlite test-postgres lock clean

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 12), "Relaydesk needs Python 3.12 or newer, found " + sys.version.split()[0]' 
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "==> installing dependencies from requirements.lock"
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@$(BIN)/python -m pip install --quiet -r requirements.lock
	@$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

install: $(STAMP)

migrate: install
	@$(BIN)/relaydesk migrate --no-input -v 0

demo: migrate
	@$(BIN)/relaydesk demo --if-empty

run: demo
	@echo "==> serving Relaydesk on http://$(HOST):$(PORT)/ (Ctrl-C stops)"
	@HOST=$(HOST) PORT=$(PORT) $(BIN)/relaydesk serve

lint: install
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts

fmt: install
	$(BIN)/ruff format src tests benchmarks scripts
	$(BIN)/ruff check --fix src tests benchmarks scripts

typecheck: install
	$(BIN)/mypy src tests benchmarks scripts

# The whole suite on SQLite, then again on PostgreSQL when DATABASE_URL points at one.
test: lint typecheck test-sqlite test-postgres

test-sqlite: install
	@echo "==> test suite on SQLite"
	env -u DATABASE_URL $(BIN)/pytest

test-postgres: install
	@if [[ "$$DATABASE_URL" == postgres* ]]; then \
		echo "==> test suite on PostgreSQL ($${DATABASE_URL#*@})"; \
		$(BIN)/pytest -m "not browser"; \
	else echo "==> DATABASE_URL is not PostgreSQL: skipping the PostgreSQL run"; fi

bench: install
	@for script in benchmarks/[!_]*.py; do echo "==> $$script"; $(BIN)/python $$script || exit 1; done

# Re-resolve the lock file after changing dependencies in pyproject.toml.
lock:
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --universal --python-version 3.12 --no-header -o requirements.lock

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
