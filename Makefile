# Two entry points a newcomer needs: `make run` and `make test`.
# Each creates or refreshes .venv from pyproject.toml (pinned by constraints.txt) before running.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test bench clean

# The compiled hot path (setup.py) is rebuilt when its sources change.
HOT := $(wildcard simulation/entities.py simulation/rupture.py simulation/session.py simulation/*.pxd)

$(STAMP): pyproject.toml constraints.txt setup.py $(HOT)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/alliance-sim $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest -q $(ARGS)

# Performance benchmark (a few minutes; not part of `make test`): appends to benchmarks/results/bench.csv.
bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py $(ARGS)

clean:
	rm -rf $(VENV) outputs multirun .pytest_cache
