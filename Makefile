# Circuit Court — every set-up step a fresh machine needs.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export FLASK_APP := wsgi.py
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run install install-dev db gazetteer demo test test-money e2e lint bench vendor translations messages bench-geo bench-catalogue bench-pages bench-checkout bench-pick-list clean

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

# The demo's orders are confirmed by e-mails whose links lead to the site: its address
# (PUBLIC_URL, by default the one `make run` serves) is set before they are written.
demo: gazetteer
	PUBLIC_URL=$${PUBLIC_URL:-http://$(HOST):$(PORT)} $(BIN)/flask seed-demo --if-empty

# The server, with the scheduled jobs (expiry of unpaid orders, reminders, e-mail
# retries, slot generation: `flask jobs run`) beside it for as long as it runs.
run: demo mail-sink stripe-local
	@export MAIL_SERVER=127.0.0.1 MAIL_PORT=$(MAIL_SINK_PORT) \
		PUBLIC_URL=$${PUBLIC_URL:-http://$(HOST):$(PORT)}; \
	if [ -z "$$STRIPE_SECRET_KEY" ]; then set -a; . instance/stripe.env; set +a; fi; \
	$(BIN)/flask jobs run >> instance/jobs.log 2>&1 & jobs_pid=$$!; \
	trap 'kill $$jobs_pid 2>/dev/null' EXIT INT TERM; \
	echo "Scheduled jobs running (pid $$jobs_pid, log in instance/jobs.log)"; \
	$(BIN)/flask run --host $(HOST) --port $(PORT)

# The local SMTP server (aiosmtpd) `make run` sends e-mail to: started in the background
# unless something listens on the port already. E-mails land in instance/mail/*.eml;
# stop it with: kill $(cat instance/smtp_sink.pid)
MAIL_SINK_PORT ?= 8025
LISTENING = $(BIN)/python -c 'import socket, sys; sys.exit(socket.socket().connect_ex(("127.0.0.1", $(MAIL_SINK_PORT))) != 0)'

.PHONY: mail-sink
mail-sink: install
	@mkdir -p instance
	@if $(LISTENING); then \
		echo "An SMTP server already listens on 127.0.0.1:$(MAIL_SINK_PORT)."; \
	else \
		nohup $(BIN)/python scripts/smtp_sink.py --port $(MAIL_SINK_PORT) --dir instance/mail \
			>> instance/smtp_sink.log 2>&1 < /dev/null & echo $$! > instance/smtp_sink.pid; \
		for i in $$(seq 50); do $(LISTENING) && break; sleep 0.1; done; \
		$(LISTENING) || { tail -n 20 instance/smtp_sink.log; exit 1; }; \
		echo "SMTP sink on 127.0.0.1:$(MAIL_SINK_PORT) (pid $$(cat instance/smtp_sink.pid)): e-mails in instance/mail/, log in instance/smtp_sink.log"; \
	fi

# The fake Stripe (localstripe, scripts/localstripe_server.py) `make run` pays with, unless
# STRIPE_SECRET_KEY is set (real keys win): started in the background unless it already
# runs, with the app's webhook registered; the settings `run` sources are written to
# instance/stripe.env.
# Stop it with: kill $(cat instance/localstripe.pid)
STRIPE_LOCAL_PORT ?= 8420

.PHONY: stripe-local
stripe-local: install
	@if [ -n "$$STRIPE_SECRET_KEY" ]; then \
		echo "STRIPE_SECRET_KEY is set: using those Stripe settings, localstripe not started."; \
	else \
		$(BIN)/python scripts/localstripe_server.py --port $(STRIPE_LOCAL_PORT) \
			--webhook-url http://127.0.0.1:$(PORT)/stripe/webhook --instance instance; \
	fi

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

# The stateful test of money (tests/test_money_machine.py) at length: 300 random
# sequences of 50 steps (`make test` runs 25 of 30). A few minutes.
test-money: install-dev translations
	HYPOTHESIS_PROFILE=money-long $(BIN)/python -m pytest -q -ra $(PYTEST_ARGS) tests/test_money_machine.py

# ruff, then the import contracts of pyproject.toml (domains depend downhill, no cycles).
lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/lint-imports

e2e: install-dev translations ensure-chromium
	$(BIN)/python -m pytest -q -ra -m e2e $(PYTEST_ARGS) tests/e2e

bench: install
	@for script in bench/[!_]*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

bench-geo: install
	$(BIN)/python bench/geo_radius.py

bench-catalogue: install
	$(BIN)/python bench/catalogue.py

# The buyer's pages under gunicorn (2 sync workers) against a bare endpoint served the
# same way, driven by wrk (installed here when missing and root). SIZE=100000 for the
# large synthetic territory.
bench-pages: install
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -q wrk >/dev/null; } \
		|| { echo "wrk is missing: sudo apt-get install wrk"; exit 1; }
	$(BIN)/python bench/pages.py --size $${SIZE:-demo}

# gunicorn with 2 workers, 32 buyers placing orders for 60 s; fails on any oversold unit.
bench-checkout: install
	$(BIN)/python bench/checkout.py

# One farm's pick list for a slot with 5,000 order lines: one query, its time.
bench-pick-list: install
	$(BIN)/python bench/pick_list.py

# Category illustrations, the farm fallback and the favicon (marketplace/catalogue/illustrations.py
# names the same files; a test checks that each exists and that no other is kept).
ILLUSTRATIONS := carrot red-apple glass-of-milk cheese-wedge cut-of-meat poultry-leg fish egg \
	baguette-bread honey-pot beverage-box jar basket seedling

# Refresh vendored front-end files from the npm registry (needs Node.js; running the app does not).
vendor:
	npm install --no-audit --no-fund
	mkdir -p static/vendor/bootstrap
	cp node_modules/bootstrap/dist/css/bootstrap.min.css node_modules/bootstrap/dist/js/bootstrap.bundle.min.js node_modules/bootstrap/LICENSE static/vendor/bootstrap/
	rm -rf static/vendor/leaflet
	mkdir -p static/vendor/leaflet/images
	cp node_modules/leaflet/dist/leaflet.js node_modules/leaflet/dist/leaflet.css node_modules/leaflet/LICENSE static/vendor/leaflet/
	cp node_modules/leaflet/dist/images/*.png static/vendor/leaflet/images/
	node scripts/vendor_illustrations.mjs static/vendor/fluent-emoji-flat $(ILLUSTRATIONS)
	# axe-core checks every page of the browser tests for accessibility; never served.
	mkdir -p tests/e2e/vendor/axe-core
	cp node_modules/axe-core/axe.min.js node_modules/axe-core/LICENSE tests/e2e/vendor/axe-core/

clean:
	rm -rf $(VENV) instance/circuit_court.db*
