# callops — the README's two commands are `make run` and `make test`.
# Each works alone on a fresh clone: it creates .venv from requirements.lock first.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.callops-installed

export CALLOPS_HOME ?= $(CURDIR)/data

# Demo range of `make run`: four delivery days around the end of European
# daylight saving time (2026-03-29 is a 23-hour day in Europe/Stockholm).
DEMO_START ?= 2026-03-27
DEMO_END ?= 2026-03-30

.DEFAULT_GOAL := help
.PHONY: help install run test clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

install: $(STAMP) ## create .venv from the committed lock (requirements.lock)

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip==26.3"
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m pip check
	touch $@

run: $(STAMP) ## write a sample delivery, run the pipeline through Airflow, print the published KPIs
	$(BIN)/callops sample --start $(DEMO_START) --end $(DEMO_END)
	$(BIN)/callops run --start $(DEMO_START) --end $(DEMO_END)
	$(BIN)/callops kpis

test: $(STAMP) ## run the test suite (unit, dbt unit tests, DAG integrity, end to end)
	$(BIN)/python -m pytest

clean: ## remove the local data directory (CALLOPS_HOME) and the venv
	rm -rf data $(VENV)
