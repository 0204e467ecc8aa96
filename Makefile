# The two entry points a newcomer needs: `make demo` and `make test` (both set up .venv first).
# Dependencies install at the exact versions of constraints.txt, the same the Docker image uses.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONSTRAINTS := constraints.txt

.PHONY: demo test lint constraints

$(BIN)/connector: pyproject.toml $(CONSTRAINTS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --constraint $(CONSTRAINTS) -e '.[test]'
	touch $@

demo: $(BIN)/connector
	$(BIN)/connector demo

lint: $(BIN)/connector
	$(BIN)/ruff check connector tests bench migrations
	$(BIN)/ruff format --check connector tests bench migrations
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

# After changing dependencies in pyproject.toml: resolve them afresh and pin the result.
constraints:
	$(BIN)/pip install --quiet -e '.[test]'
	{ sed -n '/^#/p' $(CONSTRAINTS); $(BIN)/pip freeze --exclude-editable; } > $(CONSTRAINTS).new
	mv $(CONSTRAINTS).new $(CONSTRAINTS)
