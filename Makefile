# Two commands on a fresh machine with python3 and make: `make demo`, `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 90

.PHONY: install install-test demo test check lint bench clean openapi graphql-schema

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

demo: install
	$(BIN)/orchestrator demo

# GitHub's published REST description, used to check the sandbox's JSON shapes.
.cache/openapi/api.github.com.json:
	mkdir -p .cache/openapi
	cd .cache/openapi && npm pack --silent @octokit/openapi@23 >/dev/null && \
	  tar xzf octokit-openapi-*.tgz package/generated/api.github.com.json && \
	  mv package/generated/api.github.com.json . && rm -rf package octokit-openapi-*.tgz

openapi: .cache/openapi/api.github.com.json

# GitHub's published GraphQL schema, used to validate every query the snapshot can send.
.cache/graphql/schema.graphql:
	mkdir -p .cache/graphql
	cd .cache/graphql && npm pack --silent @octokit/graphql-schema@15 >/dev/null && \
	  tar xzf octokit-graphql-schema-*.tgz package/schema.graphql && \
	  mv package/schema.graphql . && rm -rf package octokit-graphql-schema-*.tgz

graphql-schema: .cache/graphql/schema.graphql

# Most of the suite waits on servers, subprocesses and injected latency, not the CPU: three
# workers, each with its own sandbox and Prefect harness, one test file per worker at a time
# (four measured slower on 2 cores: 18 min 20 s against 17 min 36 s); the slowest tests are
# listed at the end.
TEST_WORKERS ?= 3

test: install-test
	-@$(MAKE) --no-print-directory openapi
	-@$(MAKE) --no-print-directory graphql-schema
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile --durations=15

# The fast lane: lint and the tests that need no sandbox, Prefect harness or subprocess.
check: install-test
	$(BIN)/ruff check .
	ORCHESTRATOR_FAST_TESTS=1 $(BIN)/python -m pytest -q -m "not integration"

lint: install-test
	$(BIN)/ruff check .

bench: install
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) .cache
