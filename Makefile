# Circuit Court — every set-up step a fresh machine needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export FLASK_APP := wsgi.py
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run install install-dev db demo test e2e lint bench vendor translations clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/activate setup.cfg pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed setup.cfg
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

translations: install
	$(BIN)/pybabel compile -q -d translations

db: install translations
	$(BIN)/flask db upgrade

demo: db
	$(BIN)/flask seed-demo --if-empty

run: demo
	$(BIN)/flask run --host $(HOST) --port $(PORT)

test: install-dev translations
	$(BIN)/python -m pytest -q

lint: install-dev
	$(BIN)/ruff check .

e2e: install-dev translations
	$(BIN)/python -m pytest -q tests/e2e

bench: install
	@for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

# Refresh vendored front-end files from the npm registry (needs Node.js; running the app does not).
vendor:
	npm install --no-audit --no-fund
	mkdir -p static/vendor/bootstrap
	cp node_modules/bootstrap/dist/css/bootstrap.min.css node_modules/bootstrap/dist/js/bootstrap.bundle.min.js node_modules/bootstrap/LICENSE static/vendor/bootstrap/

clean:
	rm -rf $(VENV) instance/circuit_court.db*
