# JoPanel — `make demo` and `make test` are the quick start; see README.md.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
# make demo PORT=N: where the demo panel listens (checked free before anything is created).
PORT   ?= 8080
HOST   ?= 127.0.0.1
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-stress lint bench soak system clean

# A busy demo port stops make here, at parse time: one line, nothing installed or created.
ifeq ($(filter demo,$(MAKECMDGOALS)),demo)
PORT_PROBLEM := $(shell $(PYTHON) scripts/port-free.py $(HOST) $(PORT))
ifneq ($(PORT_PROBLEM),)
$(error $(PORT_PROBLEM))
endif
endif

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

system:
	./scripts/ensure-system.sh

demo: system $(STAMP)
	@$(BIN)/jopanel --root ./var/demo demo --listen $(HOST):$(PORT)

# The suite runs on every core (pytest-xdist); each test has its own roots, ports,
# databases and server instances, so the order and the neighbours do not matter.
PYTEST_WORKERS ?= auto
test: $(STAMP) system
	$(BIN)/pytest -q -n $(PYTEST_WORKERS)

# make test-stress: the whole suite STRESS_RUNS times while a CPU hog keeps every core
# busy (stress-ng), as on a shared machine; stops at the first run with a failure.
STRESS_RUNS ?= 3
test-stress: $(STAMP) system
	@for run in $$(seq 1 $(STRESS_RUNS)); do \
	  echo "test-stress: run $$run of $(STRESS_RUNS), stress-ng --cpu $$(nproc) beside it"; \
	  stress-ng --cpu "$$(nproc)" --cpu-method matrixprod --quiet --timeout 0 & hog=$$!; \
	  start=$$(date +%s); \
	  $(BIN)/pytest -q -n $(PYTEST_WORKERS) -p no:cacheprovider; status=$$?; \
	  kill $$hog 2>/dev/null; wait $$hog 2>/dev/null; \
	  echo "test-stress: run $$run exited $$status after $$(( $$(date +%s) - start )) s"; \
	  [ $$status -eq 0 ] || exit $$status; \
	done

lint: $(STAMP)
	$(BIN)/ruff check jopanel tests bench soak
	$(BIN)/ruff format --check jopanel tests bench soak
	$(BIN)/mypy
	$(BIN)/python -m jopanel.db check  # alembic check: models and migrations agree

bench: $(STAMP) system
	$(BIN)/python -m bench.store_bench
	$(BIN)/python -m bench.agent_bench
	$(BIN)/python -m bench.api_bench
	$(BIN)/python -m bench.hosting_bench
	$(BIN)/python -m bench.migrate_bench
	$(BIN)/python -m bench.login_bench
	$(BIN)/python -m bench.usage_bench
	$(BIN)/python -m bench.web_bench
	$(BIN)/python -m bench.files_bench
	$(BIN)/python -m bench.ssl_bench

# make soak SOAK_SECONDS=N: load + faults (agent/API kills, failing useradd, reindex) on a
# temp root, then integrity checks; exits non-zero on any violation (README, "Soak").
SOAK_SECONDS ?= 60
soak: $(STAMP) system
	SOAK_SECONDS=$(SOAK_SECONDS) $(BIN)/python -m soak

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
