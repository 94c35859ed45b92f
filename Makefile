# Two commands on a fresh clone: `make run` (the whole system, embedded) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000

.PHONY: run test install lint format check migrate real-setup procfile bench-serving clean split split-stop

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
