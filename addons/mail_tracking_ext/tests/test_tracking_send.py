
from markupsafe import Markup

from odoo.addons.base.models.ir_mail_server import MailDeliveryException
from odoo.exceptions import ValidationError
from odoo.tests import Form, tagged
from odoo.tests.common import JsonRpcException
from odoo.tools import mute_logger

from ..models.mail_mail import COPY_HEADER
from ..tools import token_digest
from ..tools.compat import postprocess_sent_message
from .common import CLICK_LINK, TrackingCase, smtp_server

BODY = Markup('<p>Hello, see <a href="https://shop.example/offer?id=7">our offer</a>.</p>')


@tagged("post_install", "-at_install")
class TestTrackingSend(TrackingCase):

    def test_t1_t2_each_contact_gets_own_pixel_and_links(self):
        message = self.post_email(self.anna | self.bruno, BODY)
        self.assertTrue(message.track_opens and message.track_clicks, "T4: defaults are on")
        outgoing = self.outgoing(message)
        anna_body = outgoing["anna@customer.example"]["body"]
        bruno_body = outgoing["bruno@buyer.example"]["body"]
        anna_token, bruno_token = self.token_of(anna_body), self.token_of(bruno_body)
        self.assertTrue(anna_token and bruno_token)
        self.assertNotEqual(anna_token, bruno_token)
        self.assertEqual({m.group(1) for m in CLICK_LINK.finditer(anna_body)}, {anna_token})
        self.assertNotIn("https://shop.example/offer", anna_body, "the original URL is server-side only")
        recipients = self.tracked(message)
        self.assertEqual(recipients.partner_id, self.anna | self.bruno)
        self.assertEqual(set(recipients.mapped("state")), {"sent"})
        self.assertEqual(sorted(message.sudo().tracked_links.values()), ["", "https://shop.example/offer?id=7"],
                         "the link, and the hidden one that only programs follow (A3)")

    def test_t3_composer_switches_override_defaults_only_for_that_email(self):
        composer = Form(self.env["mail.compose.message"].with_user(self.salesperson).with_context(
            default_model="crm.lead", default_res_ids=self.lead.ids, default_composition_mode="comment",
            default_partner_ids=self.anna.ids, mail_notify_force_send=False))
        self.assertTrue(composer.track_opens and composer.track_clicks)
        composer.body = BODY
        composer.track_clicks = False
        composer.save().action_send_mail()
        message = self.lead.message_ids[0]
        self.assertTrue(message.track_opens)
        self.assertFalse(message.track_clicks)
        body = self.outgoing(message)["anna@customer.example"]["body"]
        self.assertIn("/email-tracking/open/", body)
        self.assertIn('href="https://shop.example/offer?id=7"', body, "clicks off: link untouched")
        self.assertTrue(self.salesperson.mail_tracking_clicks_default, "T3: the default did not change")

    def test_t3_inline_composer_values_are_honoured(self):
        message = self.post_email(self.anna, BODY, track_opens=False, track_clicks=False)
        self.assertFalse(message.track_opens or message.track_clicks)
        self.assertEqual(self.outgoing(message)["anna@customer.example"]["body"].count("email-tracking"), 0)
        self.assertFalse(self.tracked(message))

    def test_t4_user_defaults(self):
        self.salesperson.write({"mail_tracking_opens_default": False})
        message = self.post_email(self.anna, BODY)
        self.assertFalse(message.track_opens)
        self.assertTrue(message.track_clicks)
        body = self.outgoing(message)["anna@customer.example"]["body"]
        self.assertNotIn("/email-tracking/open/", body)
        self.assertIn("/email-tracking/click/", body)

    def test_t5_company_enforced_defaults_and_disallowed_tracking(self):
        self.env.company.write({
            "mail_tracking_enforce_defaults": True,
            "mail_tracking_default_opens": True,
            "mail_tracking_default_clicks": False,
        })
        self.salesperson.write({"mail_tracking_opens_default": False, "mail_tracking_clicks_default": True})
        message = self.post_email(self.anna, BODY)
        self.assertEqual((message.track_opens, message.track_clicks), (True, False))
        self.env.company.mail_tracking_allowed = False
        message = self.post_email(self.anna, BODY, track_opens=True, track_clicks=True)
        self.assertFalse(message.track_opens or message.track_clicks,
                         "T5: not allowed by the company, whatever the composer says")
        composer = self.env["mail.compose.message"].with_user(self.salesperson).create({
            "model": "crm.lead", "res_ids": self.lead.ids, "body": BODY})
        self.assertFalse(composer.mail_tracking_allowed, "T3: the switches are hidden")

    def test_t4_t5_l1_preferences_show_the_values_in_force(self):
        """T4, T5, L1: when the company decides, a salesperson's Preferences show what
        new emails start from, not the salesperson's own (unused) values."""
        self.salesperson.write({"mail_tracking_opens_default": True, "mail_tracking_clicks_default": True,
                                "mail_logging_default": True})
        fields = ["mail_tracking_defaults_enforced", "mail_tracking_opens_in_force", "mail_tracking_clicks_in_force",
                  "mail_logging_default_enforced", "mail_logging_default_in_force"]

        def preferences():  # as the next page load reads them
            self.env.invalidate_all()
            values = self.salesperson.with_user(self.salesperson).read(fields)[0]
            return tuple(values[field] for field in fields)

        self.assertEqual(preferences(), (False, True, True, False, True), "the user's own values")
        self.env.company.write({"mail_tracking_enforce_defaults": True, "mail_tracking_default_opens": True,
                                "mail_tracking_default_clicks": False, "mail_logging_enforce_default": True,
                                "mail_logging_default": False})
        self.assertEqual(preferences(), (True, True, False, True, False), "the company's")
        self.env.company.write({"mail_tracking_allowed": False})
        self.assertEqual(preferences()[:3], (True, False, False), "no tracking at all")
        arch = self.env["res.users"].with_user(self.salesperson).get_views(
            [(self.env.ref("base.view_users_form_simple_modif").id, "form")])["views"]["form"]["arch"]
        self.assertIn('name="mail_tracking_clicks_in_force"', arch)

    def test_only_emails_to_contacts_are_tracked(self):
        """Notes, system notifications and internal users are never tracked."""
        note = self.lead.with_user(self.salesperson).message_post(
            body=BODY, partner_ids=self.anna.ids, message_type="comment", subtype_xmlid="mail.mt_note")
        self.assertFalse(note.track_opens or note.track_clicks)
        notification = self.lead.with_user(self.salesperson).message_post(
            body=BODY, partner_ids=self.anna.ids, subtype_xmlid="mail.mt_comment")
        self.assertFalse(notification.track_opens, "message_type notification is Odoo's, not the user's")
        self.lead.with_user(self.salesperson).write({"user_id": self.colleague.id})
        assignment = self.env["mail.message"].search([("partner_ids", "in", self.colleague.partner_id.ids)])
        self.assertTrue(assignment)
        self.assertFalse(any(assignment.mapped("track_opens")))

        message = self.post_email(self.anna | self.colleague.partner_id, BODY)
        outgoing = self.outgoing(message)
        self.assertNotIn("email-tracking", outgoing["carl@mycompany.example"]["body"])
        self.assertEqual(self.tracked(message).partner_id, self.anna)

    def test_t9_empty_body_goes_out_untouched(self):
        message = self.post_email(self.anna, "")
        mails = self.env["mail.mail"].sudo().search([("mail_message_id", "=", message.id)])
        for mail in mails:
            for values in mail._prepare_outgoing_list():
                self.assertNotIn("email-tracking", values["body"])
        self.assertFalse(self.tracked(message))

    def test_t10_never_track_lists(self):
        """T10: a domain rule covers the domain and its subdomains, not look-alikes."""
        exclusions = self.env["mail.address.exclusion"]
        exclusions.create({"pattern": "Buyer.example"})
        exclusions.with_user(self.salesperson).create(
            {"pattern": "anna@customer.example", "user_id": self.salesperson.id})
        sub, lookalike = self.env["res.partner"].create([
            {"name": "Sub", "email": "x@eu.buyer.example"},
            {"name": "Lookalike", "email": "y@mybuyer.example"},
        ])
        message = self.post_email(self.anna | self.bruno | sub | lookalike, BODY)
        outgoing = self.outgoing(message)
        self.assertEqual(self.tracked(message).partner_id, lookalike)
        for email in ("anna@customer.example", "bruno@buyer.example", "x@eu.buyer.example"):
            self.assertNotIn("email-tracking", outgoing[email]["body"])
        # a colleague's personal list does not apply to the salesperson's emails
        colleague_lead = self.env["crm.lead"].create({"name": "Carl's deal", "user_id": self.colleague.id})
        message = self.post_email(self.anna, BODY, user=self.colleague, record=colleague_lead)
        self.outgoing(message)
        self.assertEqual(self.tracked(message).partner_id, self.anna)

    def test_t10_p1_record_company_rules_and_own_list_in_every_company(self):
        """T10, P1: an email follows the rules of its record's company (data
        privacy, company never-track list), while the author's own never-track
        list follows them into every company."""
        other = self.env["res.company"].create({"name": "Sister Company", "mail_tracking_privacy": True})
        self.salesperson.company_ids += other
        lead = self.env["crm.lead"].create({
            "name": "Sister deal", "type": "opportunity", "user_id": self.salesperson.id, "company_id": other.id,
            "team_id": False})
        self.env["mail.address.exclusion"].create({"pattern": "buyer.example", "company_id": other.id})
        self.salesperson.with_user(self.salesperson).write(
            {"mail_tracking_exclusion_ids": [(0, 0, {"pattern": "friend.example"})]})
        friend, consenting = self.env["res.partner"].create([
            {"name": "Friend", "email": "f@friend.example", "legal_basis": "consent"},
            {"name": "Consenting", "email": "c@consent.example", "legal_basis": "consent"},
        ])
        message = self.post_email(self.anna | self.bruno | friend | consenting, BODY, record=lead)
        outgoing = self.outgoing(message)
        self.assertEqual(self.tracked(message).filtered("partner_id").partner_id, consenting,
                         "Anna has no legal basis under the sister company's privacy, Bruno is on its list, "
                         "the friend on the author's own list")
        self.assertNotIn("email-tracking", outgoing["f@friend.example"]["body"])
        # the home company's email: no privacy there, and the sister company's list does not apply
        message = self.post_email(self.anna | self.bruno | friend, BODY)
        self.outgoing(message)
        self.assertEqual(self.tracked(message).partner_id, self.anna | self.bruno)

    def test_t10_users_keep_their_own_list_only(self):
        company_rule = self.env["mail.address.exclusion"].create({"pattern": "rival.example"})
        me = self.salesperson.with_user(self.salesperson)
        me.write({"mail_tracking_exclusion_ids": [(0, 0, {"pattern": "friend.example"})]})
        self.assertEqual(self.salesperson.mail_tracking_exclusion_ids.mapped("pattern"), ["friend.example"])
        # through the web client, as users edit their preferences (the ORM's sudo commands are
        # checked against the request's user: 19.0 takes it from the transaction)
        self.authenticate(self.salesperson.login, self.salesperson.login)
        for command in ((1, company_rule.id, {"pattern": "other.example"}), (2, company_rule.id, 0)):
            with self.assertRaises(JsonRpcException) as refused, mute_logger("odoo.http"):
                self.make_jsonrpc_request("/web/dataset/call_kw/res.users/write", {
                    "model": "res.users", "method": "write",
                    "args": [self.salesperson.ids, {"mail_tracking_exclusion_ids": [command]}], "kwargs": {}})
            self.assertEqual(refused.exception.args[0], "odoo.exceptions.AccessError")
        self.assertEqual(company_rule.exists().pattern, "rival.example")

    def test_t10_invalid_never_track_entry_is_refused(self):
        with self.assertRaises(ValidationError):
            self.env["mail.address.exclusion"].create({"pattern": "not a domain"})
        rule = self.env["mail.address.exclusion"].create({"pattern": " @Example.COM "})
        self.assertEqual(rule.pattern, "example.com")

    def test_r5_unsent_email_leaves_no_tracking(self):
        message = self.post_email(self.anna, BODY)
        mail = self.env["mail.mail"].sudo().search([("mail_message_id", "=", message.id)])
        [values] = mail._prepare_outgoing_list()
        self.assertIn("/email-tracking/click/", values["body"], "the copy was prepared with its tracking")
        mail.write({"state": "exception"})
        postprocess_sent_message(mail, success_pids=[], failure_type="mail_smtp", failure_reason="down")
        mail._settle_tracked_copies()
        self.assertFalse(self.tracked(message))
        self.assertFalse(message.sudo().tracked_links, "no link map for an email that never left")

    def test_r5_t11_copies_the_smtp_server_accepted_keep_their_tracking(self):
        """R5: Odoo sends one copy per contact and stops at the first refusal. The
        copies that left keep their tracking (their links must work), only those
        refused or never sent are forgotten; the copy's name never leaves (T11).
        A stand-in for Odoo's SMTP layer plays the server's answers (the e2e suite
        does it with a real SMTP server)."""
        carla = self.env["res.partner"].create({"name": "Carla", "email": "carla@third.example"})
        message = self.post_email(self.anna | self.bruno | carla, BODY)
        mail = self.env["mail.mail"].sudo().search([("mail_message_id", "=", message.id)])
        delivered = []

        def refusing_server(_server, message, *_args, **_kwargs):
            if "bruno@" in message["To"]:
                raise MailDeliveryException("Mail Delivery Failed", "550 5.1.1 no such user")
            delivered.append(message)
            return message["Message-Id"]

        with smtp_server(refusing_server):
            mail.send(raise_exception=False)
        self.assertEqual(mail.state, "exception", "Odoo's own outcome is unchanged")
        # the order of the copies is Odoo's: Carla's may leave before Bruno's refusal, or never
        delivered_to = [m["To"] for m in delivered]
        self.assertIn('"Anna Customer" <anna@customer.example>', delivered_to)
        self.assertFalse([to for to in delivered_to if "bruno@" in to])
        tracked = self.tracked(message).sudo()
        self.assertEqual(sorted(tracked.partner_id.mapped("email")),
                         sorted(to.split("<")[1].rstrip(">") for to in delivered_to),
                         "exactly the copies that left keep their tracking")
        for sent in delivered:
            self.assertNotIn(COPY_HEADER, sent)
            token = self.token_of(sent.get_body(("html",)).get_content())
            self.assertIn(token_digest(token), tracked.mapped("token_digest"))

    def test_t7_raw_addresses_sent_together_share_one_anonymous_token(self):
        message = self.post_email(self.anna, BODY)
        mail = self.env["mail.mail"].sudo().search([("mail_message_id", "=", message.id)])
        mail.write({"email_to": "x@raw.example, y@raw.example", "email_cc": "z@raw.example"})
        outgoing = self.outgoing(message)
        raw_body = outgoing["x@raw.example, y@raw.example, z@raw.example"]["body"]
        anna_body = outgoing["anna@customer.example"]["body"]
        self.assertNotEqual(self.token_of(raw_body), self.token_of(anna_body))
        anonymous = self.tracked(message).filtered(lambda recipient: not recipient.partner_id)
        self.assertEqual(len(anonymous), 1)
        self.assertEqual(anonymous.email, "x@raw.example, y@raw.example, z@raw.example")
        self.assertEqual(len(self.tracked(message)), 2)
