# Two commands for a newcomer: `make run` and `make test`. Everything else is here for them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test test-fast install lint bench bench-queue bench-pages browser translations translations-update \
	translations-compile

# Compiled modules (and pytest's rewritten test modules) are kept in __pycache__ (git ignores it), whatever the
# shell says: compiling them all again costs every test process several seconds.
unexport PYTHONDONTWRITEBYTECODE

$(BIN)/flask: requirements.txt constraints.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $(BIN)/flask

node_modules/nhsuk-frontend/package.json: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# The pages' one stylesheet and one script, the design system's components Speak Up uses and its own rules,
# content-hashed and compressed into speakup/static/build/ (which the wheel carries), with
# speakup/static/manifest.json naming them (assets/build.mjs).
speakup/static/manifest.json: node_modules/nhsuk-frontend/package.json $(wildcard assets/*) package.json
	npm run --silent build

## Translations (docs/translating.md). `make translations`: every marked string into the template
# speakup/translations/messages.pot, and those of the reporter's pages only (babel-reporter.cfg) into
# speakup/translations/reporter.pot, the template of a reporter-side language; `make translations-update`: each
# language's messages.po brought up to its template (reporter.pot for a reporter-side language, else messages.pot);
# `make translations-compile`: each messages.po compiled to the messages.mo the service reads (git ignores them,
# the wheel carries them: build it after this). `make install` compiles them too.
translations: $(BIN)/flask
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_ngettext:1,2 -k shipped_text --no-location --sort-output \
		--project=speakup -o speakup/translations/messages.pot .
	$(BIN)/pybabel extract -F babel-reporter.cfg -k _l -k lazy_ngettext:1,2 -k shipped_text --no-location \
		--sort-output --project=speakup -o speakup/translations/reporter.pot .

translations-update: translations
	for po in speakup/translations/*/LC_MESSAGES/messages.po; do \
		[ -e "$$po" ] || continue; \
		code="$$(basename "$$(dirname "$$(dirname "$$po")")")"; \
		template="$$($(BIN)/python -c 'import sys; from speakup.platform.languages import template; print(template(sys.argv[1]))' "$$code")"; \
		$(BIN)/pybabel update --no-fuzzy-matching -w 120 -i "speakup/translations/$$template" -o "$$po" -l "$$code"; \
	done

speakup/translations/.compiled: $(BIN)/flask $(wildcard speakup/translations/*/LC_MESSAGES/messages.po)
	for po in speakup/translations/*/LC_MESSAGES/messages.po; do \
		[ -e "$$po" ] || continue; \
		$(BIN)/pybabel compile --statistics -i "$$po" -o "$${po%.po}.mo"; \
	done
	touch $@

translations-compile: speakup/translations/.compiled

install: $(BIN)/flask speakup/static/manifest.json speakup/translations/.compiled

## Start the service on SQLite (development mode, demo guardian printed) at http://127.0.0.1:5000
# Development mode generates its secrets in instance/; MFA is off unless SPEAKUP_REQUIRE_MFA=true.
DEV_ENV := SPEAKUP_ENVIRONMENT=development SPEAKUP_REQUIRE_MFA=$${SPEAKUP_REQUIRE_MFA:-false}
run: install
	$(DEV_ENV) $(BIN)/flask --app wsgi speakup init --recovery-key-file instance/recovery-key.txt
	$(DEV_ENV) $(BIN)/flask --app wsgi speakup demo --recovery-key-file instance/recovery-key.txt
	$(DEV_ENV) $(BIN)/flask --app wsgi run

## Run every test (SQLite always; PostgreSQL too when SPEAKUP_TEST_DATABASE_URL is set).
## The browser tests need Debian's Chromium, the markup check Java and the nginx test nginx (in /usr/sbin, off a
## user's PATH; the test starts its own, never the package's service): installed here when run as root, otherwise asked for.
browser:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; } || { echo "The browser tests need Chromium: sudo apt-get install -y chromium"; exit 1; }
	@command -v java >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q default-jre-headless; } || { echo "The markup check needs Java: sudo apt-get install -y default-jre-headless"; exit 1; }
	@command -v msgfmt >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q gettext; } || { echo "The catalogue check needs gettext: sudo apt-get install -y gettext"; exit 1; }
	@{ command -v nginx || test -x /usr/sbin/nginx; } >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx; } || { echo "The nginx test needs nginx: sudo apt-get install -y nginx"; exit 1; }

test: install browser
	$(BIN)/ruff check speakup tests config bench
	$(BIN)/mypy
	$(BIN)/python -m pytest

## The quick loop: every test but tests/system (no servers, no browser), in two processes.
# worksteal: an idle process takes tests from the other, so the long ones do not leave one waiting at the end.
# Only tests/system uses schemathesis and anyio's pytest plugins: not loading them saves each process a second or two.
test-fast: install
	$(BIN)/ruff check speakup tests config bench
	$(BIN)/mypy
	$(BIN)/python -m pytest -n 2 --dist worksteal -p no:schemathesis -p no:anyio -m "not thorough" tests --ignore=tests/system

lint: install
	$(BIN)/ruff check speakup tests config bench
	$(BIN)/mypy

## Measured speed through gunicorn at 1,000 and 100,000 real encrypted cases, beside two floors (bare Flask +
## SQLAlchemy, and the same doing a concern's sealing and wrapping) (SQLite; PostgreSQL with SPEAKUP_BENCH_DATABASE_URL naming a database bench or bench_*, whose
## bench_<size> databases are wiped). BENCH_QUICK=1 checks the harness in minutes. See BENCHMARKS.md.
bench: install
	$(BIN)/python -m bench.run

## The guardian queue pages only (part of `make bench`).
bench-queue: install
	$(BIN)/python -m bench.run --only queue

## Lighthouse's mobile performance score (and page weight) of /, /raise and /follow-up in Debian's Chromium.
bench-pages: install browser
	$(BIN)/python -m bench.pages
