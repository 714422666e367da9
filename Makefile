# recovery-ops: `make demo`, `make test`, `make bench`; `make sam-check` for the SAM build; `make docs` the site.
SHELL := /bin/bash

# The Lambda runtime is python3.13 (template.yaml): use it where the machine has it, else python3.
PYTHON ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3.13) $(shell command -v python3.13 2>/dev/null) $(shell command -v python3))
VENV := .venv
VENV_STAMP := $(VENV)/.installed
SAM_VENV := .sam-venv
SAM_STAMP := $(SAM_VENV)/.installed
PYTEST_ARGS ?= -n 4 --dist worksteal  # pytest-xdist: four workers on two cores (the stack tests mostly wait on moto's threads); idle workers take queued tests, so a few long ones do not leave a tail

# make faults: the seed and sizes of the double-fault and random schedules (tests/faults/)
FAULT_SEED ?= 1
FAULT_PAIRS ?= 2000
FAULT_SCHEDULES ?= 1000

.PHONY: help venv import-root demo test lint unit faults bench docs sam-check lock clean

help:
	@echo "make demo       run the whole order flow on the embedded moto stack (no AWS, no Slack)"
	@echo "make test       ruff, mypy, cfn-lint, the import contracts (make lint) and the whole test suite"
	@echo "make unit       the tests that need no stack (seconds)"
	@echo "make faults     fault injection: double faults and seeded random schedules (FAULT_SEED=…)"
	@echo "make bench      every benchmark in benchmarks/"
	@echo "make docs       the documentation site (docs/, mkdocs.yml): mkdocs build --strict into site/"
	@echo "make sam-check  sam validate --lint and sam build (aws-sam-cli in $(SAM_VENV))"
	@echo "make lock       write requirements.lock and requirements-dev.lock again from pyproject.toml"

# Everything installed comes from the lock files, with their hashes: requirements-dev.lock here
# (the runtime, the local stack and the dev tools), requirements.lock in the Lambda layer.
# `make lock` writes both again from pyproject.toml; tests/unit/test_dependency_lock.py fails when
# they disagree with it.
$(VENV_STAMP): pyproject.toml requirements-dev.lock
	@echo "Creating $(VENV) with $(PYTHON) ($$($(PYTHON) --version))"
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet --require-hashes -r requirements-dev.lock
	$(VENV)/bin/python -m pip install --quiet --no-deps -e .
	@touch $@

venv: $(VENV_STAMP)

demo: venv
	$(VENV)/bin/recovery-ops demo

# mypy reads service/ and slack_app/ by their import names (recovery_ops.service, recovery_ops.slack_app)
# through these links ([tool.mypy] mypy_path): it does not follow setuptools' editable import hook
IMPORT_ROOT := build/import-root/recovery_ops

import-root:
	mkdir -p $(IMPORT_ROOT)
	ln -sfn ../../../service $(IMPORT_ROOT)/service
	ln -sfn ../../../slack_app $(IMPORT_ROOT)/slack_app

lint: venv import-root
	$(VENV)/bin/ruff check service slack_app tests benchmarks
	$(VENV)/bin/mypy
	$(VENV)/bin/cfn-lint template.yaml
	$(VENV)/bin/lint-imports

test: lint
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

# everything that needs no stack: the domain over plain fakes, the template, the views, the seam check
unit: venv
	$(VENV)/bin/python -m pytest -m "not slow" $(PYTEST_ARGS)

# fault injection beyond the single sweep `make test` runs: FAULT_PAIRS double-fault schedules and
# FAULT_SCHEDULES random ones from FAULT_SEED (tests/faults/, docs/operating/fault-injection.md)
faults: venv
	FAULT_SEED=$(FAULT_SEED) FAULT_PAIRS=$(FAULT_PAIRS) FAULT_SCHEDULES=$(FAULT_SCHEDULES) \
		$(VENV)/bin/python -m pytest -m faults tests/faults $(PYTEST_ARGS)

bench: venv
	@set -e; TIMEFORMAT="   %R s wall"; for script in $(filter-out benchmarks/_%,$(wildcard benchmarks/*.py)); do \
		echo "== $$script"; time $(VENV)/bin/python $$script; done

# the documentation site: the snippets the pages include are checked by ruff (the tests run them),
# and every page, link, anchor and included file by mkdocs build --strict
docs: venv
	$(VENV)/bin/ruff check docs/snippets
	$(VENV)/bin/mkdocs build --strict

# the aws-sam-cli whose SAM translator (aws-sam-translator==1.115.0) the tests use for the roles
SAM_CLI_VERSION := 1.170.0

$(SAM_STAMP):
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/python -m pip install --quiet aws-sam-cli==$(SAM_CLI_VERSION)
	@touch $@

# sam build runs the build-* targets below; it needs the runtime's python3.13 on PATH.
sam-check: $(SAM_STAMP)
	PATH="$(dir $(PYTHON)):$$PATH" SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam validate --lint --region us-east-1
	PATH="$(dir $(PYTHON)):$$PATH" SAM_CLI_TELEMETRY=0 $(SAM_VENV)/bin/sam build --region us-east-1

# ---------------------------------------------------------------- sam build (BuildMethod: makefile)
LAMBDA_PLATFORM := --platform manylinux2014_x86_64 --implementation cp --python-version 3.13 --only-binary=:all:

build-DependenciesLayer:
	mkdir -p "$(ARTIFACTS_DIR)/python"
	$(PYTHON) -m pip install --quiet $(LAMBDA_PLATFORM) --require-hashes --target "$(ARTIFACTS_DIR)/python" -r requirements.lock

# uv resolves; pip installs (no uv is needed to build or test)
lock: venv
	$(VENV)/bin/python -m pip install --quiet 'uv>=0.9'
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 --generate-hashes --no-header -q -o requirements-dev.lock
	$(VENV)/bin/uv pip compile pyproject.toml --python-version 3.13 --python-platform x86_64-manylinux2014 --generate-hashes --no-header -q -c requirements-dev.lock -o requirements.lock

# Every function ships the product without the local stack; only the order example's own functions
# ship the example (service/example), so a product function cannot import it even by mistake.
# The code goes under the import root, as installed: recovery_ops/service and recovery_ops/slack_app
# (recovery_ops is a namespace package: no __init__.py), the Handler values' recovery_ops.service....
EXAMPLE_FUNCTIONS := OrdersApiFunction CheckAvailabilityFunction CircuitBreakerFunction DummyVendorFunction

build-%Function:
	mkdir -p "$(ARTIFACTS_DIR)/recovery_ops"
	cp -R service slack_app "$(ARTIFACTS_DIR)/recovery_ops/"
	rm -rf "$(ARTIFACTS_DIR)/recovery_ops/service/local"
	$(if $(filter $*Function,$(EXAMPLE_FUNCTIONS)),,rm -rf "$(ARTIFACTS_DIR)/recovery_ops/service/example")
	find "$(ARTIFACTS_DIR)" -name __pycache__ -prune -exec rm -rf {} +

clean:
	rm -rf .aws-sam .pytest_cache .ruff_cache .mypy_cache site
