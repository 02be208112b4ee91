# Each target does its own set-up: a fresh clone needs only python3 (>= 3.11) with venv.
VENV ?= .venv
PYTHON ?= python3
BIN = $(VENV)/bin
STAMP = $(VENV)/.installed

.PHONY: run test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

## run: the daemon on the example config, state in ./state, HTTP on 127.0.0.1:9080
run: $(STAMP)
	$(BIN)/router run --config config/ --state state/

## test: lint and the whole test suite
test: $(STAMP) lint
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check router tests bench
	$(BIN)/mypy router

## bench: speed figures for docs/benchmarks.md (installs wrk and Alertmanager if missing)
bench: $(STAMP)
	@command -v wrk >/dev/null && command -v prometheus-alertmanager >/dev/null || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	   wrk prometheus-alertmanager >/dev/null)
	$(BIN)/python bench/bench_config.py
	$(BIN)/python bench/bench_oncall.py
	$(BIN)/python bench/bench_routing.py
	$(BIN)/python bench/bench_http.py --compare
	$(BIN)/python bench/bench_ingest.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .hypothesis
