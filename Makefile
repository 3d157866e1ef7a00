# Tongxin (同心): `make run` starts the platform, `make test` passes the tests.
# Both install what they need first (Python venv, Kafka jars, FerretDB, kcat, Prometheus).

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INFRA := bash deploy/local/infra.sh
# Parallel test workers; the tests that stop shared infrastructure run alone afterwards.
TEST_WORKERS ?= 3
PYTEST_ARGS ?=

.PHONY: help install deps venv web web-test infra-up infra-down infra-status run test test-fast faults lint format bench clean

help:
	@echo "make run      install, start Kafka + FerretDB + Prometheus, the gateway and the five services"
	@echo "make test     install, start the infrastructure, run every test"
	@echo "make lint     ruff + mypy"
	@echo "make bench    benchmarks (ratios against same-run baselines)"
	@echo "make faults   the long fault-injection run (kills and freezes under load)"
	@echo "make infra-up | infra-down | infra-status"

install: deps venv web

deps:
	@$(INFRA) install

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install -q --disable-pip-version-check -e ".[dev]"
	@touch $@

# The apps (web/): npm packages from the committed lockfile, built by Vite into web/dist, which
# the gateway serves; nothing is fetched when a page loads.
WEB_SOURCES := $(shell find web/src web/openapi web/scripts -type f 2>/dev/null) \
	web/index.html web/console/index.html web/vite.config.ts web/package.json
web: web/dist/.built

web/node_modules/.installed: web/package-lock.json
	@cd web && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

web/dist/.built: web/node_modules/.installed $(WEB_SOURCES)
	@cd web && npm run --silent build >/dev/null
	@touch $@

web-test: web/node_modules/.installed
	@cd web && npm test --silent

infra-up: deps
	@$(INFRA) up

infra-down:
	@$(INFRA) down

infra-status:
	@$(INFRA) status

# The address comes first, before the installs and the start-up lines (#18).
GATEWAY_URL ?= $(or $(TONGXIN_GATEWAY_URL),http://127.0.0.1:$(or $(TONGXIN_GATEWAY_PORT),8080))
run:
	@echo "同心 Tongxin: open $(GATEWAY_URL)/ (console /console/, dashboard /dashboard); starting, it says when ready"
	@$(MAKE) --no-print-directory install infra-up
	@$(INFRA) up prometheus gateway
	@$(BIN)/tongxin run

# loadgroup: a module marked xdist_group (one private broker for all its tests) stays on one
# worker; every other test is spread as usual.
test: install infra-up web-test
	@$(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup -m "not serial and not faults" $(PYTEST_ARGS)
	@$(BIN)/pytest -m serial $(PYTEST_ARGS)

# The long fault-injection run on a private broker and FerretDB (tests/faults/test_nemesis.py);
# e.g. TONGXIN_FAULTS_PER_KIND=20 make faults (docs/faults.md). Prints the checker's table.
faults: install infra-up
	@$(BIN)/pytest -m faults -s --timeout=0 tests/faults $(PYTEST_ARGS)

# BENCH_ARGS="--quick" (about 3 min) or "--only pipeline,http"; never part of `make test`.
BENCH_ARGS ?=
bench: install infra-up
	@$(BIN)/python -m bench.run $(BENCH_ARGS)

test-fast: venv
	@$(BIN)/pytest tests/unit -q

lint: venv
	@$(BIN)/ruff check shared services tests bench
	@$(BIN)/ruff format --check shared services tests bench
	@$(BIN)/mypy

format: venv
	@$(BIN)/ruff check --fix shared services tests bench
	@$(BIN)/ruff format shared services tests bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
