"""A1, A3 measured: the labelled corpus of request traces (tests/a1_corpus.json)
replayed through a real Odoo server behind a reverse proxy (``--proxy-mode``,
the client's address in X-Forwarded-For), with real delivery through SMTP.
The suite fails below the targets; ``make bench-a1`` prints the same figures."""

from a1_replay import markdown, meets_targets, replay, score

from devtools import odoo_runtime as rt

from e2e_crm import Salesperson


def test_a1_a3_corpus_meets_the_targets_through_a_real_server(odoo_server, mail_catcher, crm):
    server = rt.OdooServer(odoo_server.db, smtp_port=mail_catcher.smtp_port, extra_args=["--proxy-mode"])
    with server:
        salesperson = Salesperson(server, crm["sales_login"], f"{crm['sales_login']}-pw")
        results = replay(server, mail_catcher, salesperson, crm["lead"])
        log = server.log_text()
    scores = score(results)
    print(markdown(scores))
    assert meets_targets(scores), markdown(scores)
    assert not rt.log_problems(log), rt.log_problems(log)
