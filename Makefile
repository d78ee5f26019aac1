# CourseHub: `make demo` rehearses on the local stack, `make test` runs the tests.
# Both set everything up first on a fresh machine (Python 3.11+, npm).

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAGE ?= dev
PYTEST_ARGS ?=
REGION ?=
BUCKET ?=
PARAMETERS ?=  # template parameters, KEY=VALUE separated by spaces (docs/deploy.md)

.PHONY: setup tools demo test test-fast test-faults package plan deploy bench local openapi clean

setup: $(VENV)/.installed tools

$(VENV)/.installed: requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip<26.3"  # chalice 1.34 requires pip<26.3
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

tools: $(VENV)/.installed
	$(PY) -m coursehub.tools

demo: setup
	$(VENV)/bin/coursehub demo

# First what needs no local stack (`make test-fast`, under a minute: its moto mocks reset moto's state, so it
# never shares a process with a stack). Then the local-stack tests in WORKERS processes, each with its own
# stack, leaving the AWS calls they recorded in CALLS_DIR; last the modules that start a stack in the test
# process, and the least-privilege judge of every process's calls.
WORKERS ?= 4
CALLS_DIR := build/aws-calls

test: setup
	rm -rf $(CALLS_DIR)
	$(PY) -m pytest -n 2 --dist loadfile -m "not local_stack" $(PYTEST_ARGS)
	COURSEHUB_CALLS_DIR=$(CALLS_DIR) $(PY) -m pytest -n $(WORKERS) --dist loadfile --no-loadscope-reorder \
		-m "local_stack and not own_stack and not after_end_to_end and not fault_matrix" $(PYTEST_ARGS)
	COURSEHUB_CALLS_DIR=$(CALLS_DIR) $(PY) -m pytest -m "own_stack or after_end_to_end" $(PYTEST_ARGS)

test-fast: setup
	$(PY) -m pytest -n 2 --dist loadfile -m "not local_stack" $(PYTEST_ARGS)

# The fault matrix: every AWS operation both workflows call, throttled and denied (84 cells), one file a process.
test-faults: setup
	$(PY) -m pytest -n 3 --dist loadfile -m fault_matrix $(PYTEST_ARGS)

package: setup
	$(VENV)/bin/coursehub package --stage $(STAGE)

plan: setup  # what `make deploy` would create, without AWS
	$(VENV)/bin/coursehub plan --stage $(STAGE) $(addprefix --parameter ,$(PARAMETERS))

deploy: setup
	@test -n "$(REGION)" -a -n "$(BUCKET)" || \
		{ echo "usage: make deploy STAGE=prod REGION=us-east-1 BUCKET=my-bucket PARAMETERS='KEY=VALUE ...'" >&2; exit 2; }
	$(VENV)/bin/coursehub deploy --stage $(STAGE) --region $(REGION) --bucket $(BUCKET) \
		$(addprefix --parameter ,$(PARAMETERS))

bench: setup
	$(PY) bench/run.py
	$(PY) bench/helm_install.py
	$(PY) bench/provision.py
	$(PY) bench/lifecycle.py
	$(PY) bench/api.py

local: setup
	$(VENV)/bin/coursehub local up

openapi: $(VENV)/.installed  # docs/openapi.json from the code; tests/coursehub/test_openapi.py checks it is current
	$(PY) -m coursehub.openapi

clean:
	rm -rf $(VENV) build .coursehub
