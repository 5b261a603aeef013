"""What the end-to-end tests do as Odoo's users and their customers: a logged-in
salesperson posting from the chatter over HTTP, and what the recipients' mail
clients see of the delivered emails."""
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import requests

from devtools import odoo_runtime as rt
from devtools.mail_catcher import MailCatcher

PIXEL = re.compile(r'src="(http[^"]+/email-tracking/open/([A-Za-z0-9_-]+)\.gif)"')
CLICK = re.compile(r'href="(http[^"]+/email-tracking/click/([A-Za-z0-9_-]+)/([0-9a-f]+))"')
TRICKY_URL = "https://shop.example/offerta?q=a%20b&lang=it#dettagli"
BODY = (
    "<p>Buongiorno, ecco la nostra offerta.</p>"
    '<p><a href="https://shop.example/first">catalogo</a> '
    f'<a href="{TRICKY_URL.replace("&", "&amp;")}">offerta</a> '
    '<a href="mailto:sales@mycompany.example">scrivici</a></p>'
)


# The link of each tracked email that no person sees (A3): only programs follow it
HIDDEN_LINK = re.compile(r'<a href="([^"]+)" tabindex="-1" aria-hidden="true"')


def visible_links(body):
    """``CLICK.findall(body)`` of the links a person sees in a delivered body."""
    hidden = set(HIDDEN_LINK.findall(body))
    return [match for match in CLICK.findall(body) if match[0] not in hidden]


def delivered_ago(db, message_id, seconds=3600):
    """The tracked copies of ``message_id`` were accepted by the SMTP server
    ``seconds`` ago: a person had time to read (a click sooner is a program's, A3)."""
    rt.query(db, """UPDATE mail_tracked_recipient SET sent_date = sent_date - make_interval(secs => %s)
                     WHERE message_id = %s""", (seconds, message_id))


def html_part(message):
    return message.get_body(preferencelist=("html",)).get_content()


def to_of(message):
    """Whom this copy went to, as its To header names them: only the envelope's recipients
    (Odoo 19.0's To also names the email's other recipients)."""
    envelope = {address.strip().lower() for address in (message["X-Envelope-To"] or "").split(",") if address.strip()}
    if not envelope or not message["To"]:
        return message["To"]
    mine = [str(address) for address in message["To"].addresses if address.addr_spec.lower() in envelope]
    return ", ".join(mine) or message["To"]


class Salesperson:
    """A logged-in salesperson using the chatter's real routes."""

    def __init__(self, server, login, password):
        self.server, self.session = server, requests.Session()
        response = self.session.post(f"{server.url}/web/session/authenticate", json={
            "params": {"db": server.db, "login": login, "password": password}}, timeout=30)
        assert response.json().get("result", {}).get("uid"), response.text

    def post(self, lead_id, partner_ids, body=BODY, queue=False, **switches):
        response = self.session.post(f"{self.server.url}/mail/message/post", json={"params": {
            "thread_model": "crm.lead", "thread_id": lead_id,
            "post_data": {"body": body, "message_type": "comment", "subtype_xmlid": "mail.mt_comment",
                          "partner_ids": partner_ids, **switches},
            "context": {"mail_notify_force_send": not queue},
        }}, timeout=60)
        result = response.json()
        assert "error" not in result, result
        return rt.posted_message_id(result["result"])


def create_salesperson(server, login):
    group = server.rpc("ir.model.data", "search_read",
                       [("module", "=", "sales_team"), ("name", "=", "group_sale_salesman")], ["res_id"])
    server.rpc("res.users", "create", {
        "name": login.title(), "login": login, "password": f"{login}-pw", "email": f"{login}@mycompany.example",
        rt.USER_GROUPS_FIELD: [(6, 0, [group[0]["res_id"]])]})
    return Salesperson(server, login, f"{login}-pw")


def unfollow_admin(server, lead):
    """Only the contacts written to receive the emails of these tests."""
    admin_partner = server.rpc("res.users", "read", [server.login()], ["partner_id"])[0]["partner_id"][0]
    server.rpc("crm.lead", "message_unsubscribe", [lead], partner_ids=[admin_partner])


def tracking_of(server, message_id):
    return server.rpc("mail.tracked.recipient", "search_read", [("message_id", "=", message_id)],
                      ["partner_id", "email", "state", "open_count", "click_count", "is_aggregate"])


@contextmanager
def crm_on(db, login, contact_email, extra_args=()):
    """A server of its own on ``db`` (with ``extra_args``) with a catcher, a salesperson, a contact and
    the salesperson's opportunity: ``(server, catcher, salesperson, contact, lead)``."""
    with MailCatcher(smtp_port=0, http_port=0) as catcher:
        server = rt.OdooServer(db, smtp_port=catcher.smtp_port, extra_args=["--max-cron-threads", "0", *extra_args])
        rt.query(db, "UPDATE ir_mail_server SET active = false")
        server.start()
        try:
            rt.query(db, "UPDATE ir_config_parameter SET value = %s WHERE key = 'web.base.url'", (server.url,))
            sales = create_salesperson(server, login)
            contact = server.rpc("res.partner", "create", {"name": "Anna", "email": contact_email})
            lead = server.rpc("crm.lead", "create", {"name": db, "type": "opportunity",
                                                      "user_id": server.login(login, f"{login}-pw")})
            unfollow_admin(server, lead)
            catcher.clear()
            yield server, catcher, sales, contact, lead
        finally:
            server.stop()




def get_at_once(urls, user_agent):
    """GET every URL of ``urls`` at the same instant (one client each, released
    together, as a gateway follows every link of a copy); their status codes."""
    barrier = threading.Barrier(len(urls))

    def get(url):
        barrier.wait()
        return requests.get(url, allow_redirects=False, timeout=30, headers={"User-Agent": user_agent}).status_code

    with ThreadPoolExecutor(len(urls)) as pool:
        return list(pool.map(get, urls))
