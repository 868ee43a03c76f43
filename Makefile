# The two commands a new machine needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000

.PHONY: demo test lint check run-checks vendor clean messages compilemessages

$(VENV)/.runtime: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e .
	touch $@

$(VENV)/.dev: $(VENV)/.runtime pyproject.toml
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $@

# The translations: locale/*/LC_MESSAGES/*.po are the source, the .mo files are built here
# (never committed). Needs GNU gettext (msgfmt): apt-get install gettext.
MESSAGE_ARGS := --ignore=.venv --ignore=var --ignore=static/vendor --ignore=node_modules \
	--ignore=build --ignore=tests --ignore=benchmarks --no-obsolete

compilemessages: $(VENV)/.runtime  ## Compile the translation catalogues (locale/*.po -> .mo)
	$(PY) manage.py compilemessages --ignore=.venv --ignore=var

messages: $(VENV)/.runtime  ## Collect the marked strings into locale/zh_Hans (both domains)
	$(PY) manage.py makemessages -l zh_Hans -d django $(MESSAGE_ARGS)
	$(PY) manage.py makemessages -l zh_Hans -d djangojs $(MESSAGE_ARGS)

demo: $(VENV)/.runtime compilemessages  ## Migrate the SQLite database, load the demo trial and serve it
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	$(PY) manage.py runserver 127.0.0.1:$(PORT)

# One test process per core (pytest-xdist), each test file kept in one process.
TEST_WORKERS ?= auto
test: $(VENV)/.dev compilemessages  ## Run the test suite (services chosen by DATABASE_URL / CELERY_BROKER_URL)
	$(VENV)/bin/pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .

check: $(VENV)/.dev  ## Django's checks and the migrations check
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run

run-checks: $(VENV)/.runtime  ## Run the background checks once, synchronously
	$(PY) manage.py run_checks

vendor:  ## Refresh static/vendor from npm (needs node)
	rm -rf var/npm && mkdir -p var/npm
	cd var/npm && npm init -y >/dev/null && npm install --silent bootstrap@5.3.9 chart.js@4.6.1 axe-core@4.14.1
	cp var/npm/node_modules/bootstrap/dist/css/bootstrap.min.css* static/vendor/bootstrap/
	cp var/npm/node_modules/bootstrap/dist/js/bootstrap.bundle.min.js* static/vendor/bootstrap/
	cp var/npm/node_modules/chart.js/dist/chart.umd.min.js* static/vendor/chartjs/
	# axe-core: loaded by the accessibility tests only, never by a page.
	mkdir -p static/vendor/axe-core
	cp var/npm/node_modules/axe-core/axe.min.js var/npm/node_modules/axe-core/LICENSE static/vendor/axe-core/

clean:
	rm -rf $(VENV) var/db.sqlite3 var/staticfiles
	find locale -name '*.mo' -delete
