"""End to end: a salesperson sends from the chatter of a running Odoo, a real
SMTP server receives what was delivered, and the recipient's mail client
(``requests``) loads pixels and follows links over HTTP (SPEC T1-T11, R2, R5);
a logged email reaches a new address whole and is logged without what the
company does not keep (L3, L6)."""
import base64
import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import websocket

from devtools import odoo_runtime as rt

from e2e_crm import (
    BODY,
    CLICK,
    PIXEL,
    TRICKY_URL,
    Salesperson,
    crm_on,
    delivered_ago,
    html_part,
    to_of,
    tracking_of,
    visible_links,
)


def test_t1_t2_t7_each_recipient_tracked_separately_over_real_smtp_and_http(odoo_server, mail_catcher, crm):
    mail_catcher.clear()
    message_id = crm["sales"].post(crm["lead"], [crm["anna"], crm["bruno"]], queue=True)
    # a raw address added to the same email (as a template's "To" does) goes in one SMTP message
    mail = odoo_server.rpc("mail.mail", "search", [("mail_message_id", "=", message_id)])
    odoo_server.rpc("mail.mail", "write", mail, {"email_to": "raw1@elsewhere.example, raw2@elsewhere.example"})
    odoo_server.rpc("mail.mail", "send", mail)
    delivered = {to_of(m): m for m in mail_catcher.wait_for(3)}
    assert len(delivered) == 3
    bodies = {to: html_part(m) for to, m in delivered.items()}
    anna_to = next(to for to in bodies if f"anna{crm['suffix']}" in to)
    bruno_to = next(to for to in bodies if f"bruno{crm['suffix']}" in to)
    raw_to = next(to for to in bodies if "raw1@" in to)
    tokens = {to: PIXEL.search(body).group(2) for to, body in bodies.items()}
    assert len(set(tokens.values())) == 3, "each SMTP message has its own token"
    for to, body in bodies.items():
        assert {match.group(2) for match in CLICK.finditer(body)} == {tokens[to]}
        assert 'href="mailto:sales@mycompany.example"' in body
        assert "shop.example" not in body, "original URLs stay on the server"

    records = {r["email"]: r for r in tracking_of(odoo_server, message_id)}
    anonymous = records["raw1@elsewhere.example, raw2@elsewhere.example"]
    assert anonymous["partner_id"] is False, "T7: raw addresses sent together are anonymous"

    pixel_url = PIXEL.search(bodies[anna_to]).group(1)
    response = requests.get(pixel_url, headers={"User-Agent": "Mozilla/5.0 Thunderbird"}, timeout=10)
    assert response.status_code == 200 and response.headers["Content-Type"] == "image/gif"
    assert "no-store" in response.headers["Cache-Control"]
    records = {r["partner_id"] and r["partner_id"][0]: r for r in tracking_of(odoo_server, message_id)}
    assert (records[crm["anna"]]["state"], records[crm["anna"]]["open_count"]) == ("opened", 1)
    assert (records[crm["bruno"]]["state"], records[crm["bruno"]]["open_count"]) == ("sent", 0)

    second_link = CLICK.findall(bodies[anna_to])[1][0]
    response = requests.get(second_link, allow_redirects=False, timeout=10)
    assert response.status_code == 302
    assert response.headers["Location"] == TRICKY_URL
    clicks = odoo_server.rpc("mail.tracked.event", "search_read",
                             [("recipient_id.message_id", "=", message_id), ("event_type", "=", "click")],
                             ["recipient_id", "url"])
    anna_record = next(r for r in tracking_of(odoo_server, message_id)
                       if r["partner_id"] and r["partner_id"][0] == crm["anna"])
    assert [(c["recipient_id"][0], c["url"]) for c in clicks] == [(anna_record["id"], TRICKY_URL)]
    # R2: whatever the request says, the target comes from the server
    response = requests.get(second_link + "?url=https://evil.example/&next=//evil.example",
                            allow_redirects=False, timeout=10)
    assert response.headers["Location"] == TRICKY_URL
    response = requests.get(second_link[:-2] + "00?url=https://evil.example/", allow_redirects=False, timeout=10)
    assert response.status_code == 404 and "Location" not in response.headers
    del bruno_to, raw_to


def test_l3_l6_logged_email_to_a_new_address_delivered_whole_logged_without_big_file(
        odoo_server, mail_catcher, crm):
    """From the opportunity's chatter, Log on, to Anna and to an address not in the
    CRM: both receive the 2 MB attachment over SMTP; over the 1 MB limit, the logged
    email keeps only the small one and says why; the new contact is the sender's."""
    suffix = crm["suffix"]
    group = odoo_server.rpc("ir.model.data", "search_read",
                            [("module", "=", "base"), ("name", "=", "group_partner_manager")], ["res_id"])
    sales_uid = odoo_server.rpc("res.users", "search", [("login", "=", f"sales{suffix}")])[0]
    odoo_server.rpc("res.users", "write", [sales_uid], {rt.USER_GROUPS_FIELD: [(4, group[0]["res_id"])]})
    company = odoo_server.rpc("res.company", "search", [], limit=1)
    odoo_server.rpc("res.company", "write", company, {"mail_logging_attachment_max_mb": 1})
    try:
        session, url = crm["sales"].session, crm["sales"].server.url
        attachments = [session.post(f"{url}/web/dataset/call_kw", json={"params": {
            "model": "ir.attachment", "method": "create", "args": [{
                "name": name, "datas": base64.b64encode(content).decode(),
                "res_model": "mail.compose.message", "res_id": 0}], "kwargs": {}}}, timeout=30).json()["result"]
            for name, content in (("listino.zip", b"z" * (2 * 1024 * 1024)), ("offerta.pdf", b"%PDF-1.4 small"))]
        mail_catcher.clear()
        response = session.post(f"{url}/mail/message/post", json={"params": rt.message_post_params({
            "thread_model": "crm.lead", "thread_id": crm["lead"],
            "post_data": {"body": BODY, "message_type": "comment", "subtype_xmlid": "mail.mt_comment",
                          "partner_ids": [crm["anna"]], "attachment_ids": attachments, "log_email": True},
            "partner_emails": [f"nina{suffix}@newco.example"],
            "context": {"mail_notify_force_send": True},
        })}, timeout=60).json()
        assert "error" not in response, response
        message_id = rt.posted_message_id(response["result"])
        delivered = mail_catcher.wait_for(2)
        for email in delivered:
            names = sorted(part.get_filename() for part in email.iter_attachments())
            assert names == ["listino.zip", "offerta.pdf"], (email["To"], names)
        assert {to_of(email).split("<")[-1].rstrip(">") for email in delivered} == {
            f"anna{suffix}@customer.example", f"nina{suffix}@newco.example"}

        message = odoo_server.rpc("mail.message", "read", [message_id], ["attachment_ids", "body", "log_email"])[0]
        assert message["log_email"]
        kept = odoo_server.rpc("ir.attachment", "read", message["attachment_ids"], ["name"])
        assert [attachment["name"] for attachment in kept] == ["offerta.pdf"]
        assert "listino.zip (larger than 1 MB)" in message["body"]
        nina = odoo_server.rpc("res.partner", "search_read", [("email", "=", f"nina{suffix}@newco.example")],
                               ["is_non_marketing", "user_id"])
        assert [(p["is_non_marketing"], p["user_id"] and p["user_id"][0]) for p in nina] == [(True, sales_uid)]
        on_nina = odoo_server.rpc("mail.message.association", "search_count", [
            ("message_id", "=", message_id), ("model", "=", "res.partner"), ("res_id", "=", nina and nina[0]["id"])])
        assert on_nina == 1, "L2: on the new contact's timeline"
    finally:
        odoo_server.rpc("res.company", "write", company, {"mail_logging_attachment_max_mb": 50})


def test_l4_refused_bcc_answered_with_the_reason_when_the_company_wants(odoo_server, mail_catcher, crm):
    """L4: a stranger's email to the logging address creates nothing; with the
    company setting on, the stranger receives the reason over SMTP. A salesperson's
    Bcc is logged and answered by nobody. R8: an email "from" the salesperson that
    the company's mail server did not authenticate is refused and answered by nobody."""
    suffix = crm["suffix"]
    alias = odoo_server.rpc("ir.model.data", "search_read", [
        ("module", "=", "mail_tracking_ext"), ("name", "=", "mail_logging_alias")], ["res_id"])[0]["res_id"]
    if not odoo_server.rpc("mail.alias", "read", [alias], ["alias_domain_id"])[0]["alias_domain_id"]:
        domain = odoo_server.rpc("mail.alias.domain", "create", {"name": "crm.mycompany.example"})
        odoo_server.rpc("mail.alias", "write", [alias], {"alias_domain_id": domain})
    logging_address = odoo_server.rpc("mail.alias", "read", [alias], ["alias_full_name"])[0]["alias_full_name"]
    company = odoo_server.rpc("res.company", "search", [], limit=1)
    odoo_server.rpc("res.company", "write", company, {"mail_logging_trusted_servers": "mx.mycompany.example"})

    def bcc(sender, subject, headers=None):
        if headers is None:  # the company's mail server authenticated the sender's domain
            domain = sender.rsplit("@", 1)[1]
            headers = f"Authentication-Results: mx.mycompany.example; dmarc=pass header.from={domain}\r\n"
        raw = (f"From: {sender}\r\nTo: anna{suffix}@customer.example\r\nDelivered-To: {logging_address}\r\n"
               f"Subject: {subject}\r\nMessage-ID: <{uuid.uuid4().hex}@mailbox.example>\r\n{headers}"
               "Content-Type: text/plain; charset=utf-8\r\n\r\nBuongiorno.\r\n")
        odoo_server.rpc("mail.thread", "message_process", False, raw)
        return odoo_server.rpc("mail.logging.request", "search_read", [("name", "=", subject)],
                               ["state", "reason"])

    mail_catcher.clear()
    assert [r["state"] for r in bcc(f"stranger{suffix}@spam.example", f"Quiet {suffix}")] == ["refused"]
    odoo_server.rpc("res.company", "write", company, {"mail_logging_notify_refusal": True})
    try:
        refused = bcc(f"stranger{suffix}@spam.example", f"Told {suffix}")
        assert [r["state"] for r in refused] == ["refused"]
        answers = mail_catcher.wait_for(1)
        assert [to_of(answer) for answer in answers] == [f"stranger{suffix}@spam.example"], \
            "only the email refused with the setting on is answered"
        text = answers[0].get_body(preferencelist=("html", "plain")).get_content()
        assert f"Told {suffix}" in text and refused[0]["reason"] in text.replace("&#39;", "'")
        assert not odoo_server.rpc("mail.message", "search", [("subject", "in", [f"Quiet {suffix}", f"Told {suffix}"])])

        mail_catcher.clear()
        # backscatter: a bulk or list email is never answered, nor a sender nobody authenticated
        bulk = ("Authentication-Results: mx.mycompany.example; dmarc=pass header.from=spam.example\r\n"
                "Precedence: bulk\r\n")
        assert [r["state"] for r in bcc(f"news{suffix}@spam.example", f"Bulk {suffix}", bulk)] == ["refused"]
        forged = bcc(f"sales{suffix}@mycompany.example", f"Forged {suffix}",
                     "Authentication-Results: mx.mycompany.example; dmarc=fail header.from=mycompany.example\r\n")
        assert [r["state"] for r in forged] == ["refused"] and "DMARC" in forged[0]["reason"]
        logged = bcc(f"sales{suffix}@mycompany.example", f"Logged {suffix}")
        assert [r["state"] for r in logged] == ["logged"]
        with pytest.raises(TimeoutError):
            mail_catcher.wait_for(1, timeout=2)
    finally:
        odoo_server.rpc("res.company", "write", company, {"mail_logging_notify_refusal": False,
                                                         "mail_logging_trusted_servers": False})


def test_t1_t8_simultaneous_first_opens_and_clicks_are_counted_once(odoo_server, mail_catcher, crm):
    """A mail client loads the pixel many times in parallel, a browser sends a
    click many times at once: each request answers at once, every event is kept,
    the recipient changes state once and gets one inferred open, and the database
    never refuses a transaction for a concurrent update (T1, T8)."""
    mail_catcher.clear()
    message_id = crm["sales"].post(crm["lead"], [crm["anna"], crm["bruno"]])
    bodies = {to_of(m): html_part(m) for m in mail_catcher.wait_for(2)}
    delivered_ago(odoo_server.db, message_id)
    anna_body = next(body for to, body in bodies.items() if f"anna{crm['suffix']}" in to)
    bruno_body = next(body for to, body in bodies.items() if f"bruno{crm['suffix']}" in to)
    clicks = [visible_links(anna_body)[0][0]] * 16
    opens = [PIXEL.search(bruno_body).group(1)] * 16
    failures_before = odoo_server.log_text().count("could not serialize access")

    def burst(urls, expected):
        barrier = threading.Barrier(len(urls))

        def get(url):
            barrier.wait()
            return requests.get(url, allow_redirects=False, timeout=30).status_code

        with ThreadPoolExecutor(len(urls)) as pool:
            assert list(pool.map(get, urls)) == [expected] * len(urls)

    burst(clicks, 302)
    burst(opens, 200)
    rows = rt.query(odoo_server.db, """
        SELECT r.partner_id, r.state, r.first_open_date IS NOT NULL,
               count(e.id) FILTER (WHERE e.event_type = 'click'),
               count(e.id) FILTER (WHERE e.event_type = 'open' AND NOT e.is_inferred),
               count(e.id) FILTER (WHERE e.event_type = 'open' AND e.is_inferred)
          FROM mail_tracked_recipient r LEFT JOIN mail_tracked_event e ON e.recipient_id = r.id
         WHERE r.message_id = %s GROUP BY r.id""", (message_id,))
    assert sorted(rows) == sorted([
        (crm["anna"], "clicked", True, len(clicks), 0, 1),
        (crm["bruno"], "opened", True, 0, len(opens), 0),
    ])
    assert odoo_server.log_text().count("could not serialize access") == failures_before


def test_n4_e0_live_update_reaches_the_author_through_the_gevent_worker(odoo_server, mail_catcher, crm):
    """N4 in the deployment people use (E0): Odoo with --workers=2, where the gevent worker
    serves /websocket. The author's browser, subscribed over a real websocket, hears of the
    open an HTTP worker records. A gevent worker that cannot start (as with the machine's
    setuptools and zope.interface) fails this test."""
    server = rt.OdooServer(odoo_server.db, workers=2, smtp_port=mail_catcher.smtp_port)
    with server:
        login = f"sales{crm['suffix']}"
        author = Salesperson(server, login, f"{login}-pw")
        socket = connect_websocket(server, author.session.cookies["session_id"])
        try:
            socket.send(json.dumps({"event_name": "subscribe", "data": {"channels": [], "last": 0}}))
            mail_catcher.clear()
            message_id = author.post(crm["lead"], [crm["anna"]])
            pixel = PIXEL.search(html_part(mail_catcher.wait_for(1)[0])).group(1)
            opened = requests.get(pixel.replace(odoo_server.url, server.url), timeout=10)
            assert opened.status_code == 200
            update = next_notification(socket, "mail_tracking_ext/engagement",
                                       lambda payload: payload.get("message_id") == message_id)
        finally:
            socket.close()
        assert update["for_author"] and update["event"] == "open" and update["recipient"]["name"]
        log = server.log_text()
    assert "DistributionNotFound" not in log and not rt.log_problems(log), rt.log_problems(log) or log[-3000:]


def connect_websocket(server, session_id, timeout=60):
    """A websocket to the gevent worker, once it is up (it starts after the HTTP workers)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return websocket.create_connection(
                f"ws://127.0.0.1:{server.gevent_port}/websocket", cookie=f"session_id={session_id}",
                origin=server.url, timeout=5)
        except (OSError, websocket.WebSocketException):
            if time.monotonic() > deadline:
                raise AssertionError(f"no websocket on the gevent port within {timeout}s:\n{server.log_tail()}")
            time.sleep(0.5)


def next_notification(socket, kind, matches, timeout=30):
    """The payload of the first ``kind`` notification that ``matches``, read off the websocket."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            frame = socket.recv()
        except websocket.WebSocketTimeoutException:
            continue
        for notification in json.loads(frame) if frame else []:
            message = notification.get("message", {})
            if message.get("type") == kind and matches(message.get("payload", {})):
                return message["payload"]
    raise AssertionError(f"no {kind} notification within {timeout}s")


def test_t10_never_track_list_and_t9_empty_body(odoo_server, mail_catcher, crm):
    odoo_server.rpc("mail.address.exclusion", "create", {"pattern": f"bruno{crm['suffix']}@customer.example"})
    mail_catcher.clear()
    crm["sales"].post(crm["lead"], [crm["anna"], crm["bruno"]])
    delivered = {to_of(m): html_part(m) for m in mail_catcher.wait_for(2)}
    for to, body in delivered.items():
        assert ("/email-tracking/" in body) == (f"anna{crm['suffix']}" in to), to
    mail_catcher.clear()
    message_id = crm["sales"].post(crm["lead"], [crm["anna"]], body="")
    body = html_part(mail_catcher.wait_for(1)[0])
    assert "/email-tracking/" not in body
    assert tracking_of(odoo_server, message_id) == []


def test_t5_enforced_company_default(odoo_server, mail_catcher, crm):
    company = odoo_server.rpc("res.company", "search", [], limit=1)
    odoo_server.rpc("res.company", "write", company, {
        "mail_tracking_enforce_defaults": True, "mail_tracking_default_opens": False,
        "mail_tracking_default_clicks": True})
    try:
        mail_catcher.clear()
        crm["sales"].post(crm["lead"], [crm["anna"]])
        body = html_part(mail_catcher.wait_for(1)[0])
        assert "/email-tracking/open/" not in body
        assert "/email-tracking/click/" in body
    finally:
        odoo_server.rpc("res.company", "write", company, {"mail_tracking_enforce_defaults": False})


def test_r5_smtp_failure_behaves_as_odoo_and_records_nothing(odoo_server, mail_catcher, crm):
    """R5: with the SMTP server down, the mail fails exactly as in Odoo; once it is
    back, the retry is delivered and only that delivery is tracked."""
    dead_server = odoo_server.rpc("ir.mail_server", "create", {
        "name": "down", "smtp_host": "127.0.0.1", "smtp_port": rt.free_port(), "sequence": 1})
    mail_catcher.clear()
    message_id = crm["sales"].post(crm["lead"], [crm["anna"]], queue=True)
    mail = odoo_server.rpc("mail.mail", "search", [("mail_message_id", "=", message_id)])
    odoo_server.rpc("mail.mail", "send", mail, raise_exception=False)
    state = odoo_server.rpc("mail.mail", "read", mail, ["state", "failure_type"])[0]
    assert state["state"] == "exception"
    notification = odoo_server.rpc("mail.notification", "search_read", [("mail_message_id", "=", message_id)],
                                   ["notification_status"])
    assert [n["notification_status"] for n in notification] == ["exception"]
    assert tracking_of(odoo_server, message_id) == [], "nothing is tracked for a message never sent"
    assert mail_catcher.raw_messages() == []

    odoo_server.rpc("ir.mail_server", "unlink", [dead_server])
    odoo_server.rpc("mail.mail", "write", mail, {"state": "outgoing"})
    odoo_server.rpc("mail.mail", "send", mail)
    delivered = mail_catcher.wait_for(1)
    token = PIXEL.search(html_part(delivered[0])).group(2)
    assert [r["state"] for r in tracking_of(odoo_server, message_id)] == ["sent"]
    assert token


def test_t11_switches_off_delivers_what_odoo_alone_delivers(new_db):
    """T11: on a database that already has mail history, the same email with
    both switches off is delivered exactly as before the addon was installed
    (apart from Message-Id and Date); also R6: install on a used database."""
    with crm_on(new_db("t11"), "t11sales", "anna@t11.example") as (server, catcher, sales, anna, lead):
        sales.post(lead, [anna])
        before = catcher.wait_for(1)[0]
        module = server.rpc("ir.module.module", "search", [("name", "=", rt.MODULE)])
        server.rpc("ir.module.module", "button_immediate_install", module)
        catcher.clear()
        sales = Salesperson(server, "t11sales", "t11sales-pw")
        sales.post(lead, [anna], track_opens=False, track_clicks=False)
        after = catcher.wait_for(1)[0]

    def comparable(message):
        # the MIME boundary is random and References grows with the thread
        headers = sorted((k, v) for k, v in message.items()
                         if k.lower() not in ("message-id", "date", "content-type", "references"))
        parts = [(part.get_content_type(), part.get_content()) for part in message.walk()
                 if not part.is_multipart()]
        return headers, message.get_content_type(), parts

    before, after = comparable(before), comparable(after)
    assert after[:2] == before[:2]
    for (before_type, before_content), (after_type, after_content) in zip(before[2], after[2], strict=True):
        assert after_type == before_type
        assert after_content == before_content


def test_p3_data_subject_lookup_finds_and_erases_tracking(new_db):
    """P3: where Odoo's privacy_lookup is installed, looking a contact up lists
    their tracked emails, and deleting them from there removes their events."""
    db = new_db("p3")
    rc, log = rt.install(db, ["privacy_lookup", rt.MODULE], demo=False)
    rt.assert_clean_run(rc, log, f"installing privacy_lookup and {rt.MODULE} on {db}")
    with crm_on(db, "p3sales", "anna@p3.example") as (server, catcher, sales, anna, lead):
        message_id = sales.post(lead, [anna])
        pixel_url = PIXEL.search(html_part(catcher.wait_for(1)[0])).group(1)
        requests.get(pixel_url, timeout=10)
        [tracked] = tracking_of(server, message_id)
        assert tracked["open_count"] == 1

        wizard = server.rpc("privacy.lookup.wizard", "create", {"name": "Anna", "email": "anna@p3.example"})
        server.rpc("privacy.lookup.wizard", "action_lookup", [wizard])
        lines = server.rpc("privacy.lookup.wizard.line", "search_read",
                           [("wizard_id", "=", wizard), ("res_model", "=", "mail.tracked.recipient")],
                           ["res_id"])
        assert [line["res_id"] for line in lines] == [tracked["id"]]
        server.rpc("privacy.lookup.wizard.line", "action_unlink", [lines[0]["id"]])
        assert tracking_of(server, message_id) == []
        assert server.rpc("mail.tracked.event", "search_count", [("recipient_id", "=", tracked["id"])]) == 0
