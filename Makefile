# Two commands on a fresh clone: `make run` (the whole system, embedded) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000

.PHONY: run test install lint typecheck format check migrate real-setup procfile bench-serving clean split split-stop split-restart load load-smoke test-faults test-faults-bounded storm sdk-test

run: $(STAMP) var
	$(BIN)/python manage.py migrate --no-input -v 0
	$(BIN)/python manage.py seed_demo
	PORT=$(PORT) $(BIN)/python manage.py serve

test: $(STAMP) var
	$(BIN)/pytest $(PYTEST_ARGS)

install: $(STAMP)

# Reinstall only when the dependency declarations change, so `make run` starts in seconds.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(STAMP)

var:
	mkdir -p var

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

# mypy over apps/, contracts/ and platform/ (config in pyproject.toml; cache in var/mypy).
typecheck: $(STAMP) var
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

check: $(STAMP)
	$(BIN)/python manage.py check
	$(BIN)/python manage.py makemigrations --check --dry-run

# Real mode: migrate and collect static files once, then run the Procfile.
real-setup: $(STAMP) var
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py collectstatic --no-input -v 0

procfile: real-setup
	PATH=$(BIN):$$PATH $(BIN)/honcho start

# The split topology on loopback: a service per context, realtime, workers and nginx on
# 127.0.0.1:$(GATEWAY_PORT), against the local PostgreSQL and Redis (docs/extraction.md).
GATEWAY_PORT ?= 8080
split: $(STAMP) var
	GATEWAY_PORT=$(GATEWAY_PORT) $(BIN)/python manage.py split start

split-stop: $(STAMP)
	$(BIN)/python manage.py split stop

# A rolling restart of one service while the others serve (cleave_deploy/rolling.py).
SERVICE ?= ticketing
split-restart: $(STAMP)
	$(BIN)/python manage.py split restart $(SERVICE)

# Fault injection (tests/faults): their own PostgreSQL and Redis, real workers and servers.
# Full: 10,000-event bursts, minute-long outages (~15 min); bounded: what CI runs (~4 min).
test-faults: $(STAMP) var
	CLEAVE_FAULTS=1 $(BIN)/pytest tests/faults -s $(PYTEST_ARGS)

test-faults-bounded: $(STAMP) var
	CLEAVE_FAULTS=1 CLEAVE_FAULTS_BOUNDED=1 $(BIN)/pytest tests/faults $(PYTEST_ARGS)

# The mobile load test (bench/load): ~10 minutes, embedded and split; --smoke is CI's bounded form.
# Side by side with Parse Server: make load ARGS="--peer parse" (or ARGS="--peer parse --quick").
load: $(STAMP) var
	$(BIN)/python bench/load/run.py $(ARGS)

load-smoke: $(STAMP) var
	$(BIN)/python bench/load/run.py --smoke

# The reconnect storm (bench/storm): 5,000 sockets at once on one realtime process, real mode
# (DATABASE_URL's PostgreSQL, a Redis server of its own); STORM_ARGS="--sockets 2000 --runs 3".
storm: $(STAMP) var
	$(BIN)/python bench/storm/run.py $(STORM_ARGS)

bench-serving: $(STAMP)
	$(BIN)/python bench/serving/run.py

# Regenerate the constraints (lock) file from a clean resolve of pyproject.toml.
lock:
	rm -rf var/lockenv && $(PYTHON) -m venv var/lockenv
	var/lockenv/bin/python -m pip install --quiet --upgrade pip
	var/lockenv/bin/python -m pip install --quiet -e ".[dev]"
	var/lockenv/bin/python -m pip freeze --exclude-editable | grep -v '^-e' > constraints.txt
	rm -rf var/lockenv

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache

# The TypeScript SDK's tests against a live `make run` (docs/sdk.md).
sdk-test: $(STAMP) var
	sdk/typescript/scripts/test-live.sh
