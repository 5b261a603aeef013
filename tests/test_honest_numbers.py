"""A1, A3 measured: the labelled corpus of request traces (tests/a1_corpus.json)
replayed through a real Odoo server behind a reverse proxy (``--proxy-mode``,
the client's address in X-Forwarded-For), with real delivery through SMTP.
The suite fails below the targets; ``make bench-a1`` prints the same figures."""

import time

from a1_replay import body_with_links, markdown, meets_targets, replay, score

from devtools import odoo_runtime as rt

from e2e_crm import Salesperson, delivered_ago, get_at_once, html_part, visible_links

CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/126.0.0.0 Safari/537.36")


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


def test_a3_links_followed_at_the_same_instant_are_a_program(odoo_server, mail_catcher, crm):
    """A gateway follows every link of a copy in parallel, a minute after delivery:
    the requests do not see each other's events, so each looks like a person's
    click at first; once committed they are judged again together, and the copy
    ends with no person's click, its status back to sent."""
    contact = odoo_server.rpc("res.partner", "create", {"name": "Parallel", "email": "parallel@gateway.example"})
    mail_catcher.clear()
    message_id = crm["sales"].post(crm["lead"], [contact], body=body_with_links(0, 3))
    body = html_part(mail_catcher.wait_for(1)[0])
    delivered_ago(odoo_server.db, message_id, 60)
    links = [url for url, _token, _ref in visible_links(body)]
    assert get_at_once(links, CHROME) == [302] * len(links)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        rows = rt.query(odoo_server.db, """
            SELECT r.state, array_agg(DISTINCT e.source) FROM mail_tracked_recipient r
              JOIN mail_tracked_event e ON e.recipient_id = r.id
             WHERE r.message_id = %s GROUP BY r.state""", (message_id,))
        if rows == [("sent", ["scanner"])]:
            break
        time.sleep(0.2)
    assert rows == [("sent", ["scanner"])], rows
