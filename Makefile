# callops — the README's two commands are `make run` and `make test`.
# Each works alone on a fresh clone: it creates .venv from requirements.lock first.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.callops-installed

export CALLOPS_HOME ?= $(CURDIR)/data

# Demo of `make run`: three simulated tenants (Asterisk queue_log, Amazon Connect CTR, contact CSV) over
# three weeks around the start of European daylight saving time (2026-03-29 is a 23-hour day in
# Europe/Stockholm). The run reads one more delivery day: the log lines of calls still going at midnight.
DEMO_START ?= 2026-03-16
DEMO_DAYS ?= 21
DEMO_END ?= 2026-04-06
DEMO_CALLS_PER_DAY ?= 1500

.DEFAULT_GOAL := help
.PHONY: help install run chromium test test-fast test-generative duckdb-oldest lint fix airflow docs clean simulate-compare simulate-bench staffing-bench

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' \
		'{ name[NR] = $$1; text[NR] = $$2; if (length($$1) > width) width = length($$1) } \
		END { for (i = 1; i <= NR; i++) printf "  make %-" width "s  %s\n", name[i], text[i] }'

install: $(STAMP) ## create .venv with the pinned dependencies (requirements.lock) and callops

# The lock pins the runtime dependencies and the dev extra (test and lint tools) alike.
LOCKED = $(shell grep -c '==' requirements.lock)
# pip's own output, one line in 25 packages: it collects each package of the lock (downloading it on a
# fresh clone), then installs them all at once, the longest part; its errors still reach stderr.
PIP_PROGRESS = awk -v total=$(LOCKED) \
	'/^Collecting / { n++; if (n % 25 == 0 || n == total) { printf "  %d of %d packages collected\n", n, total; fflush() } } \
	/^Installing collected packages/ { printf "  installing them ...\n"; fflush() } \
	/^Successfully installed/ { printf "  installed\n" }'

$(STAMP): requirements.lock pyproject.toml
	@echo "make install: $(VENV) with the $(LOCKED) packages of requirements.lock, then callops (a few minutes the first time)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade "pip==26.3"
	@set -o pipefail; $(BIN)/python -u -m pip install --progress-bar off -r requirements.lock | $(PIP_PROGRESS)
	@$(BIN)/python -m pip install --quiet --no-deps -e .
	@$(BIN)/python -m pip check
	@touch $@
	@echo "make install: done ($(BIN)/callops)"

run: $(STAMP) ## simulate three tenants' deliveries, run the pipeline through Airflow, print the published KPIs
	$(BIN)/callops simulate --tenants 3 --days $(DEMO_DAYS) --start $(DEMO_START) --calls-per-day $(DEMO_CALLS_PER_DAY)
	$(BIN)/callops run --start $(DEMO_START) --end $(DEMO_END)
	$(BIN)/callops kpis
	@test -e "$(CALLOPS_HOME)/published/wallboard/index.html" && \
		echo "The wallboard: $(CALLOPS_HOME)/published/wallboard/index.html (open it in a browser, or serve it with auto-refresh: $(BIN)/callops wallboard --serve, then http://127.0.0.1:8090)"

# The oldest DuckDB that reads every published table (callops.publish.OLDEST_DUCKDB_READER), pinned with
# its hashes in requirements/duckdb-oldest.txt, in a small venv of its own: a test of `make test` reads a
# published file with it (tests/test_simulated_month.py). Its wheels are pinned for Linux x86_64 only;
# elsewhere the venv is not made and that test skips, saying why.
OLDEST_VENV := .venv-duckdb-oldest
OLDEST_STAMP := $(OLDEST_VENV)/.callops-installed

$(OLDEST_STAMP): requirements/duckdb-oldest.txt
	@if [ "$$(uname -sm)" != "Linux x86_64" ]; then \
		echo "make: no $(OLDEST_VENV) on $$(uname -sm) (requirements/duckdb-oldest.txt pins Linux x86_64 wheels)"; \
	else \
		test -x $(OLDEST_VENV)/bin/python || $(PYTHON) -m venv $(OLDEST_VENV); \
		$(OLDEST_VENV)/bin/python -m pip install --quiet --require-hashes --only-binary :all: \
			-r requirements/duckdb-oldest.txt && touch $@; \
	fi

duckdb-oldest: $(OLDEST_STAMP) ## the oldest DuckDB that reads the published file, in .venv-duckdb-oldest (make test makes it)

# Two workers (pytest-xdist), a test file to each at a time: the suite is mostly single-threaded dbt and Airflow.
TEST_WORKERS ?= 2

# The browser tests (the wallboard's pages, the dbt docs site) drive Debian's chromium, headless. It is not
# in the machine image: `make test` installs it with apt when it is missing and make runs as root (as CI
# does); elsewhere those tests skip, printing the command. `make run` never needs it.
CHROMIUM_INSTALL := apt-get install -y chromium

chromium: ## Debian's chromium for the browser tests (installed with apt when missing and run as root)
	@if command -v chromium >/dev/null || command -v chromium-browser >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "make: installing Debian's chromium for the browser tests ($(CHROMIUM_INSTALL); a minute or two)"; \
		apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive $(CHROMIUM_INSTALL) -q >/dev/null \
			&& echo "make: $$(chromium --version 2>/dev/null)" \
			|| echo "make: installing chromium failed, so the browser tests skip"; \
	else \
		echo "make: no chromium, so the browser tests skip; to run them: sudo $(CHROMIUM_INSTALL)"; \
	fi

test: $(STAMP) $(OLDEST_STAMP) chromium ## run the test suite (unit, dbt unit tests, DAG integrity, end to end)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile

# The unit tests alone: every test marked dbt, airflow, gx, integration or postgres left out (pyproject.toml).
FAST_MARKERS := not dbt and not airflow and not gx and not integration and not postgres

test-fast: $(STAMP) $(OLDEST_STAMP) ## the unit tests only: no dbt, Airflow or Great Expectations runs (under a minute)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) -m "$(FAST_MARKERS)"

# `make lint`: ruff over the Python ([tool.ruff] in pyproject.toml), sqlfluff over the dbt project's models
# and singular tests (.sqlfluff; macros are linted where the models call them), yamllint over the YAML
# (.yamllint). Each runs even when one before it fails; CI runs it before the tests.
SQL_PATHS := dbt_project/models dbt_project/tests
LINT_PROCESSES ?= 2

lint: $(STAMP) ## ruff, sqlfluff (dbt SQL) and yamllint; fails on any finding (CI runs it)
	@failed=""; \
	echo "ruff check"; $(BIN)/ruff check . || failed="$$failed ruff"; \
	echo "sqlfluff lint"; $(BIN)/sqlfluff lint --processes $(LINT_PROCESSES) $(SQL_PATHS) || failed="$$failed sqlfluff"; \
	echo "yamllint"; $(BIN)/yamllint --strict . || failed="$$failed yamllint"; \
	if [ -n "$$failed" ]; then echo "make lint: findings from$$failed"; exit 1; fi

fix: $(STAMP) ## apply ruff's and sqlfluff's automatic fixes (review the diff); `make lint` shows what is left
	$(BIN)/ruff check --fix .
	-$(BIN)/sqlfluff fix --processes $(LINT_PROCESSES) $(SQL_PATHS)

# `make test-generative SEEDS=N`: N random delivery sequences more than CI's fixed seeds, each step's
# incremental build compared with a full build (tests/generative.py); SEED=S replays one seed, STEPS=K
# sets the random steps after the first days (4 in CI). A failure prints the seed and the sequence.
SEEDS ?= 5
STEPS ?= 6
# the first of the N seeds, drawn once here so that every pytest worker collects the same ones
FIRST_SEED ?= $(shell od -An -N3 -tu4 /dev/urandom | tr -d ' ')

test-generative: $(STAMP) ## check incremental builds against full ones over SEEDS=N random delivery sequences (SEED=S: one)
	CALLOPS_GENERATIVE_STEPS=$(STEPS) $(if $(SEED),CALLOPS_GENERATIVE_SEED=$(SEED),CALLOPS_GENERATIVE_SEEDS=$(SEEDS) CALLOPS_GENERATIVE_FIRST_SEED=$(FIRST_SEED)) \
		$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist load tests/dbt/test_incremental_build.py -k random_delivery_sequence

airflow: $(STAMP) ## schedule the pipeline: Airflow's UI on http://127.0.0.1:8080 (AIRFLOW_PORT=...), login printed
	$(BIN)/callops airflow $(if $(AIRFLOW_PORT),--port $(AIRFLOW_PORT))

# dbt's documentation site with the project overview and every KPI definition, in CALLOPS_HOME/dbt/docs
# (static_index.html opens offline). Column types and row counts need a built warehouse (after `make run`).
docs: $(STAMP) ## the dbt documentation: models, columns, KPI definitions (CALLOPS_HOME/dbt/docs/static_index.html)
	$(BIN)/python -m callops.dbt docs

simulate-compare: $(STAMP) ## compare simulated calls with a month of a real bank's calls; writes docs/simulator_vs_real.svg
	$(BIN)/python -m callops.simulate.calibration --out docs/simulator_vs_real.svg

simulate-bench: $(STAMP) ## simulator speed at 100,000 calls a day (calls per second, time for a year)
	$(BIN)/python -m benchmarks.simulator

staffing-bench: $(STAMP) ## staffing calculation speed: agents for a year of 20 queues' intervals (Erlang C and A)
	$(BIN)/python -m benchmarks.staffing

# `make bench` (issue 6): a 90-day backfill and a daily run of one 100,000-calls-a-day Asterisk queue_log
# tenant through `callops run`, against a hand-written DuckDB query and a pandas script on the same files,
# then a 15-minute chunk of the next day through `callops run` and `callops airflow` (issue 22)
# (docs/performance.md). BENCH_ARGS passes more options, e.g. BENCH_ARGS="--at-commit HEAD --keep".
BENCH_DAYS ?= 90
BENCH_CALLS_PER_DAY ?= 100000
BENCH_ARGS ?=
.PHONY: bench bench-small

bench: $(STAMP) ## pipeline speed: a 90-day backfill and a daily run against plain DuckDB and pandas; writes docs/bench/
	$(BIN)/python -m benchmarks.pipeline --days $(BENCH_DAYS) --calls-per-day $(BENCH_CALLS_PER_DAY) $(BENCH_ARGS)

bench-small: $(STAMP) ## the same at 3 days of 2,000 calls, not recorded (a quick check, about 8 min with Airflow)
	$(BIN)/python -m benchmarks.pipeline --days 3 --calls-per-day 2000 --no-record $(BENCH_ARGS)

clean: ## remove the local data (CALLOPS_HOME), .venv and .venv-duckdb-oldest
	rm -rf data $(VENV) $(OLDEST_VENV)
