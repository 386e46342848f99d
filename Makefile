# Two commands do all the set-up on a fresh machine:
#   make up     - the whole pipeline locally (broker, S3, worker, simulated cameras)
#   make test   - the test suite against a real broker and S3 started by fixtures
VENV ?= .venv
PYTHON ?= python3
CAMERAS ?= 4
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: up test bench schemas clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	touch $(STAMP)

up: $(STAMP)
	$(VENV)/bin/bwv up --cameras $(CAMERAS)

# pytest exits 5 when it collects nothing: not a failure of the code.
test: $(STAMP)
	$(PY) -m pytest -q $(PYTEST_ARGS); rc=$$?; if [ $$rc -eq 5 ]; then exit 0; fi; exit $$rc

# The benchmarks (README, Benchmarks): every one, or one with BENCH=ingest|raw|realtime|thumbnails|scaling.
BENCH ?= all
bench: $(STAMP)
	$(PY) -m pip install -q -e ".[bench]"
	$(PY) -m bench $(BENCH)

# Regenerate the checked-in topic contract (schemas/json/, schemas/asyncapi.yaml).
schemas: $(STAMP)
	$(PY) -m schemas.generate

clean:
	rm -rf $(VENV) .bwv .pytest_cache
