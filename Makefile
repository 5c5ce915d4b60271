# Circuit Court — every set-up step a fresh machine needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export FLASK_APP := wsgi.py
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run install install-dev db gazetteer demo test e2e lint bench vendor translations messages bench-geo bench-catalogue clean

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
	$(BIN)/pybabel compile -d translations

# Extract every user-facing string and merge it into the French catalogue.
messages: install
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k lazy_ngettext:1,2 --no-location --sort-output -o translations/messages.pot .
	$(BIN)/pybabel update -i translations/messages.pot -d translations --no-fuzzy-matching

db: install translations
	$(BIN)/flask db upgrade

gazetteer: db
	$(BIN)/flask geo load-gazetteer --if-empty

demo: gazetteer
	$(BIN)/flask seed-demo --if-empty

run: demo
	$(BIN)/flask run --host $(HOST) --port $(PORT)

# Tests: the whole tests/ tree, browser journeys (tests/e2e) included. They use the
# database DATABASE_URL names, else SQLite files in temporary folders.
# Extra pytest options: make test PYTEST_ARGS="-x -k catalogue"
PYTEST_ARGS ?=

.PHONY: ensure-chromium
# Debian's chromium for tests/e2e: installed when root with apt-get, else a loud warning.
ensure-chromium:
	bash scripts/ensure-chromium.sh

test: install-dev translations ensure-chromium
	$(BIN)/python -m pytest -q -ra $(PYTEST_ARGS) tests

lint: install-dev
	$(BIN)/ruff check .

e2e: install-dev translations ensure-chromium
	$(BIN)/python -m pytest -q -ra -m e2e $(PYTEST_ARGS) tests/e2e

bench: install
	@for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

bench-geo: install
	$(BIN)/python bench/geo_radius.py

bench-catalogue: install
	$(BIN)/python bench/catalogue.py

# Refresh vendored front-end files from the npm registry (needs Node.js; running the app does not).
vendor:
	npm install --no-audit --no-fund
	mkdir -p static/vendor/bootstrap
	cp node_modules/bootstrap/dist/css/bootstrap.min.css node_modules/bootstrap/dist/js/bootstrap.bundle.min.js node_modules/bootstrap/LICENSE static/vendor/bootstrap/
	rm -rf static/vendor/leaflet
	mkdir -p static/vendor/leaflet/images
	cp node_modules/leaflet/dist/leaflet.js node_modules/leaflet/dist/leaflet.css node_modules/leaflet/LICENSE static/vendor/leaflet/
	cp node_modules/leaflet/dist/images/*.png static/vendor/leaflet/images/

clean:
	rm -rf $(VENV) instance/circuit_court.db*
