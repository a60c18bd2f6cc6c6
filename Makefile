# Two commands for a newcomer: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.installed-demo
# XLA's flags, defined once in ascent/_xla.py (why, there); run with the standard library
# only, so it works before .venv exists. Read once, unless the environment sets them.
ifeq ($(origin XLA_FLAGS),undefined)
export XLA_FLAGS := $(shell $(PYTHON) ascent/_xla.py)
test: export XLA_FLAGS := $(shell $(PYTHON) ascent/_xla.py tests)
endif

.PHONY: demo test test-slow lint docs clean

# the development stack (`.[dev]`: every extra, the test and docs tools), for test and lint
$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Ascent and what it needs to train, no extras: all the demo uses (0.9 GB against 3 GB)
$(DEMO_STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	$(BIN)/ascent train ppo --env CartPole-v1 --seed 0

# --dist loadfile: a file's tests share one worker, so the programs they cache compile once
test: $(STAMP)
	$(BIN)/ruff check ascent tests benchmarks examples
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --durations=15

# the learning runs and the cases that repeat a default one's path (CI runs both tiers)
test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --durations=15 -m slow

lint: $(STAMP)
	$(BIN)/ruff check ascent tests benchmarks examples

# the documentation site (mkdocs.yml, docs/) into site/; --strict: a broken link or
# reference fails the build, as tests/test_docs.py checks in `make test`
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict -d site

clean:
	rm -rf $(VENV) .cache .pytest_cache .ruff_cache site
