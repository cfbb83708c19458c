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

.PHONY: setup test test-fast demo gas bench-oracle clean mosquitto

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip==24.3.1"
	$(BIN)/python -m pip install --quiet -r requirements.lock
	# declares numpy>=2 (eth-ape needs <2) but runs on 1.26: see pyproject.toml
	$(BIN)/python -m pip install --quiet --no-deps "demandlib==0.2.2"
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

node_modules/.installed: package.json package-lock.json
	# `npm ci` rejects this lock (npm leaves the other platforms' optional anvil
	# binaries out of it); the exact pin + lock integrity keep `install` reproducible
	npm install --no-audit --no-fund --loglevel=error
	anvil --version >/dev/null
	touch $@

# the oracle's MQTT tests use Debian's broker (started by the tests on 127.0.0.1 only)
mosquitto:
	@command -v mosquitto >/dev/null || test -x /usr/sbin/mosquitto || \
	  { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    $$SUDO apt-get install -y -qq mosquitto >/dev/null 2>&1 || \
	    { $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq mosquitto; }; }

test: setup mosquitto
	$(BIN)/ruff check oracle gridmint tests scripts --select F,E9
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

bench-oracle: setup
	$(BIN)/ape compile >/dev/null
	$(BIN)/python -m scripts.bench_oracle

clean:
	rm -rf .build .ape/.cache out
