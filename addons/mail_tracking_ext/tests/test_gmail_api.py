"""The Gmail extension's API (docs/gmail-api.md, issue 17) over real HTTP, with real Odoo API keys.

Gmail itself is not reached: the tests send what the extension sends, fetch the pixel and the links
of the body the API prepared as a recipient's mail client would, and read what Odoo recorded.
"""
import base64
import json
import re
import threading
import time
from datetime import datetime, timedelta
from unittest.mock import ANY, patch

from markupsafe import Markup

from odoo import fields
from odoo.tests import TransactionCase, new_test_user, tagged
from odoo.tools import mute_logger

from ..models.mail_tracking_api import MailTrackingApi
from ..models.mail_tracking_api_usage import RATE_LIMIT_PARAMETER
from ..tools.compat import ODOO_MAJOR
from .common import CLICK_LINK, MAIL_CLIENT, PDF, TOKEN_IN_PIXEL, TrackingCase

API = "/email-tracking/api/1/"
BODY = ('<div>Hello Anna,<br>our <a href="https://shop.example/offer?id=7&amp;lang=it">offer</a>,'
        ' <a href="javascript:alert(1)">script</a>, <a href="data:text/html,&lt;b&gt;x">data</a>,'
        ' <a href="mailto:sara@mycompany.example">write to me</a></div>')


@tagged("post_install", "-at_install")
class TestGmailApi(TrackingCase):
    """As Sara, an own-documents salesperson writing from Gmail to Anna, a customer
    who also has an opportunity of Carl's that Sara cannot read."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.company.write({"mail_tracking_privacy": False, "mail_tracking_anonymous_opens": False,
                               "mail_tracking_optout_link": False, "mail_logging_enforce_default": False})
        cls.key = cls.api_key(cls.salesperson)
        cls.dora = cls.env["res.partner"].create(
            {"name": "Dora Declined", "email": "dora@declined.example", "do_not_track": True})

    @classmethod
    def api_key(cls, user, expiration_date=None):
        # sudo: a key without an expiration date, as an administrator may give one
        return cls.env["res.users.apikeys"].with_user(user).sudo()._generate(None, "Gmail", expiration_date)

    def call(self, method, path, payload=None, key=None, data=None, headers=None):
        """A request as the extension's service worker makes it: the key, no cookie."""
        headers = {"User-Agent": "MailTrackingExt-Gmail/1.0", **(headers or {})}
        if key is not False:
            headers["Authorization"] = f"Bearer {key or self.key}"
        if payload is not None:
            data = json.dumps(payload)
            headers["Content-Type"] = "application/json"
        self.env.flush_all()
        self.opener.cookies.clear()
        response = self.opener.request(method, self.base_url() + API + path, data=data, headers=headers,
                                       timeout=30, allow_redirects=False)
        self.env.invalidate_all()
        return response

    def assert_error(self, response, status, code, field=None):
        self.assertEqual(response.status_code, status, response.text)
        self.assertEqual(response.headers["Content-Type"].split(";")[0], "application/json")
        error = response.json()["error"]
        self.assertEqual(error["code"], code, error)
        self.assertTrue(error["message"])
        if field:
            self.assertEqual(error.get("field"), field)
        return error

    def prepare(self, **values):
        payload = {"subject": "Our offer", "body_html": BODY, "to": ["Anna Customer <anna@customer.example>"],
                   "track_opens": True, "track_clicks": True, "log_email": False, **values}
        response = self.call("POST", "send/prepare", payload)
        self.assertEqual(response.status_code, 200, response.text)
        return response.json()

    def confirm(self, send_id, **values):
        response = self.call("POST", "send/confirm", {"send_id": send_id, **values})
        self.assertEqual(response.status_code, 200, response.text)
        return response.json()

    def delivered_ago(self, message_id, seconds=3600):
        """The copies count as delivered an hour ago: a person takes time to read and click (A3)."""
        self.env.flush_all()
        self.env.cr.execute("UPDATE mail_tracked_recipient SET sent_date = sent_date - make_interval(secs => %s)"
                            " WHERE message_id = %s", (seconds, message_id))
        self.env.invalidate_all()

    def fetch(self, url, **kwargs):
        """As the recipient's mail client fetches a pixel or follows a link of the email."""
        path = url[url.index("/email-tracking/"):]
        self.env.flush_all()
        self.opener.cookies.clear()
        response = self.opener.get(self.base_url() + path, headers={"User-Agent": MAIL_CLIENT},
                                   allow_redirects=False, timeout=30, **kwargs)
        self.env.invalidate_all()
        return response

    # ------------------------------------------------------------
    # Authentication and hostile requests
    # ------------------------------------------------------------

    def test_me_says_who_and_what_the_compose_window_starts_from(self):
        self.salesperson.write({"mail_tracking_clicks_default": False, "mail_logging_default": True})
        response = self.call("GET", "me")
        self.assertEqual(response.status_code, 200, response.text)
        self.assertIn("no-store", response.headers["Cache-Control"])
        me = response.json()
        self.assertEqual(me["user"]["id"], self.salesperson.id)
        self.assertEqual(me["user"]["email"], "sara@mycompany.example")
        self.assertEqual(me["odoo_version"], f"{ODOO_MAJOR}.0")
        self.assertTrue(me["tracking_allowed"])
        self.assertEqual(me["switches"]["track_clicks"], {"available": True, "default": False, "enforced": False})
        self.assertTrue(me["switches"]["log_email"]["default"])
        # the company enforces its defaults (T5)
        self.env.company.write({"mail_tracking_enforce_defaults": True, "mail_tracking_default_clicks": True})
        switches = self.call("GET", "me").json()["switches"]
        self.assertEqual(switches["track_clicks"], {"available": True, "default": True, "enforced": True})
        self.env.company.mail_tracking_allowed = False
        self.assertFalse(self.call("GET", "me").json()["switches"]["track_opens"]["available"])

    def test_r_keys_no_wrong_revoked_expired_portal_password(self):
        error = self.assert_error(self.call("GET", "me", key=False), 401, "unauthorized")
        self.assertNotIn("Traceback", error["message"])
        self.assertEqual(self.call("GET", "me", key=False).headers.get("WWW-Authenticate", "").lower()[:6], "bearer")
        self.assert_error(self.call("GET", "me", key="0" * 40), 401, "unauthorized")
        self.assert_error(self.call("GET", "me", key=self.key[:-1] + "x"), 401, "unauthorized")
        self.assert_error(self.call("GET", "me", key=self.salesperson.login), 401, "unauthorized")
        # a password is never a key
        self.assert_error(self.call("GET", "me", key="mtx_sales"), 401, "unauthorized")
        expired = self.api_key(self.salesperson, fields.Datetime.now() - timedelta(days=1))
        self.assert_error(self.call("GET", "me", key=expired), 401, "unauthorized")
        revoked = self.api_key(self.salesperson)
        self.assertEqual(self.call("GET", "me", key=revoked).status_code, 200)
        self.env["res.users.apikeys"].sudo().search(
            [("user_id", "=", self.salesperson.id), ("name", "=", "Gmail")]).with_user(self.salesperson)._remove()
        self.assert_error(self.call("GET", "me", key=revoked), 401, "unauthorized")
        portal = new_test_user(self.env, login="mtx_gmail_portal", groups="base.group_portal",
                               email="pat@portal.example")
        self.assert_error(self.call("GET", "me", key=self.api_key(portal)), 403, "not_internal")
        self.assert_error(self.call("POST", "recipients", {"emails": ["anna@customer.example"]},
                                    key=self.api_key(portal)), 403, "not_internal")

    def test_r_session_of_another_user_with_the_key_is_refused(self):
        self.authenticate("mtx_colleague", "mtx_colleague")
        with mute_logger("odoo.http"):  # Odoo logs the refusal as an error
            response = self.opener.get(self.base_url() + API + "me", timeout=30,
                                       headers={"Authorization": f"Bearer {self.key}"})
        self.assertEqual(response.status_code, 403)
        self.assertEqual(response.json()["error"]["code"], "forbidden")
        # the session alone is no key
        response = self.opener.get(self.base_url() + API + "me", timeout=30)
        self.assertEqual(response.status_code, 401)

    def test_r_malformed_requests_are_answered_400_and_create_nothing(self):
        messages_before = self.env["mail.message"].sudo().search_count([])
        self.assert_error(self.call("POST", "recipients", data="{not json",
                                    headers={"Content-Type": "application/json"}), 400, "invalid_json")
        self.assert_error(self.call("POST", "recipients", ["anna@customer.example"]), 400, "invalid_json")
        self.assert_error(self.call("POST", "recipients", {"emails": "anna@customer.example"}),
                          400, "invalid_field", "emails")
        self.assert_error(self.call("POST", "recipients", {}), 400, "invalid_field", "emails")
        self.assert_error(self.call("POST", "recipients", {"emails": [1]}), 400, "invalid_field", "emails")
        self.assert_error(self.call("POST", "recipients", {"emails": ["not an address"]}),
                          400, "invalid_email", "emails")
        self.assert_error(self.call("POST", "recipients", {"emails": ["anna@customer.example"],
                                                           "track_opens": "yes"}), 400, "invalid_field")
        self.assert_error(self.call("POST", "recipients", {"emails": [f"r{i}@many.example" for i in range(101)]}),
                          400, "too_many_addresses")
        self.assert_error(self.call("POST", "send/prepare", {"body_html": "<p>x</p>", "to": []}),
                          400, "invalid_field", "to")
        self.assert_error(self.call("POST", "send/prepare", {"body_html": 3, "to": ["anna@customer.example"]}),
                          400, "invalid_field", "body_html")
        self.assert_error(self.call("POST", "send/prepare", {
            "body_html": "<p>x</p>", "to": ["anna@customer.example"], "log_email": True,
            "records": [{"model": "crm.lead", "id": "5"}]}), 400, "invalid_field", "records")
        self.assert_error(self.call("POST", "send/prepare", {
            "body_html": "<p>x</p>", "to": ["anna@customer.example"], "create_contacts": ["someone@else.example"]}),
            400, "invalid_field", "create_contacts")
        self.assert_error(self.call("POST", "send/confirm", {"send_id": 12}), 400, "invalid_field", "send_id")
        self.assert_error(self.call("GET", "feed?limit=1000"), 400, "invalid_field", "limit")
        self.assert_error(self.call("GET", "feed?since=yesterday"), 400, "invalid_field", "since")
        self.assert_error(self.call("GET", "send/prepare"), 405, "method_not_allowed")
        self.assert_error(self.call("GET", "nothing/here"), 404, "not_found")
        self.assertEqual(self.env["mail.message"].sudo().search_count([]), messages_before)
        self.assertFalse(self.env["mail.tracking.api.send"].sudo().search([]))

    def test_r_huge_bodies_are_refused_413(self):
        huge = "<p>" + "x" * (5 * 1024 * 1024 + 1) + "</p>"
        self.assert_error(self.call("POST", "send/prepare", {"body_html": huge, "to": ["anna@customer.example"]}),
                          413, "too_large", "body_html")
        with patch.object(MailTrackingApi, "_max_request_bytes", return_value=1000):
            self.assert_error(self.call("POST", "recipients", {"emails": ["a@b.example"] * 1, "pad": "x" * 2000}),
                              413, "too_large")
        self.assertFalse(self.env["mail.tracking.api.send"].sudo().search([]))

    def test_r_rate_limit_answers_429_with_retry_after(self):
        self.env["ir.config_parameter"].sudo().set_param(RATE_LIMIT_PARAMETER, "3")
        for _request in range(3):
            self.assertEqual(self.call("GET", "me").status_code, 200)
        response = self.call("GET", "me")
        self.assert_error(response, 429, "rate_limited")
        self.assertGreaterEqual(int(response.headers["Retry-After"]), 1)
        self.assertLessEqual(int(response.headers["Retry-After"]), 60)
        # per user: a colleague is not slowed down by Sara
        self.assertEqual(self.call("GET", "me", key=self.api_key(self.colleague)).status_code, 200)
        self.env["ir.config_parameter"].sudo().set_param(RATE_LIMIT_PARAMETER, "0")
        self.assertEqual(self.call("GET", "me").status_code, 200)

    def test_r_retried_request_reads_its_body_again(self):
        """Odoo runs a request again after a serialization failure (``retrying``): the second run
        reads the same body. PostgreSQL raises the failure in the API's method, as a concurrent
        update would."""
        original = MailTrackingApi._api_recipients
        runs = []

        def fails_once(api, params):
            runs.append(params)
            if len(runs) == 1:
                api.env.cr.execute("DO $$ BEGIN RAISE EXCEPTION 'concurrent update' USING ERRCODE = "
                                   "'serialization_failure'; END $$")
            return original(api, params)

        with patch.object(MailTrackingApi, "_api_recipients", fails_once):
            response = self.call("POST", "recipients", {"emails": ["anna@customer.example"]})
        self.assertEqual(response.status_code, 200, response.text)
        self.assertEqual(len(runs), 2)
        self.assertEqual(response.json()["recipients"][0]["contact"]["id"], self.anna.id)

    def test_r_costly_requests_are_refused_before_they_are_read(self):
        nested = "[" * 100000 + "]" * 100000
        self.assert_error(self.call("POST", "recipients", data=nested, headers={"Content-Type": "application/json"}),
                          400, "invalid_json")
        self.assert_error(self.call("POST", "recipients", data='{"emails": ' + nested + "}",
                                    headers={"Content-Type": "application/json"}), 400, "invalid_json")
        huge = "x" * (1024 * 1024) + "@big.example"
        error = self.assert_error(self.call("POST", "recipients", {"emails": [huge]}), 400, "invalid_email", "emails")
        self.assertLess(len(error["message"]), 400)
        self.assert_error(self.call("POST", "send/prepare", {"body_html": "<p>x</p>", "to": [huge]}),
                          400, "invalid_email", "to")
        self.assert_error(self.call("POST", "send/prepare", {"body_html": "<p>x</p>",
                                                             "cc": ["not parsed"] * 101}),
                          400, "too_many_addresses", "cc")
        # an address of 998 characters is still one
        long_address = "x" * (998 - len("@long.example")) + "@long.example"
        self.assertEqual(self.call("POST", "recipients", {"emails": [long_address]}).status_code, 200)

    def test_me_create_contacts_default_is_the_users_preference(self):
        for preference in (True, False):
            self.salesperson.mail_logging_create_contacts = preference
            self.assertIs(self.call("GET", "me").json()["user"]["create_contacts_default"], preference)

    # ------------------------------------------------------------
    # Recipients: contacts, records, who is tracked and why not
    # ------------------------------------------------------------

    def test_p4_contacts_the_user_cannot_read_are_named_by_their_address(self):
        """Contacts of another company: Sara cannot read them, the answers do not name them."""
        other = self.env["res.company"].create({"name": "Other Co"})
        self.env["res.partner"].create([
            {"name": "Hidden Hannah", "email": "hannah@other.example", "company_id": other.id,
             "do_not_track": True},
            {"name": "Secret Sam", "email": "sam@other.example", "company_id": other.id},
        ])
        response = self.call("POST", "recipients", {"emails": ["hannah@other.example"]})
        hannah = response.json()["recipients"][0]
        self.assertIsNone(hannah["contact"])
        self.assertEqual(hannah["untracked_reason"], "do_not_track")
        self.assertIn("hannah@other.example", hannah["untracked_message"])
        self.assertNotIn("Hannah", response.text)
        response = self.call("POST", "recipients", {"emails": ["anna@customer.example", "hannah@other.example"]})
        result = response.json()
        self.assertEqual(result["tracking"]["mode"], "none")
        self.assertIn("hannah@other.example", result["tracking"]["message"])
        self.assertIn("hannah@other.example", result["switches"]["track_opens"]["disabled_reason"])
        self.assertNotIn("Hannah", response.text)
        prepared = self.prepare(to=["hannah@other.example"])
        self.assertEqual(prepared["tracking"]["mode"], "none")
        self.assertNotIn("Hannah", json.dumps(prepared))
        response = self.call("POST", "recipients", {"emails": ["sam@other.example"]})
        self.assertEqual(response.json()["tracking"]["mode"], "personal")
        self.assertIn("sam@other.example", response.json()["tracking"]["message"])
        self.assertNotIn("Secret Sam", response.text)
        # with data privacy on: no legal basis, still by address
        self.env.company.mail_tracking_privacy = True
        response = self.call("POST", "recipients", {"emails": ["sam@other.example"]})
        self.assertEqual(response.json()["recipients"][0]["untracked_reason"], "no_legal_basis")
        self.assertNotIn("Secret Sam", response.text)

    def test_p2_two_contacts_of_one_address_one_refused_one_rule_everywhere(self):
        """Eve has two contacts; the newer refused tracking. Recipients, prepare and Odoo's own
        send path agree: her address is not tracked, whichever contact it is sent as; an archived
        contact's refusal holds too."""
        eve = self.env["res.partner"].create({"name": "Eve First", "email": "eve@shared.example"})
        refused = self.env["res.partner"].create(
            {"name": "Eve Refused", "email": "Eve <eve@shared.example>", "do_not_track": True})
        for archived in (False, True):
            refused.active = not archived
            recipient = self.call("POST", "recipients", {"emails": ["eve@shared.example"]}).json()["recipients"][0]
            self.assertEqual(recipient["contact"]["id"], eve.id, "the oldest contact, as logging picks it")
            self.assertEqual((recipient["trackable"], recipient["untracked_reason"]), (False, "do_not_track"))
            prepared = self.prepare(to=["eve@shared.example"])
            self.assertEqual((prepared["tracking"]["mode"], prepared["body_html"], prepared["send_id"]),
                             ("none", BODY, None), f"archived: {archived}")
            message = self.post_email(eve, Markup(BODY))
            outgoing = self.outgoing(message)
            self.assertNotIn("/email-tracking/", outgoing["eve@shared.example"]["body"])
            self.assertFalse(self.tracked(message))

    def test_recipients_contact_opportunities_and_why_not_tracked(self):
        self.env["mail.address.exclusion"].with_user(self.salesperson).create(
            {"pattern": "competitor.example", "user_id": self.salesperson.id, "scope": "track"})
        self.env["mail.address.exclusion"].with_user(self.salesperson).create(
            {"pattern": "private.example", "user_id": self.salesperson.id, "scope": "log"})
        response = self.call("POST", "recipients", {"emails": [
            "Anna <ANNA@customer.example>", "dora@declined.example", "new@prospect.example",
            "carl@mycompany.example", "spy@competitor.example", "me@private.example"]})
        self.assertEqual(response.status_code, 200, response.text)
        result = response.json()
        by_email = {recipient["email"]: recipient for recipient in result["recipients"]}
        anna = by_email["anna@customer.example"]
        self.assertEqual(anna["contact"]["id"], self.anna.id)
        self.assertTrue(anna["trackable"])
        # Carl's opportunity on the same customer is not Sara's to see, nor to log on
        self.assertEqual([(r["model"], r["id"]) for r in anna["opportunities"]], [("crm.lead", self.lead.id)])
        self.assertIn(("crm.lead", self.lead.id), [(r["model"], r["id"]) for r in anna["log_records"]])
        self.assertNotIn("Colleague's deal", response.text)
        self.assertFalse(anna["can_create_contact"])
        self.assertEqual(by_email["dora@declined.example"]["untracked_reason"], "do_not_track")
        self.assertIn("Dora Declined", by_email["dora@declined.example"]["untracked_message"])
        self.assertIsNone(by_email["new@prospect.example"]["contact"])
        self.assertTrue(by_email["new@prospect.example"]["can_create_contact"])
        self.assertTrue(by_email["carl@mycompany.example"]["is_colleague"])
        self.assertEqual(by_email["carl@mycompany.example"]["untracked_reason"], "colleague")
        self.assertFalse(by_email["carl@mycompany.example"]["can_create_contact"])
        self.assertEqual(by_email["spy@competitor.example"]["untracked_reason"], "never_track")
        self.assertTrue(by_email["me@private.example"]["never_log"])
        self.assertFalse(by_email["me@private.example"]["can_create_contact"])
        # several recipients, one of whom refused tracking: Gmail's one message cannot be tracked
        self.assertEqual(result["tracking"]["mode"], "none")
        self.assertIn("Dora Declined", result["tracking"]["message"])
        self.assertFalse(result["switches"]["track_opens"]["available"])
        self.assertTrue(result["switches"]["log_email"]["available"])

    def test_recipients_tracking_modes(self):
        one = self.call("POST", "recipients", {"emails": ["anna@customer.example"]}).json()
        self.assertEqual((one["tracking"]["mode"], one["tracking"]["clicks"]), ("personal", True))
        self.assertIn("Anna Customer", one["tracking"]["message"])
        several = self.call("POST", "recipients", {"emails": ["anna@customer.example", "bruno@buyer.example"]}).json()
        self.assertEqual(several["tracking"]["mode"], "shared")
        # a copy to oneself carries the same pixel: Anna's opens could be Sara's
        bcc_self = self.call("POST", "recipients", {"emails": ["anna@customer.example", "sara@mycompany.example"]})
        self.assertEqual(bcc_self.json()["tracking"]["mode"], "shared")
        self.env.company.mail_tracking_privacy = True
        self.anna.legal_basis = "consent"
        several = self.call("POST", "recipients", {"emails": ["anna@customer.example", "bruno@buyer.example"]}).json()
        self.assertEqual(several["tracking"]["mode"], "none", "no anonymous measurement: nothing")
        self.env.company.mail_tracking_anonymous_opens = True
        several = self.call("POST", "recipients", {"emails": ["anna@customer.example", "bruno@buyer.example"]}).json()
        self.assertEqual((several["tracking"]["mode"], several["tracking"]["clicks"]), ("shared", False))
        off = self.call("POST", "recipients", {"emails": ["anna@customer.example"], "track_opens": False,
                                               "track_clicks": False}).json()
        self.assertEqual(off["tracking"]["mode"], "none")

    def test_p1_p2_disabled_reasons_are_the_composers(self):
        """One test drives both: the full composer, the chatter's composer and the API, for the same
        recipients, say the same thing in the same words."""
        self.env.company.mail_tracking_privacy = True
        self.anna.legal_basis = "consent"
        self.bruno.legal_basis = "none"
        record = self.env["res.partner"].with_user(self.salesperson).create({"name": "A record without followers"})
        for partners in (self.bruno, self.anna | self.bruno, self.bruno | self.dora, self.anna):
            composer = self.env["mail.compose.message"].with_user(self.salesperson).create({
                "model": "crm.lead", "res_ids": self.lead.ids, "body": Markup("<p>x</p>"),
                "partner_ids": [(6, 0, partners.ids)]})
            chatter = record.with_user(self.salesperson).mail_tracking_composer_state(partners.ids)
            result = self.call("POST", "recipients", {"emails": partners.mapped("email")}).json()
            self.assertEqual(result["untracked_notice"] or False, composer.mail_tracking_notice,
                             partners.mapped("name"))
            self.assertEqual(sorted(result["untracked"]), sorted(chatter["untracked"]))
            if not composer.mail_tracking_possible:
                self.assertFalse(result["switches"]["track_opens"]["available"])
                self.assertEqual(result["switches"]["track_opens"]["disabled_reason"], composer.mail_tracking_notice)
        self.assertEqual(chatter["untracked"], [], "Anna alone is tracked")
        # in Italian too: the same translated sentence
        self.salesperson.lang = self.env["res.lang"]._activate_lang("it_IT").code
        composer = self.env["mail.compose.message"].with_user(self.salesperson).with_context(lang="it_IT").create({
            "model": "crm.lead", "res_ids": self.lead.ids, "body": Markup("<p>x</p>"),
            "partner_ids": [(6, 0, self.bruno.ids)]})
        result = self.call("POST", "recipients", {"emails": [self.bruno.email]}).json()
        self.assertEqual(result["untracked_notice"], composer.mail_tracking_notice)

    # ------------------------------------------------------------
    # Tracked sends: prepare, Gmail sends, confirm, the recipient opens and clicks
    # ------------------------------------------------------------

    def test_t1_t2_personal_send_then_open_and_click_of_that_recipient(self):
        prepared = self.prepare()
        body = prepared["body_html"]
        self.assertEqual(prepared["tracking"]["mode"], "personal")
        pixel = TOKEN_IN_PIXEL.search(body)
        links = CLICK_LINK.findall(body)
        self.assertTrue(pixel and links)
        self.assertEqual(prepared["pixel_url"], f"{self.base_url()}/email-tracking/open/{pixel.group(1)}.gif")
        # not http(s): never made a redirect (T2, R2)
        for href in ('href="javascript:alert(1)"', 'href="data:text/html,&lt;b&gt;x"',
                     'href="mailto:sara@mycompany.example"'):
            self.assertIn(href, body)
        self.assertNotIn("https://shop.example/offer", body)
        self.assertIn("Hello Anna,", body, "T11: the text is what was written")
        # nothing is recorded before the confirmation: the token does not exist yet
        self.assertEqual(self.fetch(prepared["pixel_url"]).status_code, 200)
        self.assertFalse(self.env["mail.tracked.recipient"].sudo().search([("token_digest", "!=", False),
                                                                         ("partner_id", "=", self.anna.id)]))
        confirmed = self.confirm(prepared["send_id"], message_id="<CAF123@mail.gmail.com>")
        message = self.env["mail.message"].sudo().browse(confirmed["message"]["id"])
        self.assertEqual(message.message_id, "<CAF123@mail.gmail.com>")
        self.assertFalse(message.model, "Log off: on no timeline")
        copy = self.tracked(message)
        self.assertEqual((copy.partner_id, copy.state), (self.anna, "sent"))
        self.assertEqual(confirmed["tracked"], [{"email": "anna@customer.example", "contact_id": self.anna.id,
                                                 "mode": "personal"}])
        self.delivered_ago(message.id)
        self.fetch(prepared["pixel_url"])
        self.assertEqual(copy.state, "opened")
        first_link = next(href for href in re.findall(r'href="([^"]+)"', body) if "/email-tracking/click/" in href)
        response = self.fetch(first_link)
        self.assertEqual(response.status_code, 302)
        self.assertEqual(response.headers["Location"], "https://shop.example/offer?id=7&lang=it")
        self.assertEqual(copy.state, "clicked")
        self.assertEqual(copy.click_count, 1)
        # the feed the extension polls (N2): newest first, the click on Anna
        feed = self.call("GET", "feed?limit=10").json()["entries"]
        self.assertEqual([entry["kind"] for entry in feed[:3]], ["clicked", "opened", "sent"])
        self.assertEqual(feed[0]["recipient"]["contact_id"], self.anna.id)
        self.assertEqual(feed[0]["link"], "https://shop.example/offer?id=7&lang=it")
        self.assertEqual(feed[0]["subject"], "Our offer")
        answer = self.call("GET", "feed")
        self.assertLess(answer.json()["next_since"], answer.json()["now"], "the next poll looks back a little")
        since = self.call("GET", f"feed?since={feed[0]['date']}").json()["entries"]
        self.assertIn(feed[0]["id"], [entry["id"] for entry in since])
        self.assertNotIn(feed[2]["id"], [entry["id"] for entry in since], "the sent line is older")

    def test_a3_hidden_link_and_a1_machine_clicks_stay_out_of_the_feed(self):
        prepared = self.prepare()
        confirmed = self.confirm(prepared["send_id"])
        hrefs = [href for href in re.findall(r'href="([^"]+)"', prepared["body_html"])
                 if "/email-tracking/click/" in href]
        self.assertEqual(len(hrefs), 2, "the offer and the hidden link only programs follow (A3)")
        # a scanner follows every link within seconds of delivery
        for href in hrefs:
            self.fetch(href)
        kinds = [entry["kind"] for entry in self.call("GET", "feed").json()["entries"]
                 if entry["message_id"] == confirmed["message"]["id"]]
        self.assertEqual(kinds, ["sent"], "machines' clicks are counted nowhere (A1)")

    def test_t7_several_recipients_share_one_copy_nobody_named(self):
        prepared = self.prepare(to=["anna@customer.example"], cc=["bruno@buyer.example"])
        self.assertEqual(prepared["tracking"]["mode"], "shared")
        self.assertTrue(CLICK_LINK.search(prepared["body_html"]))
        message_id = self.confirm(prepared["send_id"])["message"]["id"]
        copy = self.tracked(self.env["mail.message"].browse(message_id))
        self.assertEqual(len(copy), 1)
        self.assertFalse(copy.partner_id, "nobody is named")
        self.assertEqual(copy.email, "anna@customer.example, bruno@buyer.example")
        self.delivered_ago(message_id)
        self.fetch(prepared["pixel_url"])
        self.assertEqual(copy.state, "opened")

    def test_p1_anonymous_pixel_only_under_data_privacy(self):
        self.env.company.write({"mail_tracking_privacy": True, "mail_tracking_anonymous_opens": True})
        prepared = self.prepare(to=["anna@customer.example", "bruno@buyer.example"])
        self.assertEqual((prepared["tracking"]["mode"], prepared["tracking"]["clicks"]), ("shared", False))
        self.assertFalse(CLICK_LINK.search(prepared["body_html"]), "no links rewritten")
        self.assertIn('href="https://shop.example/offer?id=7&amp;lang=it"', prepared["body_html"])
        message_id = self.confirm(prepared["send_id"])["message"]["id"]
        copy = self.tracked(self.env["mail.message"].browse(message_id))
        self.assertTrue(copy.is_aggregate)
        self.assertFalse(copy.partner_id or copy.email)
        self.delivered_ago(message_id)
        self.fetch(prepared["pixel_url"])
        self.assertEqual(copy.open_count, 1)
        self.env.company.mail_tracking_anonymous_opens = False
        prepared = self.prepare(to=["anna@customer.example", "bruno@buyer.example"])
        self.assertEqual(prepared["tracking"]["mode"], "none")
        self.assertEqual(prepared["body_html"], BODY, "untouched")
        self.assertIsNone(prepared["send_id"])

    def test_p2_t10_t9_nothing_tracked_body_untouched(self):
        # a contact who refused tracking among several: the one message cannot carry a pixel
        prepared = self.prepare(to=["anna@customer.example", "dora@declined.example"])
        self.assertEqual((prepared["tracking"]["mode"], prepared["body_html"]), ("none", BODY))
        prepared = self.prepare(to=["dora@declined.example"])
        self.assertEqual((prepared["tracking"]["mode"], prepared["body_html"]), ("none", BODY))
        self.assertIn("Dora Declined", prepared["tracking"]["message"])
        self.call("PUT", "lists", {"never_track": ["customer.example"]})
        prepared = self.prepare()
        self.assertEqual((prepared["tracking"]["mode"], prepared["body_html"]), ("none", BODY))
        self.call("PUT", "lists", {"never_track": []})
        prepared = self.prepare(body_html="<p><br></p>")
        self.assertEqual((prepared["tracking"]["mode"], prepared["body_html"]), ("none", "<p><br></p>"))
        self.assertIsNone(prepared["send_id"])
        self.assertFalse(self.env["mail.tracking.api.send"].sudo().search([]), "nothing to confirm, nothing kept")

    def test_p2_odoo_send_path_shares_the_rule_raw_address_of_a_refusing_contact(self):
        """The rule Gmail's one message needs holds in Odoo's own sending too (one home,
        ``mail.mail._mail_tracking_audience``): Dora's address typed as a raw address is not
        tracked, the contacts sent their own copies still are."""
        message = self.post_email(self.anna, Markup(BODY))
        mail = self.env["mail.mail"].sudo().search([("mail_message_id", "=", message.id)])
        mail.write({"email_to": "dora@declined.example"})
        outgoing = self.outgoing(message)
        self.assertIn("/email-tracking/", outgoing["anna@customer.example"]["body"])
        self.assertNotIn("/email-tracking/", outgoing["dora@declined.example"]["body"])
        self.assertEqual(self.tracked(message).partner_id, self.anna)
        self.assertEqual(len(self.tracked(message)), 1)

    # ------------------------------------------------------------
    # Logging (L2, L3, L5, L6)
    # ------------------------------------------------------------

    def test_l2_l3_logged_on_the_contact_and_opportunity_with_contacts_created(self):
        self.env["mail.address.exclusion"].with_user(self.salesperson).create(
            {"pattern": "private.example", "user_id": self.salesperson.id, "scope": "log"})
        prepared = self.prepare(
            to=["Anna Customer <anna@customer.example>"], cc=["Nina New <nina@prospect.example>",
                                                              "me@private.example"],
            log_email=True, records=[{"model": "res.partner", "id": self.anna.id},
                                     {"model": "crm.lead", "id": self.lead.id}],
            create_contacts=["nina@prospect.example", "me@private.example"])
        self.assertEqual([(r["model"], r["id"]) for r in prepared["records"]],
                         [("res.partner", self.anna.id), ("crm.lead", self.lead.id)])
        # a contact on a never-log list is never a record to log on (L5)
        private = self.env["res.partner"].create({"name": "Private", "email": "me@private.example"})
        dropped = self.prepare(to=["me@private.example", "anna@customer.example"], log_email=True,
                               records=[{"model": "res.partner", "id": private.id}])
        self.assertEqual(dropped["records"], [])
        private.unlink()
        confirmed = self.confirm(prepared["send_id"], attachments=[
            {"name": "offer.pdf", "mimetype": "application/pdf", "data": base64.b64encode(PDF).decode()}])
        message = self.env["mail.message"].sudo().browse(confirmed["message"]["id"])
        self.assertEqual((message.model, message.res_id), ("res.partner", self.anna.id))
        self.assertTrue(message.log_email)
        nina = self.env["res.partner"].search([("email_normalized", "=", "nina@prospect.example")])
        self.assertEqual(nina.name, "Nina New")
        self.assertTrue(nina.is_non_marketing, "L3")
        self.assertEqual(nina.user_id, self.salesperson)
        self.assertFalse(self.env["res.partner"].search([("email_normalized", "=", "me@private.example")]),
                         "L5: never a contact for a never-log address")
        self.assertEqual(set(self.associations(message).mapped(lambda a: (a.model, a.res_id))),
                         {("crm.lead", self.lead.id), ("res.partner", nina.id)})
        self.assertEqual(confirmed["created_contacts"][0]["id"], nina.id)
        self.assertEqual(message.attachment_ids.mapped("name"), ["offer.pdf"])
        self.assertEqual(message.attachment_ids.raw, PDF)
        self.assertEqual(confirmed["attachments_left_out"], [])
        # the email is on the opportunity's timeline, as the salesperson sees it
        self.authenticate("mtx_sales", "mtx_sales")
        result = self.make_jsonrpc_request("/mail/thread/messages", {
            "thread_model": "crm.lead", "thread_id": self.lead.id, "limit": 30})
        self.assertIn(message.id, [data["id"] for data in result["data"].get("mail.message", [])])

    def test_l2_default_records_and_l6_attachments_left_out(self):
        self.env.company.mail_logging_attachment_max_mb = 1
        prepared = self.prepare(track_opens=False, track_clicks=False, log_email=True)
        self.assertEqual(prepared["tracking"]["mode"], "none")
        self.assertEqual(prepared["body_html"], BODY, "Log without Track: the body leaves as written")
        self.assertEqual({(r["model"], r["id"]) for r in prepared["records"]},
                         {("res.partner", self.anna.id), ("crm.lead", self.lead.id)},
                         "L2 defaults: the contact and Sara's open opportunity, not Carl's")
        big = base64.b64encode(b"x" * (1024 * 1024 + 1)).decode()
        confirmed = self.confirm(prepared["send_id"], attachments=[
            {"name": "big.bin", "mimetype": "application/octet-stream", "data": big},
            {"name": "offer.pdf", "mimetype": "application/pdf", "data": base64.b64encode(PDF).decode()}])
        self.assertEqual(len(confirmed["attachments_left_out"]), 1)
        self.assertIn("big.bin", confirmed["attachments_left_out"][0])
        message = self.env["mail.message"].sudo().browse(confirmed["message"]["id"])
        self.assertEqual(message.attachment_ids.mapped("name"), ["offer.pdf"])
        self.assertIn("big.bin", str(message.body), "the timeline says which were left out")
        self.assertFalse(self.tracked(message))

    def test_p4_records_of_others_are_not_found_without_their_names(self):
        other_company = self.env["res.company"].create({"name": "Other Co"})
        foreign = self.env["crm.lead"].create({"name": "Other company's deal", "company_id": other_company.id,
                                               "type": "opportunity"})
        missing = self.env["crm.lead"].create({"name": "Gone"})
        missing_id = missing.id
        missing.unlink()
        answers = []
        for record in ({"model": "crm.lead", "id": self.colleague_lead.id}, {"model": "crm.lead", "id": foreign.id},
                       {"model": "crm.lead", "id": missing_id}):
            response = self.call("POST", "send/prepare", {"body_html": BODY, "to": ["anna@customer.example"],
                                                          "log_email": True, "records": [record]})
            answers.append(self.assert_error(response, 404, "record_not_found", "records"))
            self.assertNotIn("deal", response.text)
        self.assertEqual(len({json.dumps(answer) for answer in answers}), 1, "the same answer: nothing revealed")
        self.assert_error(self.call("POST", "send/prepare", {
            "body_html": BODY, "to": ["anna@customer.example"], "log_email": True,
            "records": [{"model": "res.country", "id": 1}]}), 400, "invalid_record", "records")
        self.assert_error(self.call("POST", "records/search", {"model": "res.users", "query": "a"}),
                          400, "invalid_record")
        found = self.call("POST", "records/search", {"model": "crm.lead", "query": "Big deal"}).json()["records"]
        self.assertEqual([record["id"] for record in found], [self.lead.id])
        self.assertFalse(self.env["mail.tracking.api.send"].sudo().search([]))

    def test_p4_logged_only_on_the_pickers_models_and_where_the_user_may_post(self):
        """The email is posted on the first record: as in Odoo, only where its author may post
        (write). A global rule makes one of Sara's opportunities read-only, as a company may."""
        team = self.env["crm.team"].search([], limit=1)
        self.assertTrue(team.with_user(self.salesperson).has_access("read"))
        for record in ({"model": "crm.team", "id": team.id}, {"model": "res.users", "id": self.salesperson.id}):
            self.assert_error(self.call("POST", "send/prepare", {
                "body_html": BODY, "to": ["anna@customer.example"], "log_email": True, "records": [record]}),
                400, "invalid_record", "records")
        locked = self.env["crm.lead"].create({"name": "Locked deal", "type": "opportunity",
                                              "user_id": self.salesperson.id, "partner_id": self.anna.id})
        self.env["ir.rule"].create({
            "name": "Locked deals are read-only", "model_id": self.env["ir.model"]._get_id("crm.lead"),
            "domain_force": "[('name', '!=', 'Locked deal')]",
            "perm_read": False, "perm_write": True, "perm_create": False, "perm_unlink": False})
        self.assertTrue(locked.with_user(self.salesperson).has_access("read"))
        # only the read-only deal: the email belongs to no record and is on the deal's timeline
        alone = self.prepare(log_email=True, records=[{"model": "crm.lead", "id": locked.id}])
        self.assertEqual(len(alone["notices"]), 1)
        confirmed = self.confirm(alone["send_id"])
        self.assertEqual(confirmed["notices"], [])
        homeless = self.env["mail.message"].sudo().browse(confirmed["message"]["id"])
        self.assertFalse(homeless.model)
        self.assertTrue(homeless.log_email)
        self.assertEqual(self.associations(homeless).mapped(lambda a: (a.model, a.res_id)), [("crm.lead", locked.id)])
        # on the contact, associated with the read-only deal: the contact's timeline holds it
        prepared = self.prepare(log_email=True, records=[{"model": "res.partner", "id": self.anna.id},
                                                         {"model": "crm.lead", "id": locked.id}])
        message = self.env["mail.message"].sudo().browse(self.confirm(prepared["send_id"])["message"]["id"])
        self.assertEqual((message.model, message.res_id), ("res.partner", self.anna.id))

    def contact_read_only(self):
        """Sara may read contacts but not edit them: no Contact Creation, and the write access
        Sales gives its users on contacts taken away, as a company may."""
        self.assertFalse(self.salesperson.has_group("base.group_partner_manager"))
        self.env.ref("crm.access_res_partner").perm_write = False
        self.env.flush_all()
        self.assertFalse(self.anna.with_user(self.salesperson).has_access("write"))
        self.assertTrue(self.anna.with_user(self.salesperson).has_access("read"))

    def timeline(self, model, res_id):
        self.authenticate("mtx_sales", "mtx_sales")
        result = self.make_jsonrpc_request("/mail/thread/messages", {
            "thread_model": model, "thread_id": res_id, "limit": 30})
        return [data["id"] for data in result["data"].get("mail.message", [])]

    def test_l2_contact_read_only_logged_through_association_and_tracked(self):
        """As Odoo's composer, an email to a contact Sara may only read is logged on its timeline
        through an association: on the first chosen record she may post on, else on none."""
        self.contact_read_only()
        prepared = self.prepare(log_email=True, records=[{"model": "res.partner", "id": self.anna.id},
                                                         {"model": "crm.lead", "id": self.lead.id}])
        self.assertEqual([(r["model"], r["id"]) for r in prepared["records"]],
                         [("crm.lead", self.lead.id), ("res.partner", self.anna.id)], "the deal is the home")
        self.assertEqual(prepared["notices"], [])
        confirmed = self.confirm(prepared["send_id"])
        message = self.env["mail.message"].sudo().browse(confirmed["message"]["id"])
        self.assertEqual((message.model, message.res_id), ("crm.lead", self.lead.id))
        self.assertEqual(self.associations(message).mapped(lambda a: (a.model, a.res_id)),
                         [("res.partner", self.anna.id)])
        self.assertIn(message.id, self.timeline("res.partner", self.anna.id))
        self.assertEqual(len(self.tracked(message)), 1)
        # only the contact: the email belongs to no record, and is on the contact's timeline
        prepared = self.prepare(log_email=True, records=[{"model": "res.partner", "id": self.anna.id}])
        self.assertTrue(prepared["log_email"])
        self.assertEqual(len(prepared["notices"]), 1)
        confirmed = self.confirm(prepared["send_id"])
        self.assertEqual([(r["model"], r["id"]) for r in confirmed["logged_on"]], [("res.partner", self.anna.id)])
        message = self.env["mail.message"].sudo().browse(confirmed["message"]["id"])
        self.assertFalse(message.model)
        self.assertTrue(message.log_email)
        self.assertIn(message.id, self.timeline("res.partner", self.anna.id))
        tracked = self.tracked(message)
        self.assertEqual(tracked.mapped("email"), ["anna@customer.example"])
        self.assertEqual(self.fetch(prepared["pixel_url"]).status_code, 200)
        self.assertTrue(self.env["mail.tracked.event"].sudo().search([("recipient_id", "in", tracked.ids)]))

    def test_r_confirm_after_rights_lost_records_tracking_with_a_notice(self):
        """Gmail sent the tracked body: a confirmation after Sara lost the right to post on the
        email's home still records the tracked copies (the opens count) and logs what it can."""
        prepared = self.prepare(log_email=True, records=[{"model": "res.partner", "id": self.anna.id}])
        self.assertFalse(prepared.get("notices"))
        self.contact_read_only()
        confirmed = self.confirm(prepared["send_id"], attachments=[
            {"name": "offer.pdf", "mimetype": "application/pdf", "data": base64.b64encode(PDF).decode()}])
        self.assertEqual(len(confirmed["notices"]), 1, confirmed)
        message = self.env["mail.message"].sudo().browse(confirmed["message"]["id"])
        self.assertFalse(message.model)
        self.assertEqual(message.attachment_ids.mapped("name"), ["offer.pdf"])
        self.assertEqual(message.attachment_ids.raw, PDF)
        self.assertEqual(self.associations(message).mapped(lambda a: (a.model, a.res_id)),
                         [("res.partner", self.anna.id)])
        tracked = self.tracked(message)
        self.assertEqual(len(tracked), 1)
        self.assertEqual(self.fetch(prepared["pixel_url"]).status_code, 200)
        self.assertTrue(self.env["mail.tracked.event"].sudo().search([("recipient_id", "in", tracked.ids)]))

    def test_recipients_lookup_queries_do_not_grow_per_address(self):
        """Why each address is or is not tracked reuses the request's one look-up of the never-track
        lists and the refusals: no query per address."""
        Api = self.env["mail.tracking.api"].with_user(self.salesperson)
        company = Api._company()

        def queries(count):
            emails = [f"person{index}.{count}@customer{index}.example" for index in range(count)]
            self.env["res.partner"].create([{"name": email, "email": email} for email in emails])
            self.env.flush_all()
            audience = Api._audience([(email, email) for email in emails], company)
            Api._untracked_reason(audience, emails[0], company)  # what is read once for all
            before = self.env.cr.sql_log_count
            reasons = [Api._untracked_reason(audience, email, company) for email in emails]
            self.assertEqual(reasons, [(None, None)] * count)
            return self.env.cr.sql_log_count - before
        self.assertLessEqual(queries(20), queries(1) + 2)

    def test_l5_never_log_address_added_before_confirm_is_no_contact(self):
        prepared = self.prepare(cc=["Nina New <nina@prospect.example>"], log_email=True,
                                records=[{"model": "res.partner", "id": self.anna.id}],
                                create_contacts=["nina@prospect.example"])
        self.call("PUT", "lists", {"never_log": ["prospect.example"]})
        confirmed = self.confirm(prepared["send_id"])
        self.assertEqual(confirmed["created_contacts"], [])
        self.assertFalse(self.env["res.partner"].search([("email_normalized", "=", "nina@prospect.example")]))
        self.assertEqual([(r["model"], r["id"]) for r in confirmed["logged_on"]], [("res.partner", self.anna.id)])

    def test_n2_feed_says_when_more_happened_than_it_answers(self):
        for _send in range(3):
            self.confirm(self.prepare()["send_id"])
        page = self.call("GET", "feed?limit=2").json()
        self.assertEqual(([entry["kind"] for entry in page["entries"]], page["has_more"]), (["sent", "sent"], True))
        page = self.call("GET", "feed?limit=3").json()
        self.assertEqual((len(page["entries"]), page["has_more"]), (3, False))
        # after `since`: the three at or after the oldest, none after the newest
        self.assertTrue(self.call("GET", f"feed?limit=2&since={page['entries'][2]['date']}").json()["has_more"])
        later = (fields.Datetime.now() + timedelta(minutes=5)).isoformat() + "Z"
        self.assertEqual(self.call("GET", f"feed?limit=2&since={later}").json(), {
            "entries": [], "has_more": False, **{key: ANY for key in ("now", "next_since")}})

    # ------------------------------------------------------------
    # Prepared sends: another user's, replayed, cancelled, expired
    # ------------------------------------------------------------

    def test_r_send_ids_of_others_replays_cancel_expiry(self):
        prepared = self.prepare()
        send = self.env["mail.tracking.api.send"].sudo().search([("name", "=", prepared["send_id"])])
        self.assert_error(self.call("POST", "send/confirm", {"send_id": prepared["send_id"]},
                                    key=self.api_key(self.colleague)), 404, "send_not_found")
        self.assert_error(self.call("POST", "send/confirm", {"send_id": "0" * 32}), 404, "send_not_found")
        self.confirm(prepared["send_id"])
        self.assert_error(self.call("POST", "send/confirm", {"send_id": prepared["send_id"]}),
                          409, "already_confirmed")
        self.assertEqual(len(self.tracked(send.message_id)), 1, "a replay records nothing twice")

        cancelled = self.prepare()
        draft = self.env["mail.tracking.api.send"].sudo().search([("name", "=", cancelled["send_id"])]).message_id
        self.assertEqual(self.call("POST", "send/cancel", {"send_id": cancelled["send_id"]}).json(),
                         {"cancelled": True})
        self.assertFalse(draft.exists())
        self.assert_error(self.call("POST", "send/confirm", {"send_id": cancelled["send_id"]}),
                          409, "already_confirmed")

        expired = self.prepare()
        send = self.env["mail.tracking.api.send"].sudo().search([("name", "=", expired["send_id"])])
        draft = send.message_id
        send.expires_at = fields.Datetime.now() - timedelta(seconds=1)
        self.assert_error(self.call("POST", "send/confirm", {"send_id": expired["send_id"]}), 404, "send_not_found")
        self.env["mail.tracking.api.send"]._gc_expired_sends()
        self.assertFalse(draft.exists(), "a never-sent email's draft does not stay")
        self.assertFalse(send.exists())
        self.assertEqual(self.fetch(expired["pixel_url"]).status_code, 200)
        self.assertFalse(self.env["mail.tracked.event"].sudo().search([("recipient_id.message_id", "=", draft.id)]))

    # ------------------------------------------------------------
    # Personal lists (T10, L5)
    # ------------------------------------------------------------

    def test_t10_l5_personal_lists_are_odoos(self):
        self.assertEqual(self.call("GET", "lists").json(), {"never_track": [], "never_log": []})
        response = self.call("PUT", "lists", {"never_track": ["Competitor.example", "spy@other.example"],
                                              "never_log": ["@private.example"]})
        self.assertEqual(response.json(), {"never_track": ["competitor.example", "spy@other.example"],
                                           "never_log": ["private.example"]})
        self.assertEqual(sorted(self.salesperson.mail_tracking_exclusion_ids.mapped("pattern")),
                         ["competitor.example", "spy@other.example"])
        self.assertEqual(self.salesperson.mail_logging_exclusion_ids.mapped("pattern"), ["private.example"])
        self.assert_error(self.call("PUT", "lists", {"never_track": ["fine.example", "not a domain"]}),
                          400, "invalid_pattern", "never_track")
        self.assertEqual(len(self.salesperson.mail_tracking_exclusion_ids), 2, "nothing changed")
        self.call("PUT", "lists", {"never_log": []})
        self.assertFalse(self.salesperson.mail_logging_exclusion_ids)
        self.assertEqual(len(self.salesperson.mail_tracking_exclusion_ids), 2, "the list not sent is kept")
        # a colleague's lists are theirs
        self.assertEqual(self.call("GET", "lists", key=self.api_key(self.colleague)).json()["never_track"], [])


@tagged("post_install", "-at_install")
class TestGmailApiRateLimitConcurrency(TransactionCase):
    """The rate limit's counter under real concurrency: in a TransactionCase the registry's
    cursors are real ones, each its own PostgreSQL transaction (not the test's), so two requests
    counted at once meet as in production. Its rows, for the administrator and a minute of the
    year 2000, are committed, and deleted at the end."""

    def setUp(self):
        super().setUp()
        self.user = self.env.ref("base.user_admin")
        self.minute = datetime(2000, 1, 1, 0, 0)
        self.forget_counts()
        self.addCleanup(self.forget_counts)

    def forget_counts(self):
        with self.registry.cursor() as cr:
            cr.execute("DELETE FROM mail_tracking_api_usage WHERE minute < '2000-01-02'")

    def wait_for_lock(self, timeout=20):
        """Whether another transaction is waiting for a lock on the counter, within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self.registry.cursor() as cr:
            while time.monotonic() < deadline:
                cr.execute("""SELECT 1 FROM pg_stat_activity WHERE datname = current_database()
                                 AND wait_event_type = 'Lock' AND query LIKE '%%mail_tracking_api_usage%%'""")
                if cr.fetchone():
                    return True
                cr.rollback()
                time.sleep(0.05)
        return False

    def test_r_two_requests_at_once_both_count(self):
        Usage = self.env["mail.tracking.api.usage"]
        answers = []
        with patch.object(type(Usage), "_rate_limit", return_value=1), self.registry.cursor() as first:
            # a first request counted, its transaction not committed yet
            first.execute("INSERT INTO mail_tracking_api_usage (user_id, minute, count) VALUES (%s, %s, 1)",
                          [self.user.id, self.minute])
            second = threading.Thread(target=lambda: answers.append(
                Usage._count_request(self.user, self.minute + timedelta(seconds=30))))
            second.start()
            self.assertTrue(self.wait_for_lock(), "the second request waits for the first's row")
            first.commit()
            second.join(30)
        self.assertEqual(len(answers), 1, "the second request was answered")
        self.assertIsNotNone(answers[0], "over the limit of 1: the second request is refused, not let through")
        with self.registry.cursor() as cr:
            cr.execute("SELECT count FROM mail_tracking_api_usage WHERE user_id = %s AND minute = %s",
                       [self.user.id, self.minute])
            self.assertEqual(cr.fetchone()[0], 2, "both requests counted")

    def test_r_a_request_that_cannot_be_counted_is_refused(self):
        """A database error while counting (here: a user the counter's row cannot refer to)."""
        Usage = self.env["mail.tracking.api.usage"]
        with patch.object(type(Usage), "_rate_limit", return_value=100), mute_logger(
                "odoo.sql_db", "odoo.addons.mail_tracking_ext.models.mail_tracking_api_usage"):
            self.assertGreaterEqual(Usage._count_request(self.env["res.users"].browse(2 ** 31 - 1),
                                                         self.minute + timedelta(seconds=1)), 1)
