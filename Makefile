# The two commands of the README: `make demo` runs the product, `make test` passes the tests.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
export AIRFLOW_HOME ?= $(CURDIR)/.airflow

.PHONY: demo test lint bench bench-parse services lock clean

$(BIN)/.installed: requirements.lock pyproject.toml scripts/system-deps.sh
	bash scripts/system-deps.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade "pip==26.0.1"
	$(BIN)/pip install -q -r requirements.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $@

install: $(BIN)/.installed

services:
	bash scripts/services.sh

demo: $(BIN)/.installed
	bash scripts/demo.sh

test: $(BIN)/.installed services
	$(BIN)/ruff check include dags plugins tests bench
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(BIN)/.installed
	$(BIN)/ruff check include dags plugins tests bench
	$(BIN)/ruff format --check include dags plugins tests bench

bench: $(BIN)/.installed services
	bash bench/run.sh

bench-parse: $(BIN)/.installed
	$(BIN)/python bench/parse.py 100 1000 10000

# Re-resolve the lock from requirements.txt (needs the package registry).
lock:
	rm -rf /tmp/atlas-lock-venv && $(PYTHON) -m venv /tmp/atlas-lock-venv
	/tmp/atlas-lock-venv/bin/pip install -q -r requirements.txt
	/tmp/atlas-lock-venv/bin/pip freeze --exclude-editable > requirements.lock

clean:
	rm -rf $(VENV) .airflow
