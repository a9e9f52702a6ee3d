# Two set-up commands on a fresh machine: `make run` and `make test`.
# Each creates the virtual environment (.venv) on first use.

PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: run demo test lint typecheck unit proto bench bench-quick clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.run-deps: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.test-deps: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev]'
	@# the admin console's browser tests drive Debian's chromium (Playwright's own download is not used)
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)
	touch $@

$(VENV)/.bench-deps: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev,bench]'
	touch $@

## run: the main job: the bank-account service (HTTP :8000, gRPC :50051) on SQLite (./eskit.db)
run: $(VENV)/.run-deps
	$(BIN)/python -m bank_accounts

## demo: a scripted workload on the same store, then the read models caught up and searched
demo: $(VENV)/.run-deps
	$(BIN)/python -m bank_accounts.demo

## test: install what the tests need, then lint, type-check and run the whole suite
test: $(VENV)/.test-deps
	$(BIN)/ruff check src services tests benchmarks
	$(BIN)/ruff format --check src services tests benchmarks
	$(BIN)/mypy -p eskit -p bank_accounts -p invoice_financing -p kafka_users
	$(BIN)/pytest -q -n 3 --dist loadfile -m "not serial"
	$(BIN)/pytest -q -p no:xdist -m serial

lint: $(VENV)/.test-deps
	$(BIN)/ruff check src services tests benchmarks

typecheck: $(VENV)/.test-deps
	$(BIN)/mypy -p eskit -p bank_accounts -p invoice_financing -p kafka_users

unit: $(VENV)/.test-deps
	$(BIN)/pytest -q -m unit

## proto: regenerate the gRPC contract's Python code (messages and client stubs) from the .proto (commit the result)
proto: $(VENV)/.test-deps
	$(BIN)/python -m grpc_tools.protoc -Iservices --python_out=services --pyi_out=services --grpc_python_out=services \
		bank_accounts/proto/bank_accounts.proto invoice_financing/proto/invoice_financing.proto

bench: $(VENV)/.bench-deps
	$(BIN)/python benchmarks/run.py

bench-quick: $(VENV)/.bench-deps
	$(BIN)/python benchmarks/run.py --quick

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis eskit.db eskit.db-wal eskit.db-shm
