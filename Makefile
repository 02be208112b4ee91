# Each target does its own set-up: a fresh clone needs only python3 (>= 3.11) with venv.
VENV ?= .venv
PYTHON ?= python3
BIN = $(VENV)/bin
STAMP = $(VENV)/.installed

.PHONY: run shell test lint bench clean wheelhouse

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

## run: the daemon on the example config, state in ./state, HTTP on 127.0.0.1:9080;
## PORT=9090 listens on 127.0.0.1:9090 instead, ARGS='--log-format text' adds to `router run`
PORT ?=
ARGS ?=
run: $(STAMP)
	$(BIN)/router run --config config/ --state state/ \
	  $(if $(strip $(PORT)),--listen 127.0.0.1:$(strip $(PORT))) $(ARGS)

## shell: a shell with the virtualenv active, so `router ...` runs the CLI; `exit` leaves it
shell: $(STAMP)
	@echo "$(VENV) active: router --help lists the commands; exit to leave"
	@VIRTUAL_ENV="$(abspath $(VENV))" PATH="$(abspath $(BIN)):$$PATH" $${SHELL:-/bin/sh} -i

## test: lint and the whole test suite, in TEST_WORKERS processes (pytest-xdist; 0: one)
TEST_WORKERS ?= 2
test: $(STAMP) lint
	$(BIN)/pytest -n $(TEST_WORKERS)

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
	$(BIN)/python bench/bench_fingerprint.py
	$(BIN)/python bench/bench_http.py --compare
	$(BIN)/python bench/bench_ingest.py
	$(BIN)/python bench/bench_timers.py
	$(BIN)/python bench/bench_timers.py --reference
	$(BIN)/python bench/bench_outbox.py
	$(BIN)/python bench/bench_store_size.py
	$(BIN)/python bench/bench_web.py
	$(BIN)/python bench/bench_ha.py

## wheelhouse: router and every dependency it runs with (no test tools) as wheels in
## ./wheelhouse, with a hash-pinned requirements.txt, for hosts with no internet. The wheels
## fit this machine's Python and architecture, or the host named by WHEEL_TARGET, e.g.
## WHEEL_TARGET="--python-version 3.11 --platform manylinux2014_x86_64" (docs/install.md).
WHEELHOUSE ?= wheelhouse
WHEEL_TARGET ?=
wheelhouse: $(STAMP)
	mkdir -p $(WHEELHOUSE)
	rm -f $(WHEELHOUSE)/*.whl $(WHEELHOUSE)/requirements.txt
ifeq ($(strip $(WHEEL_TARGET)),)
	$(BIN)/python -m pip wheel --quiet --wheel-dir $(WHEELHOUSE) .
else
	$(BIN)/python -m pip wheel --quiet --no-deps --wheel-dir $(WHEELHOUSE) .
	$(BIN)/python -m pip download --quiet --only-binary=:all: $(WHEEL_TARGET) \
	  --dest $(WHEELHOUSE) $(WHEELHOUSE)/router-*.whl
endif
	$(BIN)/python -c "$$WHEELHOUSE_LOCK" $(WHEELHOUSE) > $(WHEELHOUSE)/requirements.txt.new
	mv $(WHEELHOUSE)/requirements.txt.new $(WHEELHOUSE)/requirements.txt
	@echo "$(WHEELHOUSE): $$(ls $(WHEELHOUSE)/*.whl | wc -l) wheels; install with" \
	  "pip install --no-index --find-links $(WHEELHOUSE) --require-hashes" \
	  "-r $(WHEELHOUSE)/requirements.txt"

# Every wheel pinned to its version and sha256, so pip refuses a file damaged or swapped on
# its way to the air-gapped host (pip install --require-hashes).
define WHEELHOUSE_LOCK
import hashlib, pathlib, sys
house = pathlib.Path(sys.argv[1])
print("# Written by make wheelhouse; install with:")
print(f"#   pip install --no-index --find-links {house} --require-hashes -r {house}/requirements.txt")
for wheel in sorted(house.glob("*.whl"), key=lambda path: path.name.lower()):
    name, version = wheel.name.split("-")[:2]
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    print(f"{name}=={version} \\\n    --hash=sha256:{digest}")
endef
export WHEELHOUSE_LOCK

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .hypothesis wheelhouse
