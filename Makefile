# mail_tracking_ext developer commands. Each one first runs scripts/bootstrap.py, which sets up
# everything (Odoo included) in .venv/$(ODOO_VERSION) on a fresh machine and takes a second after.
ODOO_VERSION ?= 18.0
export ODOO_VERSION
BASE_PYTHON ?= python3
ARGS ?=
VENV_PYTHON := .venv/$(ODOO_VERSION)/bin/python
# the project's environment, with a PostgreSQL server (the machine's, or the project's own)
IN_ENV := $(VENV_PYTHON) -m devtools.postgres $(VENV_PYTHON)

.PHONY: bootstrap run edge test test-all lint dist extension readme i18n screenshots bench bench-a1 bench-x1 bench-x2 bench-x3 bench-rewrite bench-send bench-reliability

## bootstrap: Debian packages, Odoo's verified source, .venv/$(ODOO_VERSION) (idempotent)
bootstrap:
	@$(BASE_PYTHON) scripts/bootstrap.py

## run: Odoo with demo data on http://localhost:8069 + mail catcher on http://localhost:1080
##      make run ARGS=--workers=2   (prefork with the gevent worker, as in production)
run: bootstrap
	@$(IN_ENV) scripts/run.py $(ARGS)

## edge: the standalone tracking edge (gunicorn, no Odoo) on http://127.0.0.1:8070/email-tracking/,
##       against the database of make run; e.g. make edge ARGS="--workers 4 --bind 0.0.0.0:8070"
edge: bootstrap
	@$(IN_ENV) scripts/edge.py $(ARGS)

## test: the addon's Odoo tests (pytest-odoo) + the end-to-end suite; last line "N passed, N failed"
test: bootstrap
	@$(IN_ENV) scripts/test.py $(ARGS)

## test-all: make test on every supported Odoo version, one after the other (what CI runs);
##           each version runs even if the one before failed
SUPPORTED_VERSIONS := 18.0 19.0
test-all:
	@status=0; for version in $(SUPPORTED_VERSIONS); do \
		echo "=== Odoo $$version: make test ==="; \
		$(MAKE) --no-print-directory test ODOO_VERSION=$$version || status=1; \
	done; exit $$status

## bench: performance benchmarks (tests/bench), not part of `make test`
bench: bootstrap
	@$(IN_ENV) -m pytest tests/bench -q -p no:odoo --bench $(ARGS)

## bench-a1: A1/A3 (the labelled corpus tests/a1_corpus.json replayed through Odoo in proxy mode:
##           precision and recall per source, machines recognised, confusion table); ~1 min.
bench-a1: bootstrap
	@$(IN_ENV) tests/bench/bench_a1.py $(ARGS)

## bench-x1: SPEC X1 in one go (wrk on /web/health, our open/click routes through the fast path and
##           the standalone edge, mass_mailing's and OCA mail_tracking's pixels, same server, alternating;
##           Odoo with --db-filter then -d only; checks no event is lost; the R4 burst of 5,000
##           recipients; throw-away database); markdown on stdout, ~13 min.
##           e.g. make bench-x1 ARGS="--configs d --rounds 1 --duration 10"  |  ARGS="--profile 8" (py-spy)
bench-x1: bootstrap
	@$(IN_ENV) tests/bench/bench_routes.py $(ARGS)

## bench-x2: SPEC X2 in one go (rewrite 100 KB/100 links + send 1,000 mails tracked vs untracked
##           to a local SMTP sink, throw-away database); markdown on stdout, ~2-3 min.
##           e.g. make bench-x2 ARGS="--profile 300"  |  ARGS="--db mydb --mails 300"
bench-x2: bootstrap
	@$(IN_ENV) tests/bench/run_x2.py $(ARGS)

## bench-x3: SPEC X3 in one go (chatter, lists, statistics and activity feed read with 1,000,000 events)
##           e.g. make bench-x3 ARGS="--emails 1000 --events-per-email 100"
bench-x3: bootstrap
	@$(IN_ENV) tests/bench/bench_x3.py $(ARGS)

## bench-reliability: SPEC R7 (PostgreSQL restarted with -m fast and -m immediate during a burst of opens
##           and clicks on Odoo and the edge, on a throw-away private cluster: requests during each fault,
##           answered, recorded, lost, latency during the outage, recovery time); markdown on stdout, ~3 min.
##           e.g. make bench-reliability ARGS="--rounds 3 --after 10"
bench-reliability: bootstrap
	@$(IN_ENV) tests/bench/bench_reliability.py $(ARGS)

## bench-rewrite: only the rewrite_links/add_open_pixel timing (no database, seconds)
bench-rewrite: bootstrap
	@$(VENV_PYTHON) tests/bench/bench_rewrite.py $(ARGS)

## bench-send: only the tracked vs untracked send timing (throw-away database)
bench-send: bootstrap
	@$(IN_ENV) tests/bench/bench_send.py $(ARGS)

## lint: ruff, OCA's pylint-odoo and the README.rst of each addon (also a suite of make test)
lint: bootstrap
	@$(VENV_PYTHON) scripts/lint.py

## dist: the addons as wheels in dist/ (odoo-addon-mail_tracking_ext and the bridges), as OCA builds them
dist: bootstrap
	@$(VENV_PYTHON) devtools/dist.py

## extension: the Gmail extension (extensions/gmail/) built with npm from the registry and zipped for the
##            Chrome Web Store: dist/mail_tracking_ext-gmail-<version>.zip (and -firefox.zip for Firefox)
extension: bootstrap
	@cd extensions/gmail && npm ci --no-audit --no-fund --loglevel=error && npm run --silent package

## readme: write each addon's README.rst from its readme/ fragments
readme: bootstrap
	@$(VENV_PYTHON) devtools/readme.py

## i18n: export the addons' .pot files with Odoo and merge them into their it.po (then translate)
i18n: bootstrap
	@$(IN_ENV) devtools/i18n.py $(ARGS)

## screenshots: the addon's screens as its users see them, English and Italian, into .screenshots/
##              e.g. make screenshots ARGS="--scene composer --lang it_IT"
screenshots: bootstrap
	@$(IN_ENV) scripts/screenshots.py $(ARGS)
