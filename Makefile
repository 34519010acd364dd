# Two entry points a newcomer needs: `make run` and `make test`.
# Each creates or refreshes .venv from pyproject.toml (pinned by constraints.txt) before running.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test bench app clean

# The page (make app): http://$(APP_ADDRESS):$(APP_PORT). For a class on one machine: make app APP_ADDRESS=0.0.0.0
APP_ADDRESS ?= localhost
APP_PORT    ?= 8501

# The compiled hot path (setup.py) is rebuilt when its sources change: the modules named
# in COMPILED in simulation/build.py, and the .pxd files.
HOT := simulation/build.py $(wildcard simulation/*.pxd) \
       $(patsubst %,simulation/%.py,$(shell sed -n 's/^COMPILED = (\(.*\))$$/\1/p' simulation/build.py | tr -d '",'))

$(STAMP): Makefile pyproject.toml constraints.txt setup.py $(HOT)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# PIP_CONSTRAINT also pins the build environment's Cython, so the compiled code is reproducible.
	PIP_CONSTRAINT=$(CURDIR)/constraints.txt $(BIN)/python -m pip install --quiet -e '.[test,app]'
	touch $(STAMP)

# `make run experiment=NAME run.replications=2` forwards KEY=VALUE words to alliance-sim: make
# would otherwise take them as make variables and run the default experiment. Forwarded are
# words whose key has a dot (run.seed=7) or is a config group or `experiment` (policy=continuity),
# in the order typed (MAKEOVERRIDES lists them last first); ARGS="..." still works (anything,
# e.g. ARGS="-m run.seed=1,2"), and any other KEY=VALUE stops with a message.
SPACE := $(subst ,, )
reverse = $(if $(1),$(call reverse,$(wordlist 2,$(words $(1)),$(1))) $(firstword $(1)))
CLI_WORDS := $(call reverse,$(subst \$(SPACE),@SPACE@,$(MAKEOVERRIDES)))
CONFIG_GROUPS := experiment $(notdir $(patsubst %/,%,$(dir $(wildcard configs/*/*.yaml))))
MAKE_VARIABLES := ARGS PYTHON VENV BIN STAMP
cli_key = $(patsubst +%,%,$(patsubst ~%,%,$(firstword $(subst =, ,$(1)))))
FORWARD := $(foreach w,$(CLI_WORDS),$(if $(filter $(MAKE_VARIABLES),$(call cli_key,$(w))),,$(w)))
NOT_CONFIG := $(strip $(foreach w,$(FORWARD),$(if $(or $(findstring .,$(call cli_key,$(w))),$(filter $(CONFIG_GROUPS),$(call cli_key,$(w)))),,$(w))))
RUN_ARGS := $(strip $(foreach w,$(FORWARD),'$(subst @SPACE@, ,$(w))'))

run: $(STAMP)
	$(if $(NOT_CONFIG),$(error make run: $(subst @SPACE@, ,$(firstword $(NOT_CONFIG))) is neither a config key (GROUP.KEY=VALUE) nor a config group (GROUP=OPTION); pass other arguments as ARGS="..."))
	$(BIN)/alliance-sim $(RUN_ARGS) $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest -q $(ARGS)

# Performance benchmark (a few minutes; not part of `make test`): appends to benchmarks/results/bench.csv.
bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py $(ARGS)

# The interactive page (analysis/app): teach, plan and explore views on the default config.
app: $(STAMP)
	$(BIN)/streamlit run analysis/app/main.py --server.address $(APP_ADDRESS) --server.port $(APP_PORT) \
	    --server.headless true --browser.gatherUsageStats false --client.toolbarMode viewer $(ARGS)

clean:
	rm -rf $(VENV) outputs multirun .pytest_cache build simulation/*.so simulation/*.c
