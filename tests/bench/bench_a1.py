#!/usr/bin/env python3
"""A1/A3 in one go: replay the labelled corpus of tracking requests
(tests/a1_corpus.json) through a real Odoo server in proxy mode on a throw-away
database, and print precision and recall per source, the share of machine
events recognised as machines and the confusion table (markdown).

    make bench-a1
"""

import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.dirname(os.path.dirname(HERE)), os.path.dirname(HERE)]

from a1_replay import load_corpus, markdown, meets_targets, replay, score  # noqa: E402

from devtools import odoo_runtime as rt  # noqa: E402
from devtools.mail_catcher import MailCatcher  # noqa: E402

from e2e_crm import create_salesperson, unfollow_admin  # noqa: E402


def main():
    start = time.monotonic()
    db = f"mtx_bench_a1_{os.getpid()}"
    rt.create_db(db)
    try:
        rc, log = rt.install(db, rt.MODULE, demo=False)
        rt.assert_clean_run(rc, log, f"installing {rt.MODULE} on {db}")
        with MailCatcher(smtp_port=0, http_port=0) as catcher:
            server = rt.OdooServer(db, smtp_port=catcher.smtp_port, extra_args=["--proxy-mode"])
            rt.query(db, "UPDATE ir_mail_server SET active = false")
            rt.query(db, "UPDATE ir_config_parameter SET value = %s WHERE key = 'web.base.url'", (server.url,))
            with server:
                salesperson = create_salesperson(server, "a1sales")
                lead = server.rpc("crm.lead", "create", {"name": "A1 corpus", "type": "opportunity",
                                                         "user_id": server.login("a1sales", "a1sales-pw")})
                unfollow_admin(server, lead)
                results = replay(server, catcher, salesperson, lead)
    finally:
        rt.drop_db(db)
    scores = score(results)
    scenarios = load_corpus()
    print(f"## A1/A3: {len(scenarios)} scenarios of tests/a1_corpus.json through Odoo in proxy mode\n")
    print(markdown(scores))
    verdict = "MET" if meets_targets(scores) else "NOT MET"
    print(f"\nTargets (human precision and recall >= 95 %, machines recognised >= 95 %): **{verdict}**")
    print(f"\n_{time.monotonic() - start:.0f} s in all. Command: `make bench-a1`._")
    return 0 if meets_targets(scores) else 1


if __name__ == "__main__":
    sys.exit(main())
