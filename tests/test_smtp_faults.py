"""R5 with a real SMTP server that misbehaves for some recipients of one email: the
copies it accepted keep their tracking and every link they carry works; Odoo's own
states (mail, notifications, what is delivered) are those of the same send on a
database without the addon.

Odoo sends one copy per contact, in the order of their names, and stops at the
first copy that fails: the contacts are named A, B, C so that B is the one that fails.
"""
import os
import time
import uuid

import pytest
import requests

from devtools import odoo_runtime as rt

from e2e_crm import PIXEL, TRICKY_URL, Salesperson, crm_on, html_part, to_of, tracking_of, visible_links

ROLES = ("A good", "B faulty", "C good")
# Odoo waits 60 s for an SMTP server's answer (ir_mail_server.SMTP_TIMEOUT, no setting): the
# servers of these tests load a module that only shortens that wait (tests/odoo_addons).
TEST_ADDONS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "odoo_addons")
# The stalled server closes the connection after this, long after Odoo gave up (2 s with that module).
STALL_SECONDS = 20


def short_smtp_timeout():
    """odoo-bin arguments of a server that waits 2 seconds for the SMTP server's answers."""
    return ["--addons-path", f"{rt.addons_path()},{TEST_ADDONS}", "--load", "base,web,mtx_test_smtp_timeout"]


def contacts(server, suffix):
    """{partner id: role} of three contacts named so that Odoo sends in this order."""
    return {
        server.rpc("res.partner", "create", {"name": role, "email": email_of(role, suffix)}): role
        for role in ROLES
    }


def email_of(role, suffix):
    return f"{role.split()[0].lower()}{suffix}@faults.example"


def send(server, sales, lead, roles):
    """Post to the three contacts, send the queued email; ``(message id, error name)``."""
    message_id = sales.post(lead, list(roles), queue=True)
    mails = server.rpc("mail.mail", "search", [("mail_message_id", "=", message_id)])
    return message_id, try_send(server, mails)


def try_send(server, mails):
    try:
        server.rpc("mail.mail", "send", mails, raise_exception=False)
    except rt.RpcError as error:
        return error.name
    return None


def retry_failed(server, message_id, login):
    """Send a failed email again, as Odoo lets its users: on 18.0 the salesperson's Resend of
    the red envelope (``mail.resend.message``, to the failed contacts); 19.0 has no such wizard,
    an administrator retries the failed mail (*Technical › Emails › Retry*) and the queue sends it."""
    if rt.ODOO_MAJOR < 19:
        as_sales = {"login": login, "password": f"{login}-pw"}
        wizard = server.rpc("mail.resend.message", "create", {},
                            context={"mail_message_to_resend": message_id}, **as_sales)
        server.rpc("mail.resend.message", "resend_mail_action", [wizard], **as_sales)
        return
    failed = server.rpc("mail.mail", "search", [("mail_message_id", "=", message_id), ("state", "=", "exception")])
    assert failed, "the busy mailbox left no failed mail to retry"
    server.rpc("mail.mail", "action_retry", failed)
    try_send(server, failed)


def odoo_states(server, message_id, roles):
    """What Odoo shows of the send: each contact's notification and the mails' states."""
    notifications = server.rpc("mail.notification", "search_read", [("mail_message_id", "=", message_id)],
                               ["res_partner_id", "notification_status", "failure_type"])
    mails = server.rpc("mail.mail", "search_read", [("mail_message_id", "=", message_id)],
                       ["state", "failure_type"])
    return (sorted((roles[n["res_partner_id"][0]], n["notification_status"], n["failure_type"])
                   for n in notifications),
            sorted((m["state"], m["failure_type"]) for m in mails))


def delivered(catcher, suffix):
    """{role: [html bodies]} of what the SMTP server accepted."""
    by_role = {}
    for message in catcher.messages():
        role = next(role for role in ROLES if email_of(role, suffix) in to_of(message))
        by_role.setdefault(role, []).append(html_part(message))
    return by_role


def assert_every_link_works(bodies):
    for role, role_bodies in bodies.items():
        for body in role_bodies:
            assert requests.get(PIXEL.search(body).group(1), timeout=10).status_code == 200, role
            for url, _token, _ref in visible_links(body):
                response = requests.get(url, allow_redirects=False, timeout=10)
                assert response.status_code == 302, f"{role}: {url} answers {response.status_code}"
                assert response.headers["Location"] in ("https://shop.example/first", TRICKY_URL)


SCENARIOS = {
    # B's address does not exist: A received the email, B and C never will (Odoo stops)
    "refused": lambda catcher, suffix: catcher.refuse(email_of("B faulty", suffix)),
    # the server drops the connection after B's message: Odoo rolls the send back and sends
    # all three again later; A then holds two copies
    "dropped": lambda catcher, suffix: catcher.drop_connection(email_of("B faulty", suffix)),
    # B's mailbox is busy once (451); the email is sent again (retry_failed)
    "busy": lambda catcher, suffix: catcher.refuse(email_of("B faulty", suffix), code=451,
                                                   text="4.2.1 Mailbox busy, try later", times=1),
    # the server never answers B's message and never delivers it: Odoo gives up after its SMTP
    # timeout and, as when the connection drops, rolls the send back and sends all three again later
    "timeout": lambda catcher, suffix: catcher.stall(email_of("B faulty", suffix), STALL_SECONDS),
}


def run(scenario, server, catcher, sales, lead, login):
    """The scenario's send, then what its users do next; returns what anyone can observe."""
    suffix = uuid.uuid4().hex[:6]
    roles = contacts(server, suffix)
    catcher.clear()
    SCENARIOS[scenario](catcher, suffix)
    try:
        started = time.monotonic()
        message_id, error = send(server, sales, lead, roles)
        seconds = time.monotonic() - started
        first = delivered(catcher, suffix)
        if scenario in ("dropped", "timeout"):  # the mail is still queued: the next run of the queue sends it
            mails = server.rpc("mail.mail", "search", [("mail_message_id", "=", message_id)])
            try_send(server, mails)
        elif scenario == "busy":
            retry_failed(server, message_id, login)
    finally:
        catcher.clear_faults()
    return {
        "message_id": message_id, "roles": roles, "error": error, "first": first, "seconds": seconds,
        "delivered": delivered(catcher, suffix), "odoo": odoo_states(server, message_id, roles),
    }


@pytest.fixture(scope="module")
def without_addon(new_db):
    """The same send on a database without the addon, for comparison."""
    with crm_on(new_db("faults_plain"), "plainsales", "nobody@faults.example", short_smtp_timeout()) as (
            server, catcher, sales, _contact, lead):
        yield {scenario: run(scenario, server, catcher, sales, lead, "plainsales") for scenario in SCENARIOS}


@pytest.fixture(scope="module")
def short_timeout_server(odoo_server, mail_catcher):
    """A second Odoo on the tracked database, with the short SMTP timeout; its emails' links
    lead to ``odoo_server`` (the database's base URL)."""
    with rt.OdooServer(odoo_server.db, smtp_port=mail_catcher.smtp_port,
                       extra_args=["--max-cron-threads", "0", *short_smtp_timeout()]) as server:
        yield server


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_r5_t2_copies_accepted_by_a_faulty_smtp_server_are_tracked_and_their_links_work(
        scenario, without_addon, odoo_server, mail_catcher, crm, request):
    plain = without_addon[scenario]
    server, sales = odoo_server, crm["sales"]
    if scenario == "timeout":
        server = request.getfixturevalue("short_timeout_server")
        sales = Salesperson(server, crm["sales_login"], f"{crm['sales_login']}-pw")
    tracked = run(scenario, server, mail_catcher, sales, crm["lead"], crm["sales_login"])
    # Odoo's behaviour is untouched by the addon
    assert tracked["error"] == plain["error"]
    assert tracked["odoo"] == plain["odoo"]
    assert {role: len(bodies) for role, bodies in tracked["delivered"].items()} == \
        {role: len(bodies) for role, bodies in plain["delivered"].items()}
    assert "A good" in tracked["first"], "A's copy left before B's failed"
    # one tracked copy for each copy the server accepted in a send that Odoo kept
    kept = {role: len(bodies) for role, bodies in tracked["delivered"].items()}
    # the first send was rolled back with its tracking: A's first copy has none
    if scenario in ("dropped", "timeout"):
        kept["A good"] -= 1
    if scenario == "timeout":  # B's copy never left the first time; the retry delivered each copy once more
        # smtplib reports the timeout as a lost connection, which Odoo does not keep the send after
        assert tracked["error"] == "smtplib.SMTPServerDisconnected" and "B faulty" not in tracked["first"]
        assert tracked["seconds"] < STALL_SECONDS, "Odoo waited for the server instead of timing out"
        assert {role: len(bodies) for role, bodies in tracked["delivered"].items()} == \
            {"A good": 2, "B faulty": 1, "C good": 1}
    rows = tracking_of(odoo_server, tracked["message_id"])
    assert sorted(tracked["roles"][row["partner_id"][0]] for row in rows) == \
        sorted(role for role, count in kept.items() for _copy in range(count))
    # every link of every delivered copy works, also A's first copy when its tracking was rolled back
    assert_every_link_works(tracked["delivered"])
