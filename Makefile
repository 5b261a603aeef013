# mail_tracking_ext developer commands. Needs Odoo 18 importable by python3 (see README).
PYTHON ?= python3
ARGS ?=

.PHONY: run test bench bench-x1 bench-x2 bench-x3 bench-rewrite bench-send

## run: Odoo with demo data on http://localhost:8069 + mail catcher on http://localhost:1080
run:
	$(PYTHON) scripts/run.py $(ARGS)

## test: the addon's Odoo tests + the end-to-end pytest suite; last line "N passed, N failed"
test:
	$(PYTHON) scripts/test.py $(ARGS)

## bench: performance benchmarks (tests/bench), not part of `make test`
bench:
	@if [ -d tests/bench ]; then \
		$(PYTHON) -m pytest tests/bench -q --bench $(ARGS); rc=$$?; \
		if [ $$rc -eq 5 ]; then echo "no pytest benchmarks collected in tests/bench"; else exit $$rc; fi; \
	else \
		echo "no benchmarks yet (tests/bench does not exist)"; \
	fi

## bench-x1: SPEC X1 in one go (wrk on /web/health, our open/click routes, mass_mailing's and OCA
##           mail_tracking's pixels, same server, alternating; checks no event is lost; throw-away
##           database); markdown on stdout, ~4 min. Needs wrk (apt-get install wrk).
##           e.g. make bench-x1 ARGS="--rounds 1 --duration 10"  |  ARGS="--profile 8" (py-spy)
bench-x1:
	$(PYTHON) tests/bench/bench_routes.py $(ARGS)

## bench-x2: SPEC X2 in one go (rewrite 100 KB/100 links + send 1,000 mails tracked vs untracked
##           to a local SMTP sink, throw-away database); markdown on stdout, ~2-3 min.
##           e.g. make bench-x2 ARGS="--profile 300"  |  ARGS="--db mydb --mails 300"
bench-x2:
	$(PYTHON) tests/bench/run_x2.py $(ARGS)

## bench-x3: SPEC X3 in one go (chatter, lists, statistics and activity feed read with 1,000,000 events)
##           e.g. make bench-x3 ARGS="--emails 1000 --events-per-email 100"
bench-x3:
	$(PYTHON) tests/bench/bench_x3.py $(ARGS)

## bench-rewrite: only the rewrite_links/add_open_pixel timing (no database, seconds)
bench-rewrite:
	$(PYTHON) tests/bench/bench_rewrite.py $(ARGS)

## bench-send: only the tracked vs untracked send timing (throw-away database)
bench-send:
	$(PYTHON) tests/bench/bench_send.py $(ARGS)
