# gridmint — every target sets up what it needs (idempotent), then runs.
#   make demo   the main job: deploy + a simulated community on a local Anvil
#               (CHAIN=hardhat: on a Hardhat 2 node instead; see docs/chains.md)
#   make test   the whole test suite (what CI runs)
#   make gas    gas of the named operations on Anvil -> gas-report.json
#   make bench-scale  readings at utility scale: 1M readings of one slot verified, built, committed
#   make app    the member app on a seeded local chain (docs/app.md)

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# tools/bin first: its `anvil` runs node_modules' Anvil and removes the past states Anvil leaves on disk
export PATH := $(CURDIR)/tools/bin:$(CURDIR)/$(BIN):$(CURDIR)/node_modules/.bin:$(PATH)
# hypothesis example budget for stateful machines: CI runs bounded soaks
HYPOTHESIS_PROFILE ?= ci
export HYPOTHESIS_PROFILE
# a pydantic-settings warning that ape 0.8.51's config models raise on every start is noise to a user
export PYTHONWARNINGS ?= ignore::UserWarning
# the local chain of `make demo`: anvil (ape-foundry, the default) or hardhat (ape-hardhat)
CHAIN ?= anvil
PROVIDER_anvil := foundry
PROVIDER_hardhat := hardhat
LOCAL_NETWORK = ethereum:local:$(or $(PROVIDER_$(CHAIN)),$(error CHAIN must be anvil or hardhat, not '$(CHAIN)'))

.PHONY: setup test test-fast demo gas bench-oracle bench-scale clean mosquitto chain deploy

# `ape compile` rebuilds a contract when its own source changes, not when only a module it imports does
# (a changed contracts/modules/*.vy left WattToken's build, and so `make gas`, stale), and a plain
# `ape compile` run by hand after such a change refreshes the build's date without rebuilding WattToken:
# the build is trusted only while a digest of every source (and the pinned compiler and libraries) is the
# one recorded when it was last rebuilt whole
SOURCES_DIGEST = cat $$(find contracts -name '*.vy' -o -name '*.vyi' | LC_ALL=C sort) requirements.lock | sha256sum
APE_COMPILE = d=$$($(SOURCES_DIGEST)); test "$$d" = "$$(cat .build/sources.sha256 2>/dev/null)" || \
	{ $(BIN)/ape compile --force >/dev/null && echo "$$d" > .build/sources.sha256; }

setup: $(VENV)/.installed node_modules/.installed

# a first install on a full disk stops with one line instead of inside pip or npm: the venv takes
# 1.1 GB and pip's cache more; node_modules 0.3 GB and npm's cache as much (measured on a fresh clone)
$(VENV)/.installed: requirements.lock pyproject.toml
	@test -x $(BIN)/python || tools/need_disk.sh 1600 "the Python environment (.venv)"
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
	@test -d node_modules || tools/need_disk.sh 800 "the chain tools (node_modules)"
	npm install --no-audit --no-fund --loglevel=error
	anvil --version >/dev/null
	hardhat --version >/dev/null
	touch $@

# the oracle's MQTT tests use Debian's broker (started by the tests on 127.0.0.1 only)
mosquitto:
	@command -v mosquitto >/dev/null || test -x /usr/sbin/mosquitto || \
	  { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    $$SUDO apt-get install -y -qq mosquitto >/dev/null 2>&1 || \
	    { $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq mosquitto; }; }

# PYTEST_WORKERS: processes for the in-process (titanoboa) tests; CI's machine has 2 cores
PYTEST_WORKERS ?= 2
test: setup mosquitto app-build chromium
	$(BIN)/ruff check oracle gridmint tests scripts tools --select F,E9
	$(APE_COMPILE)
	# contracts, oracle, auditor and order math in-process on titanoboa: no node, so without ape's pytest
	# plugin (it would start a node per worker for nothing) and spread over the cores
	$(BIN)/python -m pytest -p no:ape_test -n $(PYTEST_WORKERS) --durations=15 tests/unit tests/fuzz --ignore=tests/unit/cli
	# the command line, the integration tests and the member app on Anvil: one ape session per worker, each
	# worker in a network namespace of its own with its own node on 127.0.0.1:8545 (tests/conftest.py);
	# a file's tests stay on one worker, so a session fixture (the app's seeded chain) is built once
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile --durations=15 tests/unit/cli tests/integration tests/app
	# the integration tests marked local_chain again, on a Hardhat node (tests/integration/conftest.py); one
	# session: its longest file (the daemon's restarts) is most of the stage, so a second worker gained nothing
	$(BIN)/python -m pytest -m local_chain --network ethereum:local:hardhat tests/integration

test-fast: setup
	$(BIN)/python -m pytest -p no:ape_test -n $(PYTEST_WORKERS) -m "not integration and not slow" tests/unit tests/fuzz --ignore=tests/unit/cli

demo: setup
	$(APE_COMPILE)
	$(BIN)/ape run demo --network $(LOCAL_NETWORK)

# a persistent local chain on 127.0.0.1:8545 (foreground; `make chain &` keeps the shell)
chain: setup
	anvil --silent

# compile and deploy to the running local chain -> deployments/ethereum-local-31337.json
deploy: setup
	$(APE_COMPILE)
	$(BIN)/ape run deploy --network ethereum:local:foundry

# ape-foundry starts Anvil with --steps-tracing, which keeps every step of every transaction in memory:
# make gas's thousands of transactions (1,000-order books, 2,000-order auctions) grew it past 20 GB until
# the kernel killed it. A plain Anvil (ape connects to it on 127.0.0.1:8545), stopped afterwards, keeps none.
# --prune-history: no past block's state goes to disk (without it, one run wrote ~10 GB under
# ~/.foundry/anvil/tmp, never removed; 65 GB of them from several runs filled the disk); the figures need
# only receipts
gas: setup
	$(APE_COMPILE)
	@anvil --silent --prune-history --port 8545 --accounts 10 --block-base-fee-per-gas 0 --gas-price 0 & anvil=$$!; \
	  trap 'kill $$anvil 2>/dev/null' EXIT; \
	  for i in $$(seq 100); do $(BIN)/python -c "import socket; socket.create_connection(('127.0.0.1', 8545), 1)" 2>/dev/null && break; sleep 0.1; done; \
	  $(BIN)/ape run gas --network ethereum:local:foundry

bench-oracle: setup
	$(APE_COMPILE)
	$(BIN)/python -m tools.bench_oracle

# readings at utility scale (docs/rules.md "Readings at scale"): verification, trees, proofs and gas per
# core, then one real slot of 1M readings end to end on Dask (BENCH_SCALE_ARGS="--scheduler tcp://host:8786"
# spreads the slot job over a cluster; "--readings 100000" for a shorter run)
bench-scale: setup
	$(APE_COMPILE)
	$(BIN)/python -m tools.bench_scale $(BENCH_SCALE_ARGS)

# the member app (app/): npm packages pinned in app/package-lock.json, built by Vite into app/dist
.PHONY: app app-build chromium
app/node_modules/.installed: app/package.json app/package-lock.json
	cd app && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# what the contracts say (ABIs, event and struct types, reasons, flags), generated for Python
# (gridmint/generated/) and the app (app/src/generated/); tests/unit/test_generated.py checks it is current
.PHONY: generate
generate: $(VENV)/.installed
	$(BIN)/python -m gridmint.codegen

app-build: app/node_modules/.installed generate
	cd app && npm run --silent build

# the app's browser tests drive Debian's chromium through Playwright (nothing downloads a browser)
chromium:
	@test -x /usr/bin/chromium || \
	  { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    $$SUDO apt-get install -y -qq chromium >/dev/null 2>&1 || \
	    { $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium; }; }

# a persistent local Anvil, deployed and seeded with the demo community's morning, and the built app
# on http://127.0.0.1:5173 (tools/app_serve.py; APP_ARGS=--fresh starts the chain over). Ctrl-C stops both.
app: setup app-build
	$(APE_COMPILE)
	@# the shell and make ignore Ctrl-C; the server catches it itself, stops Anvil (saving its state) and exits 0,
	@# so Ctrl-C ends `make app` without "make: *** [app] Interrupt"
	@trap '' INT; exec $(BIN)/python -m tools.app_serve $(APP_ARGS)

clean:
	rm -rf .build .ape/.cache out
