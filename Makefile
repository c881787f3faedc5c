# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Integration legs, broker:database. `.ci/run` runs all four.
MATRIX ?= tansu:sqlite tansu:postgres kafka:sqlite kafka:postgres

# The pins (with hashes) of the image (requirements.lock) and of the tests (-dev.lock), the
# image's a subset of the tests': both run the same versions. `make lock` makes them.
LOCK := --python-version 3.11 --python-platform x86_64-manylinux_2_28 --generate-hashes \
  --custom-compile-command "make lock"

BROKER ?= tansu  # or tansu-durable (keeps its topics; see durable-broker), or kafka

.PHONY: run test install-test lint unit integration contract-update durable-broker lock

run: $(VENV)/.installed  ## install, then start the whole system on embedded defaults
	$(BIN)/python -m deploy.local --broker $(BROKER)

durable-broker: $(VENV)/.installed  ## build Tansu with SQLite storage once (about 25 min)
	$(BIN)/python -c "from deploy.brokers import build_durable_tansu as b; print(b())"

test: install-test lint unit integration  ## install what the tests need, then run them all

$(VENV)/.installed: pyproject.toml deploy/requirements.lock package.json package-lock.json
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q --require-hashes -r deploy/requirements.lock  # what the image runs
	$(BIN)/pip install -q --no-deps -e .
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error  # assets the services serve
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed deploy/requirements-dev.lock
	$(BIN)/pip install -q --require-hashes -r deploy/requirements-dev.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $@

install-test: $(VENV)/.installed-dev
	deploy/install-test-deps.sh

lint:
	$(BIN)/ruff check services deploy tests bench
	$(BIN)/mypy services deploy tests bench

unit:  ## the fast tier: rules and handlers on the runner's in-memory seam, no broker
	$(BIN)/pytest -q -n 2 -m "not integration" tests/unit tests/contract

integration:
	@failed=""; for leg in $(MATRIX); do \
	  broker=$${leg%%:*}; database=$${leg##*:}; \
	  echo "=== integration leg: broker=$$broker database=$$database"; \
	  TEST_BROKER=$$broker TEST_DATABASE=$$database $(BIN)/pytest -q -m integration \
	    tests/integration || failed="$$failed $$leg"; \
	done; \
	if [ -n "$$failed" ]; then echo "failed legs:$$failed"; exit 1; fi

contract-update:  ## after a deliberate, compatible change of an event, the topology or a dashboard
	UPDATE_CONTRACT=1 $(BIN)/pytest -q tests/contract
	$(BIN)/python -m services.asyncapi > docs/asyncapi.json
	$(BIN)/python -m deploy.compose > docker-compose.yml
	$(BIN)/python -m deploy.monitoring > deploy/prometheus/prometheus.yml
	$(BIN)/python -m deploy.dashboards

lock: $(VENV)/.installed  ## after changing a dependency in pyproject.toml: pin them again
	$(BIN)/pip install -q "uv~=0.13.9"
	$(BIN)/uv pip compile pyproject.toml --extra dev $(LOCK) -o deploy/requirements-dev.lock
	$(BIN)/uv pip compile pyproject.toml --constraint deploy/requirements-dev.lock $(LOCK) \
	  -o deploy/requirements.lock
