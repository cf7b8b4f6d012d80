# The two commands a fresh machine needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
# Test-only npm packages (anvil, solc, OpenZeppelin): reinstalled when the lockfile changes.
NPM_STAMP := node_modules/.installed-$(shell cat package-lock.json | sha1sum | cut -c1-12)

.PHONY: install npm-install chain run test lint format check bench migration upgrade clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Re-install whenever pyproject.toml changes.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

# Without node/npm this does nothing: the chain tests then skip locally (and fail under CI=true).
$(NPM_STAMP): package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --no-audit --no-fund --loglevel=error && rm -f node_modules/.installed-* && touch $(NPM_STAMP); \
	else \
		echo "npm not found: the chain tests will skip (CI=true fails them)"; \
	fi

npm-install: $(NPM_STAMP)

# A local node with a demo ERC-20 and ERC-721, for trying gated rooms (see README).
chain: install npm-install
	$(BIN)/python -m tests.support.dev_chain

run: install
	$(BIN)/python -m app.dev_env
	$(BIN)/python -m app

test: install npm-install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

check: lint test

bench: install
	$(BIN)/python -m bench

# Ops: write a migration for model changes, apply migrations (PostgreSQL only:
# on SQLite each says so in one line; `upgrade` then changes nothing).
migration: install
	@$(BIN)/python -m app.migration "$(name)"

upgrade: install
	$(BIN)/python -m app.upgrade

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache node_modules tests/contracts/.build
