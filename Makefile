# `make run`: everything from nothing to a running demo. `make test`: the test suite.
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
export PORT

.PHONY: install run test lint format bench clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@echo "==> Python packages: installing into $(VENV) (first run only)"
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

# Front-end packages (the calendar widget) from package-lock.json; Django serves them from node_modules.
node_modules/.package-lock.json: package.json package-lock.json
	@echo "==> Front-end packages: npm ci (first run only)"
	npm ci --no-audit --no-fund

install: $(VENV)/.installed node_modules/.package-lock.json

# Each step says what it does before it starts (trial 16: about 3.5 minutes passed without a word
# on a shared 2-core machine); migrate names each migration it applies.
run: install
	@echo "==> 1/5 Database: applying migrations (the first run takes a minute or two)"
	$(PY) manage.py migrate --noinput -v 1
	@echo "==> 2/5 Demo data: technicians, teams, requests and appointments (skipped when there)"
	$(PY) manage.py seed_demo
	@echo "==> 3/5 Demo CalDAV server (Radicale): the technicians' calendars"
	$(PY) manage.py demo_radicale
	@echo "==> 4/5 Static files: collecting"
	$(PY) manage.py collectstatic --noinput -v 0
	@echo ""
	@echo "Helpdesk: http://127.0.0.1:$(PORT)/   admin: http://127.0.0.1:$(PORT)/admin/"
	@echo "==> 5/5 Starting web, Celery worker and beat (Ctrl-C stops all)"
	# honcho's line prefix and Radicale's times in UTC, like the helpdesk's own log lines.
	TZ=UTC $(VENV)/bin/honcho start

# Two processes (pytest-xdist), a file's tests kept together (its servers are started once);
# each has its own test database and Redis database (helpdesk/settings.py). `pytest -n 0` runs in one.
# Files keep pytest-django's order (transactional tests last: they empty the database after them).
# HYPOTHESIS_PROFILE=long: the long property budgets. --durations lists the 25 slowest steps, to
# keep the run within its 15-minute budget.
test: install
	$(VENV)/bin/pytest -n 2 --dist loadfile --durations=25

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: install
	$(PY) bench/calendar_queries.py

clean:
	rm -rf $(VENV) var staticfiles db.sqlite3 node_modules
