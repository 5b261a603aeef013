"""The standalone tracking edge (addons/mail_tracking_ext/tools/edge.py) under gunicorn, in
front of the same PostgreSQL database as a real Odoo: what it records, how it answers, and
that Odoo's web clients hear of it through Odoo's bus (X1, issue 12)."""

import json
import time
from contextlib import contextmanager

import requests
from a1_replay import body_with_links
from test_tracking_e2e import connect_websocket, next_notification

from devtools import odoo_runtime as rt

from e2e_crm import PIXEL, Salesperson, delivered_ago, get_at_once, html_part, visible_links

CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/126.0.0.0 Safari/537.36")
GIF_START = b"GIF89a"


def events_of(db, message_id):
    return rt.query(db, """
        SELECT e.event_type, e.source, e.is_inferred, e.url FROM mail_tracked_event e
          JOIN mail_tracked_recipient r ON r.id = e.recipient_id
         WHERE r.message_id = %s ORDER BY e.id""", (message_id,))


def state_of(db, message_id):
    return rt.query(db, "SELECT state FROM mail_tracked_recipient WHERE message_id = %s", (message_id,))[0][0]


@contextmanager
def sent_while_listening(server, mail_catcher, crm, contact, body):
    """The salesperson, subscribed to Odoo's bus over a real websocket, sends ``body``
    to ``contact`` from the opportunity: ``(socket, message id, delivered body)``, the
    email delivered an hour ago."""
    author = Salesperson(server, crm["sales_login"], f"{crm['sales_login']}-pw")
    socket = connect_websocket(server, author.session.cookies["session_id"])
    try:
        socket.send(json.dumps({"event_name": "subscribe", "data": {"channels": [], "last": 0}}))
        mail_catcher.clear()
        message_id = author.post(crm["lead"], [contact], body=body)
        delivered = html_part(mail_catcher.wait_for(1)[0])
        delivered_ago(server.db, message_id, 3600)
        yield socket, message_id, delivered
    finally:
        socket.close()


def test_x1_edge_records_as_odoo_and_the_author_hears_it_live(odoo_server, mail_catcher, crm):
    server = rt.OdooServer(odoo_server.db, workers=2, smtp_port=mail_catcher.smtp_port)
    with server, rt.EdgeServer(odoo_server.db, workers=2) as edge:
        with sent_while_listening(server, mail_catcher, crm, crm["anna"], body_with_links(0, 1)) as (
                socket, message_id, body):
            pixel = PIXEL.search(body).group(1).replace(odoo_server.url, edge.url)
            (link, _token, _ref), = visible_links(body)
            opened = requests.get(pixel, timeout=10, headers={"User-Agent": CHROME})
            assert opened.status_code == 200 and opened.content.startswith(GIF_START)
            assert "no-store" in opened.headers["Cache-Control"]
            update = next_notification(socket, "mail_tracking_ext/engagement",
                                       lambda payload: payload.get("message_id") == message_id)
            clicked = requests.get(link.replace(odoo_server.url, edge.url), allow_redirects=False, timeout=10,
                                   headers={"User-Agent": CHROME})
            target = rt.query(odoo_server.db, "SELECT tracked_links FROM mail_message WHERE id = %s",
                              (message_id,))[0][0]
        edge_log = edge.log_text()
        odoo_log = server.log_text()
    assert update["for_author"] and update["event"] == "open" and update["recipient"]["name"] == "Anna"
    assert clicked.status_code == 302 and clicked.headers["Location"] in target.values()
    assert events_of(odoo_server.db, message_id) == [
        ("open", "human", False, None), ("click", "human", False, clicked.headers["Location"])]
    assert state_of(odoo_server.db, message_id) == "clicked"
    assert not rt.log_problems(odoo_log), rt.log_problems(odoo_log)
    assert "Traceback" not in edge_log, edge_log[-3000:]


def test_x1_edge_refuses_and_explains_as_odoo_does(odoo_server, mail_catcher, crm):
    mail_catcher.clear()
    message_id = crm["sales"].post(crm["lead"], [crm["bruno"]], body=body_with_links(0, 1))
    body = html_part(mail_catcher.wait_for(1)[0])
    (link, token, _ref), = visible_links(body)
    with rt.EdgeServer(odoo_server.db, workers=1) as edge:
        # gunicorn refuses request lines over 4 KB itself, as a reverse proxy would
        assert requests.get(f"{edge.url}/email-tracking/open/{'x' * 5000}.gif", timeout=10).status_code == 400
        hostile = ["x" * 1000, "%27%20OR%20%271%27%3D%271", "..%2F..%2Fetc%2Fpasswd", token.upper(), "%00"]
        for bad in hostile:
            answer = requests.get(f"{edge.url}/email-tracking/open/{bad}.gif", timeout=10)
            assert answer.status_code == 200 and answer.content.startswith(GIF_START), bad
            answer = requests.get(f"{edge.url}/email-tracking/click/{bad}/{'a' * 12}", timeout=10,
                                  allow_redirects=False)
            assert answer.status_code == 404 and "Location" not in answer.headers, bad
        # a link that leads nowhere (its email has no such link), in the visitor's language
        expired = requests.get(f"{edge.url}/email-tracking/click/{token}/{'0' * 12}", timeout=10,
                               headers={"Accept-Language": "it-IT,it;q=0.9"})
        assert expired.status_code == 404 and 'lang="it"' in expired.text and "scaduto" in expired.text
        assert requests.post(link.replace(odoo_server.url, edge.url), timeout=10).status_code == 405
        assert requests.head(link.replace(odoo_server.url, edge.url), timeout=10).status_code == 302
    assert events_of(odoo_server.db, message_id) == [], "nothing recorded for any of them"


def test_x1_a3_edge_judges_parallel_links_once_committed(odoo_server, mail_catcher, crm):
    """A gateway follows every link of a copy at once through the edge: each request
    alone looks like a person's click; judged again after the commit, they are a program's."""
    contact = odoo_server.rpc("res.partner", "create", {"name": "Gateway", "email": "edge@gateway.example"})
    mail_catcher.clear()
    message_id = crm["sales"].post(crm["lead"], [contact], body=body_with_links(0, 3))
    body = html_part(mail_catcher.wait_for(1)[0])
    delivered_ago(odoo_server.db, message_id, 60)
    with rt.EdgeServer(odoo_server.db, workers=2) as edge:
        links = [url.replace(odoo_server.url, edge.url) for url, _token, _ref in visible_links(body)]
        assert get_at_once(links, CHROME) == [302] * len(links)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and state_of(odoo_server.db, message_id) != "sent":
            time.sleep(0.2)
    sources = {source for _type, source, _inferred, _url in events_of(odoo_server.db, message_id)}
    assert (state_of(odoo_server.db, message_id), sources) == ("sent", {"scanner"})


def test_x1_fast_path_in_production_mode(odoo_server, mail_catcher, crm):
    """The fast path in front of Odoo's prefork workers, on its own connections (not
    a test transaction): 64 simultaneous first opens and 64 first clicks of one copy
    are each recorded once, the state moves once, one open is inferred, the author
    hears of it over the websocket, and no request fell back to Odoo's routes."""
    server = rt.OdooServer(odoo_server.db, workers=2, smtp_port=mail_catcher.smtp_port)
    with server:
        with sent_while_listening(server, mail_catcher, crm, crm["bruno"], body_with_links(1, 1)) as (
                socket, message_id, body):
            pixel = PIXEL.search(body).group(1).replace(odoo_server.url, server.url)
            (link, _token, _ref), = visible_links(body)
            link = link.replace(odoo_server.url, server.url)
            assert set(get_at_once([link] * 64, CHROME)) == {302}
            assert set(get_at_once([pixel] * 64, CHROME)) == {200}
            update = next_notification(socket, "mail_tracking_ext/engagement",
                                       lambda payload: payload.get("message_id") == message_id)
            fast_path_connections = rt.query("postgres", """
                SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND application_name LIKE 'odoo-%%-tracking'
            """, (odoo_server.db,))[0][0]
        log = server.log_text()
    assert fast_path_connections >= 1, "the HTTP workers recorded on the fast path's connections"
    events = events_of(odoo_server.db, message_id)
    assert sum(1 for kind, *_rest in events if kind == "click") == 64
    assert sum(1 for kind, _source, inferred, _url in events if kind == "open" and not inferred) == 64
    assert sum(1 for _kind, _source, inferred, _url in events if inferred) == 1
    assert state_of(odoo_server.db, message_id) == "clicked"
    assert update["for_author"] and update["event"] == "click"
    assert "leaving the request to Odoo" not in log and not rt.log_problems(log), rt.log_problems(log) or log[-3000:]


def test_x1_edge_records_an_email_of_no_record_and_no_author(odoo_server, mail_catcher, crm):
    """An email whose author was deleted and that belongs to no record: nobody to tell,
    the open is still recorded (no bus message at all)."""
    mail_catcher.clear()
    message_id = crm["sales"].post(crm["lead"], [crm["anna"]], body=body_with_links(2, 1))
    body = html_part(mail_catcher.wait_for(1)[0])
    rt.query(odoo_server.db, "UPDATE mail_message SET author_id = NULL, model = NULL, res_id = NULL WHERE id = %s",
             (message_id,))
    with rt.EdgeServer(odoo_server.db, workers=1) as edge:
        opened = requests.get(PIXEL.search(body).group(1).replace(odoo_server.url, edge.url), timeout=10,
                              headers={"User-Agent": CHROME})
        log = edge.log_text()
    assert opened.status_code == 200 and opened.content.startswith(GIF_START)
    assert events_of(odoo_server.db, message_id) == [("open", "human", False, None)]
    assert "Traceback" not in log, log[-3000:]
