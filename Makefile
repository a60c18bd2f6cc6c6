# Two commands for a newcomer: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Small networks run fastest with XLA on one thread; the concurrency-optimised scheduler
# was seen to hang a vmapped program on its second call with jax 0.10.2. Every word must
# be a --flag: XLA stops reading at one that is not, dropping the flags after it
# (benchmarks/results/design_notes.md).
export XLA_FLAGS ?= --xla_cpu_multi_thread_eigen=false --xla_cpu_enable_concurrency_optimized_scheduler=false

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/ascent train ppo --env CartPole-v1 --seed 0

# --dist loadfile: a file's tests share one worker, so the programs they cache compile once
test: $(STAMP)
	$(BIN)/ruff check ascent tests benchmarks
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --durations=15

lint: $(STAMP)
	$(BIN)/ruff check ascent tests benchmarks

clean:
	rm -rf $(VENV) .cache .pytest_cache .ruff_cache
