# Botwarden — `make run` and `make test` set everything up on a fresh machine.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench bench-deps lint format setup system-deps clean model

setup: $(STAMP) system-deps

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# In CI the service-backed tests must run, so what they need is installed here.
system-deps:
ifeq ($(CI),true)
	@command -v chromium >/dev/null 2>&1 && command -v nginx >/dev/null 2>&1 && \
	  command -v wrk >/dev/null 2>&1 || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium nginx curl wrk >/dev/null)
endif

run: setup
	$(BIN)/botwarden demo

test: setup
	$(BIN)/python -m pytest -q

# bench/edge.py drives load with wrk and compares with nginx; bench/simulate.py sinks into nginx.
bench-deps:
	@command -v wrk >/dev/null 2>&1 && command -v nginx >/dev/null 2>&1 || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk nginx >/dev/null)

bench: setup bench-deps
	$(BIN)/python -m bench.score
	$(BIN)/python -m bench.tls
	$(BIN)/python bench/rules.py
	$(BIN)/python -m bench.simulate
	$(BIN)/python -m bench.analytics
	$(BIN)/python -m bench.edge
	$(BIN)/python -m bench.api
	$(BIN)/python -m bench.ml
	$(BIN)/python -m bench.dashboard

# Rebuild the packaged base model from the fixed simulator seeds, with its hold-out report.
model: setup
	$(BIN)/botwarden model build-base --report bench/results/ml_eval

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

format: setup
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
