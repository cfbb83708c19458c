# gridmint — every target sets up what it needs (idempotent), then runs.
#   make demo   the main job: deploy + a simulated community on a local Anvil
#   make test   the whole test suite (what CI runs)
#   make gas    gas of the named operations on Anvil -> gas-report.json

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export PATH := $(CURDIR)/$(BIN):$(CURDIR)/node_modules/.bin:$(PATH)
# hypothesis example budget for stateful machines: CI runs bounded soaks
HYPOTHESIS_PROFILE ?= ci
export HYPOTHESIS_PROFILE

.PHONY: setup test test-fast demo gas clean

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip==24.3.1"
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

node_modules/.installed: package.json package-lock.json
	# `npm ci` rejects this lock (npm leaves the other platforms' optional anvil
	# binaries out of it); the exact pin + lock integrity keep `install` reproducible
	npm install --no-audit --no-fund --loglevel=error
	anvil --version >/dev/null
	touch $@

test: setup
	$(BIN)/ruff check oracle tests scripts --select F,E9
	$(BIN)/ape compile >/dev/null
	$(BIN)/python -m pytest

test-fast: setup
	$(BIN)/python -m pytest -m "not integration and not slow"

demo: setup
	$(BIN)/ape compile >/dev/null
	$(BIN)/ape run demo --network ethereum:local:foundry

gas: setup
	$(BIN)/ape compile >/dev/null
	$(BIN)/ape run gas --network ethereum:local:foundry

clean:
	rm -rf .build .ape/.cache out
