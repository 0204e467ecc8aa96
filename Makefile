# The two entry points a newcomer needs: `make demo` and `make test` (both set up .venv first).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint

$(BIN)/connector: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

demo: $(BIN)/connector
	$(BIN)/connector demo

lint: $(BIN)/connector
	$(BIN)/ruff check connector tests bench migrations
	$(BIN)/ruff format --check connector tests bench migrations
	$(BIN)/mypy

test: lint
	$(BIN)/pytest
