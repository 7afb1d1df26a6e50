# The README's two commands: `make demo` and `make test`. Both build .venv from pyproject.toml
# first, and rebuild it when pyproject.toml is newer than the last install or the venv is broken.

PYTHON ?= python3
CHROMIUM ?= /usr/bin/chromium
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-from-pyproject
SDK_JS := tests/sdk_js/node_modules/.installed-from-lock

# A venv whose interpreter no longer runs (moved, Python upgraded) is stale whatever its stamp says.
ifneq ($(shell $(BIN)/python -c "import tagocheck" >/dev/null 2>&1 && echo ok),ok)
$(shell rm -f $(STAMP))
endif

.PHONY: demo test lint format venv clean browser mosquitto readme truth-table perturbations entry-points faults schemathesis trouble contract-seeds tagotip-fleets

demo: $(STAMP)
	$(BIN)/tagocheck capacity

# The suite's own tests (which also run the contract suite against every fault mode), then the
# contract suite itself against the embedded target, as a user would run it. Most tests wait on
# clocks and child processes, so they run side by side in TEST_WORKERS processes (pytest-xdist);
# the few marked `exclusive` (a pinned core, a CPU-bound figure) then run alone.
# This machine's environment sets PYTHONDONTWRITEBYTECODE, so each of the hundreds of Python
# processes the tests start compiled tagocheck from source again; the test run caches bytecode
# (an empty value unsets it; __pycache__ is ignored by git).
TEST_WORKERS ?= 6
test: export PYTHONDONTWRITEBYTECODE =
test: $(STAMP) lint browser mosquitto $(SDK_JS)
	TAGOCHECK_CHROMIUM=$(CHROMIUM) $(BIN)/pytest -n $(TEST_WORKERS) --maxschedchunk 4 -m "not exclusive" --durations=15
	TAGOCHECK_CHROMIUM=$(CHROMIUM) $(BIN)/pytest -m exclusive
	$(BIN)/pytest contract/ --junitxml=reports/contract/junit.xml

# Every README command run whole as written (tests/test_readme.py), about 45 minutes; `make test`
# runs the quick ones whole and starts and stops three long ones early.
readme: $(STAMP)
	TAGOCHECK_README=all TAGOCHECK_CHROMIUM=$(CHROMIUM) $(BIN)/pytest tests/test_readme.py

# The whole verdict truth table (tests/verdict): every row for every entry point (69 cells,
# about 6 minutes alone); `make test` runs its fixed sample (18 cells), CI (.ci/run) that and a
# fifth of the rest, in turn by commit (tests/sampling.py).
truth-table: $(STAMP)
	TAGOCHECK_TRUTH_TABLE=all $(BIN)/pytest tests/verdict

# The fast contract suite on the healthy embedded target, seeds 1 to 20 in a row: green each time
# (about 2 minutes); `make test` runs seeds 1 to 5 (tests/test_contract_trust.py).
contract-seeds: $(STAMP)
	TAGOCHECK_CONTRACT_SEEDS=all $(BIN)/pytest tests/test_contract_trust.py -k many_seeds

perturbations: $(STAMP)
	TAGOCHECK_PERTURBATIONS=all $(BIN)/pytest tests/test_contract_perturbations.py

# Devices in trouble with the target away both ways (503s, and no answer); `make test` runs the
# first (tests/loadtests/test_devices_in_trouble.py).
trouble: $(STAMP)
	TAGOCHECK_TROUBLE=all TAGOCHECK_CHROMIUM=$(CHROMIUM) $(BIN)/pytest tests/loadtests/test_devices_in_trouble.py

# Fleets over TagoTiP (HTTP, MQTT, UDP) with every fault a load run must find on each binding,
# an outage's backfill and retries through server errors over each (about 5 minutes); `make test`
# runs one fault a binding, the backfill over MQTT and the retries over UDP
# (tests/loadtests/test_tagotip_path.py).
tagotip-fleets: $(STAMP)
	TAGOCHECK_TAGOTIP=all $(BIN)/pytest -n 2 tests/loadtests/test_tagotip_path.py

# Every fault mode of the embedded target caught by the contract suite; `make test` runs half,
# CI (.ci/run) that and a fifth of the rest, in turn by commit.
faults: $(STAMP)
	TAGOCHECK_FAULTS=all $(BIN)/pytest tests/test_contract_catches_faults.py

# Every bad input and unusable target for every entry point (about 70 s); `make test` runs a
# third and every unusable-target case, CI (.ci/run) that and a fifth of the rest, in turn.
entry-points: $(STAMP)
	TAGOCHECK_ENTRY_POINTS=all $(BIN)/pytest tests/test_entry_points.py

# Schemathesis against the embedded target: three seeds, 50 examples per operation, every fault
# mode it must catch (about 4 minutes); `make test` runs one seed, 20 examples, two fault modes.
schemathesis: $(STAMP)
	TAGOCHECK_SCHEMATHESIS=all $(BIN)/pytest tests/test_schemathesis.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

venv: $(STAMP)

# The report's tests open it in real headless Chromium: Debian's package, installed when missing.
browser: $(CHROMIUM)

$(CHROMIUM):
	@command -v apt-get >/dev/null || { echo "the report tests need Chromium at $(CHROMIUM)"; exit 1; }
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null

# `tagocheck serve --tagotip-mqtt-broker mosquitto` starts Debian's mosquitto with a plugin it
# builds against mosquitto-dev's headers (tagocheck/server/mosquitto/): installed when missing.
MOSQUITTO_HEADER := /usr/include/mosquitto_broker.h
mosquitto: $(MOSQUITTO_HEADER)

$(MOSQUITTO_HEADER):
	@command -v apt-get >/dev/null || { echo "the MQTT tests need mosquitto and mosquitto-dev"; exit 1; }
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto mosquitto-dev libmosquitto-dev >/dev/null

# The official JS SDK, pinned by tests/sdk_js/package-lock.json, for tests/server/test_sdk_js_methods.py;
# Node.js and npm are Debian's, installed when missing.
$(SDK_JS): tests/sdk_js/package-lock.json
	@command -v npm >/dev/null || command -v apt-get >/dev/null || { echo "the JS SDK test needs Node.js and npm"; exit 1; }
	command -v npm >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; }
	npm ci --prefix tests/sdk_js --no-audit --no-fund --loglevel=error
	touch $@

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis tests/sdk_js/node_modules
