# Two entry points a fresh machine needs: `make demo` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint unit

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/ctml demo

lint: setup
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy
	$(BIN)/lint-imports

# The Ray tests start a local cluster; Ray listens on every interface, so they run in a network namespace
# that has loopback only (unshare --net, as root or through a user namespace).
unit: setup
	$(BIN)/pytest -m "not ray"
	unshare --net --map-root-user sh -c 'ip link set lo up && CTML_REQUIRE_RAY=1 exec $(BIN)/pytest -m ray -p no:cacheprovider'

test: lint unit
