import base64
import mailbox
import os
import tempfile
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from unittest.mock import patch

from markupsafe import Markup

from odoo import fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import Form, TransactionCase, new_test_user, tagged
from odoo.tools import mute_logger

from ..tools.compat import USER_GROUPS_FIELD, postprocess_sent_message
from ..tools.forwarded_email import parse_inline_forward, strip_forward_prefix
from .common import PDF, TrackingCase, accept_every_email, smtp_server

BODY = Markup("<p>Hello, here is our offer.</p>")
# A 1x1 PNG, the inline logo of the emails below
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")


TRUSTED_MTA = "mx.mycompany.example"


def as_received(message, authenticated=True):
    """``message`` as the company's mail server hands it over: with its own
    Authentication-Results header, saying the sender's domain passed DMARC."""
    if authenticated:
        domain = str(message["From"]).rsplit("@", 1)[1].strip(">").strip()
        message["Authentication-Results"] = (
            f"{TRUSTED_MTA}; spf=pass smtp.mailfrom={domain}; dkim=pass header.d={domain}; "
            f"dmarc=pass (p=REJECT) header.from={domain}")
    return message


def build_email(sender, to, subject="=?iso-8859-1?q?Offerta_caff=E8?=", cc=None, delivered_to=None,
                text="Buongiorno, ecco l'offerta per il caffè.", html=None, attachments=(),
                message_id=None, in_reply_to=None, inline_image=True):
    """A real RFC 5322 email: multipart/alternative text and HTML in ISO-8859-1,
    an inline image referenced by Content-ID, and attachments."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    if cc:
        message["Cc"] = cc
    if delivered_to:
        message["Delivered-To"] = delivered_to
    message["Subject"] = subject
    message["Date"] = format_datetime(fields.Datetime.now().replace(microsecond=0).astimezone())
    message["Message-ID"] = message_id or make_msgid(domain="mailbox.example")
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    message.set_content(text, charset="iso-8859-1", cte="quoted-printable")
    html = html or f"<p>{text}</p>" + ('<img src="cid:logo@mailbox.example">' if inline_image else "")
    message.add_alternative(html, subtype="html", charset="iso-8859-1", cte="quoted-printable")
    if inline_image:
        message.get_payload()[1].add_related(
            PNG, "image", "png", cid="<logo@mailbox.example>", filename="logo.png", disposition="inline")
    for name, content, mimetype in attachments:
        maintype, subtype = mimetype.split("/")
        message.add_attachment(content, maintype=maintype, subtype=subtype, filename=name)
    return message


@tagged("post_install", "-at_install")
class TestEmailLogging(TrackingCase):
    """Logging emails to the CRM (L1-L7, L9)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.company.write({
            "mail_logging_enforce_default": False,
            "mail_logging_attachments_allowed": True,
            "mail_logging_attachment_max_mb": 50,
        })
        cls.acme, cls.carla = cls.create_customer_company(email="info@acme.example")
        won_stage = cls.env["crm.stage"].search([("is_won", "=", True)], limit=1)
        cls.acme_deals = cls.env["crm.lead"].create([
            {"name": f"Acme deal {n}", "type": "opportunity", "partner_id": cls.acme.id,
             "user_id": cls.salesperson.id} for n in range(6)])
        cls.acme_won = cls.env["crm.lead"].create({
            "name": "Acme won", "type": "opportunity", "partner_id": cls.carla.id, "stage_id": won_stage.id})
        cls.alias = cls.env.ref("mail_tracking_ext.mail_logging_alias")
        if not cls.alias.alias_domain_id:
            cls.alias.alias_domain_id = cls.env["mail.alias.domain"].create({"name": "crm.mycompany.example"})
        cls.logging_address = cls.alias.alias_full_name
        cls.env.company.mail_logging_trusted_servers = TRUSTED_MTA

    def gateway(self, message, authenticated=True):
        """Feed a raw email to Odoo's mail gateway, as the incoming mail server does
        (which authenticated its sender unless said otherwise)."""
        return self.env["mail.thread"].message_process(False, as_received(message, authenticated).as_bytes())

    def last_request(self):
        return self.env["mail.logging.request"].search([], limit=1)

    def associated(self, message):
        return {(association.model, association.res_id) for association in self.associations(message)}

    # ------------------------------------------------------------
    # L5 never-log lists
    # ------------------------------------------------------------

    def test_l5_never_log_lists_company_personal_and_subdomains(self):
        Exclusion = self.env["mail.address.exclusion"]
        Exclusion.create({"pattern": "acme.example", "scope": "log"})
        Exclusion.with_user(self.salesperson).create(
            {"pattern": "anna@customer.example", "user_id": self.salesperson.id, "scope": "log"})
        emails = {"x@acme.example", "y@eu.acme.example", "z@myacme.example", "anna@customer.example"}
        self.assertEqual(Exclusion._excluded_emails(emails, self.salesperson, scope="log"),
                         {"x@acme.example", "y@eu.acme.example", "anna@customer.example"})
        self.assertEqual(Exclusion._excluded_emails(emails, self.colleague, scope="log"),
                         {"x@acme.example", "y@eu.acme.example"}, "a personal list is personal")
        self.assertFalse(Exclusion._excluded_emails(emails, self.salesperson),
                         "never-log rules are not never-track rules")
        self.assertEqual(self.salesperson.mail_logging_exclusion_ids.pattern, "anna@customer.example")
        self.assertFalse(self.salesperson.mail_tracking_exclusion_ids)

    def test_l5_never_log_stops_logging_and_contact_creation(self):
        self.env["mail.address.exclusion"].create({"pattern": "unknown.example", "scope": "log"})
        self.gateway(build_email(
            self.salesperson.email, "Anna <anna@customer.example>", cc="New <new@sales.unknown.example>",
            delivered_to=self.logging_address))
        request = self.last_request()
        self.assertEqual(request.state, "logged")
        self.assertEqual(request.partner_ids, self.anna)
        self.assertFalse(self.env["res.partner"].search([("email", "ilike", "new@sales.unknown.example")]))

        self.env["mail.address.exclusion"].with_user(self.salesperson).create(
            {"pattern": "customer.example", "user_id": self.salesperson.id, "scope": "log"})
        self.gateway(build_email(self.salesperson.email, "anna@customer.example", delivered_to=self.logging_address))
        request = self.last_request()
        self.assertEqual(request.state, "refused")
        self.assertIn("never-log", request.reason)
        self.assertFalse(request.logged_message_id)

    # ------------------------------------------------------------
    # L1 Log switch
    # ------------------------------------------------------------

    def test_l1_log_switch_defaults_from_user_and_company(self):
        self.assertTrue(self.post_email(self.anna, BODY).log_email, "L1: users log by default")
        self.assertFalse(self.post_email(self.anna, BODY, log_email=False).log_email)
        self.salesperson.mail_logging_default = False
        self.assertFalse(self.post_email(self.anna, BODY).log_email)
        self.env.company.write({"mail_logging_enforce_default": True, "mail_logging_default": True})
        self.assertTrue(self.post_email(self.anna, BODY).log_email, "L1: the company default is enforced")
        note = self.lead.with_user(self.salesperson).message_post(
            body=BODY, partner_ids=self.anna.ids, message_type="comment", subtype_xmlid="mail.mt_note",
            log_email=True)
        self.assertFalse(note.log_email, "internal notes are not emails to log")

    def test_l1_l2_composer_preselects_records_and_user_edits_them(self):
        composer = Form(self.env["mail.compose.message"].with_user(self.salesperson).with_context(
            default_model="crm.lead", default_res_ids=self.lead.ids, default_composition_mode="comment",
            default_partner_ids=self.carla.ids, mail_notify_force_send=False))
        self.assertTrue(composer.log_email)
        self.assertEqual(set(composer.log_partner_ids.ids), {self.carla.id, self.acme.id})
        self.assertEqual(len(composer.log_lead_ids), 5, "L2: the 5 most recent open opportunities")
        self.assertNotIn(self.acme_won.id, composer.log_lead_ids.ids, "won opportunities are closed")
        self.assertNotIn(self.acme_deals[0].id, composer.log_lead_ids.ids, "the oldest one is left out")
        composer.body = BODY
        composer.log_partner_ids.remove(id=self.acme.id)
        composer.log_lead_ids.remove(id=self.acme_deals[5].id)
        composer.save().action_send_mail()
        message = self.lead.message_ids[0]
        self.assertTrue(message.log_email)
        self.assertEqual(self.associated(message), {("res.partner", self.carla.id)} | {
            ("crm.lead", lead.id) for lead in self.acme_deals[1:5]})

        composer = Form(self.env["mail.compose.message"].with_user(self.salesperson).with_context(
            default_model="crm.lead", default_res_ids=self.lead.ids, default_composition_mode="comment",
            default_partner_ids=self.carla.ids, mail_notify_force_send=False))
        composer.body = BODY
        composer.log_email = False
        composer.save().action_send_mail()
        self.assertFalse(self.lead.message_ids[0].log_email)
        self.assertFalse(self.associations(self.lead.message_ids[0]))

    # ------------------------------------------------------------
    # L2 associations
    # ------------------------------------------------------------

    def test_l2_one_message_on_every_timeline_through_the_chatter_route(self):
        message = self.post_email(self.carla | self.colleague.partner_id, BODY)
        self.assertEqual(self.associated(message), {("res.partner", self.carla.id), ("res.partner", self.acme.id)} | {
            ("crm.lead", lead.id) for lead in self.acme_deals[1:]}, "internal users are not logged on")
        self.assertEqual(self.env["mail.message"].search_count([("body", "=", message.body)]), 1,
                         "L2: stored once")

        self.authenticate(self.salesperson.login, self.salesperson.login)
        for model, res_id in (("res.partner", self.acme.id), ("crm.lead", self.acme_deals[3].id),
                              ("res.partner", self.carla.id)):
            result = self.make_jsonrpc_request("/mail/thread/messages", {
                "thread_model": model, "thread_id": res_id, "limit": 30})
            self.assertIn(message.id, result["messages"], f"L2: on the timeline of {model} {res_id}")
            logged = [data for data in result["data"]["mail.message"] if data["id"] == message.id]
            self.assertTrue(logged[0].get("logEmail"), "the chatter offers Associations on it")
        result = self.make_jsonrpc_request("/mail/thread/messages", {
            "thread_model": "res.partner", "thread_id": self.bruno.id, "limit": 30})
        self.assertNotIn(message.id, result["messages"])

    def test_l2_edit_associations_afterwards(self):
        message = self.post_email(self.carla, BODY)
        action = message.with_user(self.salesperson).action_edit_associations()
        wizard = Form(self.env[action["res_model"]].with_user(self.salesperson).with_context(**action["context"]))
        self.assertEqual(set(wizard.partner_ids.ids), {self.carla.id, self.acme.id})
        wizard.partner_ids.remove(id=self.acme.id)
        wizard.partner_ids.add(self.bruno)
        wizard.lead_ids.remove(id=self.acme_deals[5].id)
        wizard.save().action_apply()
        self.assertEqual(self.associated(message), {
            ("res.partner", self.carla.id), ("res.partner", self.bruno.id)} | {
            ("crm.lead", lead.id) for lead in self.acme_deals[1:5]})

    def as_salesperson_who_adds_contacts(self):
        # internal users get "Contact Creation" by default; the composers need it to add recipients
        self.salesperson[USER_GROUPS_FIELD] += self.env.ref("base.group_partner_manager")
        self.authenticate(self.salesperson.login, self.salesperson.login)

    def test_l2_reading_an_email_is_not_enough_to_move_it(self):
        """L2: the author, whoever may edit the record it was logged from, and
        administrators change associations; a colleague who only reads cannot."""
        message = self.post_email(self.carla, BODY, record=self.carla)
        before = self.associated(message)
        reader = new_test_user(self.env, login="mtx_reader", groups="base.group_user")  # reads contacts only

        def wizard_as(user):
            action = message.with_user(user).action_edit_associations()
            return Form(self.env[action["res_model"]].with_user(user).with_context(**action["context"]))

        wizard = wizard_as(reader)
        self.assertFalse(wizard.can_edit)
        with self.assertRaises(AccessError):
            wizard.save().action_apply()
        self.assertEqual(self.associated(message), before)

        reader[USER_GROUPS_FIELD] += self.env.ref("base.group_partner_manager")  # may edit Carla
        wizard = wizard_as(reader)
        self.assertTrue(wizard.can_edit)
        wizard.partner_ids.remove(id=self.acme.id)
        wizard.save().action_apply()
        self.assertNotIn(("res.partner", self.acme.id), self.associated(message))
        self.assertTrue(wizard_as(self.salesperson).can_edit, "the author may")

    def test_l2_deleted_records_leave_the_email_and_unreadable_ones_are_not_named(self):
        message = self.post_email(self.carla, BODY)
        deal = self.acme_deals[5]
        association = self.associations(message).filtered(lambda a: (a.model, a.res_id) == ("crm.lead", deal.id))
        self.assertEqual(association.with_user(self.salesperson).res_name, deal.name)
        self.assertEqual(association.with_user(self.colleague).res_name, "Restricted record",
                         "P4: a colleague who may not read the opportunity does not learn its name")
        deal.unlink()
        self.assertFalse(association.exists(), "L2: a deleted record leaves the email's timelines")
        self.assertIn(("res.partner", self.carla.id), self.associated(message))

    def test_l2_merged_records_keep_their_logged_emails(self):
        """L2: merging opportunities or contacts moves their logged emails to the
        record they are merged into, once each."""
        deals = self.env["crm.lead"].create([
            {"name": f"Bruno deal {n}", "type": "opportunity", "user_id": self.salesperson.id} for n in range(2)])
        logged = {}
        for deal in deals:  # an email on each deal's timeline only
            logged[deal] = self.post_email(self.bruno, Markup(f"<p>About {deal.name}</p>"))
            self.env["mail.message.association"]._associate(logged[deal], [deal])
        # and one email on both: it stays once
        self.env["mail.message.association"]._associate(logged[deals[0]], [deals[1]])
        kept = deals.merge_opportunity(user_id=self.salesperson.id, auto_unlink=True)
        self.assertEqual(deals.exists(), kept)
        for message in logged.values():
            self.assertEqual(len(self.associations(message).filtered(lambda a: a.model == "crm.lead")), 1,
                             "on the merged opportunity, once")
            self.assertIn(("crm.lead", kept.id), self.associated(message))

        twin = self.env["res.partner"].create({"name": "Carla (twin)", "email": "carla@acme.example"})
        twin_message = self.post_email(twin, Markup("<p>To the twin</p>"))
        self.env["base.partner.merge.automatic.wizard"]._merge((self.carla | twin).ids, self.carla)
        self.assertFalse(twin.exists())
        self.assertIn(("res.partner", self.carla.id), self.associated(twin_message))

    def timeline(self, record):
        result = self.make_jsonrpc_request("/mail/thread/messages", {
            "thread_model": record._name, "thread_id": record.id, "limit": 30})
        return result["messages"]

    def test_l2_l3_chatter_email_to_a_contact_and_a_new_address(self):
        """L2, L3: from an opportunity's chatter, Log on, to a known contact and to an
        address that is not in the CRM, which the user adds as a contact."""
        self.as_salesperson_who_adds_contacts()
        self.make_jsonrpc_request("/mail/message/post", {
            "thread_model": "crm.lead", "thread_id": self.lead.id,
            "post_data": {"body": "<p>Our offer</p>", "message_type": "comment",
                          "subtype_xmlid": "mail.mt_comment", "partner_ids": self.carla.ids, "log_email": True},
            "partner_emails": ["Nina New <nina@newco.example>"],
            "partner_additional_values": {"nina@newco.example": {"name": "Nina New"}},
        })
        nina = self.env["res.partner"].search([("email_normalized", "=", "nina@newco.example")])
        self.assertEqual(len(nina), 1)
        self.assertTrue(nina.is_non_marketing, "L3: a contact created when logging is non-marketing")
        self.assertEqual(nina.user_id, self.salesperson, "L3: the sender becomes its salesperson")
        message = self.env["mail.message"].search([("body", "ilike", "Our offer")])
        self.assertEqual(len(message), 1, "L2: one email, however many timelines")
        self.assertTrue(message.log_email)
        for record in (self.carla, self.acme, self.lead, nina):
            self.assertEqual(self.timeline(record).count(message.id), 1, f"L2: once on {record.display_name}")

    def test_l3_contacts_of_unlogged_or_never_log_emails_stay_ordinary(self):
        """L3, L5: only logging makes contacts non-marketing, never for a never-log address."""
        self.env["mail.address.exclusion"].create({"pattern": "private.example", "scope": "log"})
        self.as_salesperson_who_adds_contacts()
        for email, log_email in (("otto@newco.example", False), ("pia@private.example", True)):
            self.make_jsonrpc_request("/mail/message/post", {
                "thread_model": "crm.lead", "thread_id": self.lead.id,
                "post_data": {"body": "<p>Hi</p>", "message_type": "comment",
                              "subtype_xmlid": "mail.mt_comment", "log_email": log_email},
                "partner_emails": [email],
            })
            partner = self.env["res.partner"].search([("email_normalized", "=", email)])
            self.assertTrue(partner, "the email still goes out to a new contact")
            self.assertFalse(partner.is_non_marketing or partner.user_id, email)

    def test_l3_full_composer_creates_logging_contacts_by_the_log_switch(self):
        """L3: the full composer makes its recipients' contacts before sending: the
        Log default decides (its To field passes the Log switch: see the composer tour)."""
        self.as_salesperson_who_adds_contacts()
        partners = self.make_jsonrpc_request("/mail/partner/from_email", {"emails": ["rita@newco.example"]})
        rita = self.env["res.partner"].browse(partners[0]["id"])
        self.assertTrue(rita.is_non_marketing)
        self.assertEqual(rita.user_id, self.salesperson)
        Partner = self.env["res.partner"].with_user(self.salesperson)
        ugo = Partner.with_context(mail_logging_new_contact=False).create({"name": "Ugo", "email": "ugo@newco.example"})
        self.assertFalse(ugo.is_non_marketing)

        self.salesperson.mail_logging_default = False
        partners = self.make_jsonrpc_request("/mail/partner/from_email", {"emails": ["sam@newco.example"]})
        self.assertFalse(self.env["res.partner"].browse(partners[0]["id"]).is_non_marketing)

    # ------------------------------------------------------------
    # L3, L4 logging address
    # ------------------------------------------------------------

    def test_l4_html_and_svg_attachments_of_logged_emails_are_kept_as_text(self):
        """L4, R8: a customer's HTML or SVG attachment is stored as text, as Odoo's
        gateway stores those of every incoming email, also when the email is
        logged for an administrator (who may otherwise upload such files)."""
        admin = self.env.ref("base.user_admin")
        admin.email = "admin@mycompany.example"
        svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
        self.gateway(build_email(
            "Admin <admin@mycompany.example>", "Carla Contact <carla@acme.example>",
            delivered_to=self.logging_address, inline_image=False,
            attachments=[("logo.svg", svg, "image/svg+xml"), ("page.html", b"<html><script></script></html>",
                                                               "text/html")]))
        request = self.last_request()
        self.assertEqual((request.state, request.user_id), ("logged", admin))
        attachments = request.logged_message_id.attachment_ids
        self.assertEqual(sorted(attachments.mapped("name")), ["logo.svg", "page.html"])
        self.assertEqual(set(attachments.mapped("mimetype")), {"text/plain"})

    def test_l4_bcc_logs_real_mime_email_once_with_new_non_marketing_contact(self):
        """L4: Bcc from Gmail — multipart/alternative in ISO-8859-1, inline image, PDF attachment."""
        email = build_email(
            "Sara Sales <sara@mycompany.example>", "Carla Contact <carla@acme.example>",
            cc="Nuovo Cliente <nuovo@newco.example>", delivered_to=self.logging_address,
            attachments=[("offerta.pdf", PDF, "application/pdf")])
        self.gateway(email)
        request = self.last_request()
        self.assertEqual((request.state, request.user_id, request.source), ("logged", self.salesperson, "address"))
        self.assertEqual(request.name, "Offerta caffè")
        message = request.logged_message_id
        self.assertEqual((message.model, message.res_id), ("res.partner", self.carla.id))
        self.assertEqual(message.author_id, self.salesperson.partner_id)
        self.assertEqual(message.message_id, email["Message-ID"])
        self.assertIn("caffè", message.body)
        self.assertNotIn("cid:", message.body, "the inline image is shown from Odoo")
        self.assertIn("/web/image/", message.body)
        self.assertEqual(set(message.attachment_ids.mapped("name")), {"offerta.pdf", "logo.png"})
        self.assertEqual(base64.b64decode(message.attachment_ids.filtered(
            lambda a: a.name == "offerta.pdf").datas), PDF)
        new_contact = request.created_partner_ids
        self.assertEqual(new_contact.email, "nuovo@newco.example")
        self.assertEqual(new_contact.name, "Nuovo Cliente")
        self.assertTrue(new_contact.is_non_marketing, "L3: a logged-email contact is non-marketing")
        self.assertEqual(new_contact.user_id, self.salesperson, "L3: the sender is its salesperson")
        self.assertEqual(request.partner_ids, self.carla | new_contact)
        self.assertTrue({("res.partner", self.acme.id), ("res.partner", new_contact.id),
                         ("crm.lead", self.acme_deals[5].id)} <= self.associated(message))
        self.assertEqual(self.env["mail.message"].search_count([("message_id", "=", email["Message-ID"])]), 1,
                         "the gateway keeps no second copy")

        self.gateway(email)
        self.assertEqual(self.env["mail.message"].search_count([("message_id", "=", email["Message-ID"])]), 1,
                         "L4: never logged twice")

    def test_l3_no_contact_created_when_the_user_says_no(self):
        self.salesperson.mail_logging_create_contacts = False
        self.gateway(build_email(self.salesperson.email, "stranger@newco.example", delivered_to=self.logging_address))
        request = self.last_request()
        self.assertEqual(request.state, "refused")
        self.assertFalse(self.env["res.partner"].search([("email", "=", "stranger@newco.example")]))

    def test_l4_sender_must_be_a_user_or_a_declared_address(self):
        partner_count = self.env["res.partner"].search_count([])
        self.gateway(build_email("Mallory <mallory@evil.example>", "carla@acme.example",
                                 cc="someone@newco.example", delivered_to=self.logging_address))
        request = self.last_request()
        self.assertEqual(request.state, "refused")
        self.assertIn("mallory@evil.example", request.reason)
        self.assertFalse(request.logged_message_id)
        self.assertEqual(self.env["res.partner"].search_count([]), partner_count, "L4: nothing created")

        self.salesperson.with_user(self.salesperson).write(
            {"mail_logging_sender_emails": "sara.home@private.example\nsara@alias.example"})
        self.gateway(build_email("sara.home@private.example", "carla@acme.example",
                                 delivered_to=self.logging_address))
        request = self.last_request()
        self.assertEqual((request.state, request.user_id), ("logged", self.salesperson))
        self.assertEqual(request.logged_message_id.author_id, self.salesperson.partner_id)

    def test_r9_a_neutralized_copy_logs_nothing_from_the_logging_address(self):
        """R9: on a copy made with ``odoo-bin neutralize`` (Odoo marks it
        ``database.is_neutralized``), a Bcc production would log is refused with
        the reason, even once someone set the trusted mail server again."""
        email = build_email("sara@mycompany.example", "carla@acme.example", subject="Staging copy",
                            delivered_to=self.logging_address)
        self.env["ir.config_parameter"].set_param("database.is_neutralized", True)
        self.gateway(email)
        request = self.last_request()
        self.assertEqual((request.state, request.refusal, request.name), ("refused", "neutralized", "Staging copy"))
        self.assertIn("neutralized copy", request.reason)
        self.assertFalse(self.env["mail.message"].search([("message_id", "=", email["Message-ID"])]))
        self.env["ir.config_parameter"].set_param("database.is_neutralized", False)
        self.gateway(email)
        self.assertEqual(self.last_request().state, "logged", "the same email on production")

    def test_l4_r8_forged_senders_are_refused_and_never_answered(self):
        """L4, R8: the From header is whatever the sender typed. Only the company's
        mail server, named in Settings, says who sent an email: without its word that
        the sender's domain passed DMARC (or aligned DKIM), an email "from" a colleague
        is refused, with the reason for the administrator, and nobody is answered."""
        self.env.company.mail_logging_notify_refusal = True
        sara = "Sara Sales <sara@mycompany.example>"
        partners, messages = self.env["res.partner"].search_count([]), self.env["mail.message"].search_count([])
        forged = {  # case: (From, Authentication-Results headers top first, reason)
            "no authentication": (sara, [], "Neither a trusted mail server"),
            "failed DMARC": (sara, [f"{TRUSTED_MTA}; spf=fail smtp.mailfrom=evil.example; "
                                   "dmarc=fail (p=NONE) header.from=mycompany.example"], "failed DMARC"),
            "passed for another address of From": (
                f"{sara}, Mallory <mallory@evil.example>", [f"{TRUSTED_MTA}; dmarc=pass header.from=evil.example"],
                "exactly one address"),
            "another server's word": (sara, ["mx.evil.example; dmarc=pass header.from=mycompany.example"],
                                      "Neither a trusted mail server"),
            "forged below the company's": (sara, [
                f"{TRUSTED_MTA}; spf=none; dmarc=none header.from=mycompany.example",
                f"{TRUSTED_MTA}; dmarc=pass header.from=mycompany.example"], "Neither a trusted mail server"),
            "a DKIM signature of another domain": (sara, [
                f"{TRUSTED_MTA}; dkim=pass header.d=evil.example header.i=@evil.example; dmarc=none"],
                "Neither a trusted mail server"),
        }
        answers = patch.object(type(self.env["mail.thread"]), "_routing_create_bounce_email")
        for case, (sender, results, reason) in forged.items():
            message = build_email(sender, "carla@acme.example", delivered_to=self.logging_address)
            for header in results:
                message["Authentication-Results"] = header
            with self.subTest(case=case), answers as answer:
                self.gateway(message, authenticated=False)
                request = self.last_request()
                self.assertEqual((request.state, request.user_id), ("refused", self.env["res.users"]))
                self.assertIn(reason, request.reason)
                self.assertFalse(request.sender_authenticated)
                answer.assert_not_called()
        self.assertEqual(self.env["res.partner"].search_count([]), partners, "no contact created")
        self.assertEqual(self.env["mail.message"].search_count([]), messages, "nothing logged")
        # refused for another reason, an authenticated sender is answered
        with answers as answer:
            self.gateway(build_email(sara, self.logging_address))
            self.assertIn("logging address only", self.last_request().reason)
            answer.assert_called_once()
        # the same email, authenticated by the company's server: logged; without a trusted server, refused
        self.gateway(build_email(sara, "carla@acme.example", delivered_to=self.logging_address))
        self.assertEqual((self.last_request().state, self.last_request().user_id), ("logged", self.salesperson))
        self.env.company.mail_logging_trusted_servers = False
        self.gateway(build_email(sara, "carla@acme.example", delivered_to=self.logging_address))
        self.assertIn("No trusted mail server is set", self.last_request().reason)

    def test_l4_settings_show_the_whole_logging_address_or_why_there_is_none(self):
        settings = self.env["res.config.settings"].create({})
        self.assertEqual(settings.mail_logging_address, self.logging_address)
        self.assertIn("@", settings.mail_logging_address)
        self.assertFalse(settings.mail_logging_alias_domain_missing)
        self.alias.alias_domain_id = False
        settings = self.env["res.config.settings"].create({})
        self.assertTrue(settings.mail_logging_alias_domain_missing, "Settings warn: nobody can write to it")

    def test_l4_fallback_model_route(self):
        """The logging model also works as the fallback model of a mail server."""
        email = as_received(build_email(self.salesperson.email, "carla@acme.example", inline_image=False))
        self.env["mail.thread"].message_process("mail.logging.request", email.as_bytes())
        self.assertEqual(self.last_request().state, "logged")

    def test_l4_forward_as_attachment_logs_the_original(self):
        original = build_email("Carla Contact <carla@acme.example>", "Sara Sales <sara@mycompany.example>",
                               subject="Re: Offerta", text="Accettiamo l'offerta, grazie.",
                               attachments=[("ordine.pdf", PDF, "application/pdf")])
        forward = EmailMessage()
        forward["From"] = "Sara Sales <sara@mycompany.example>"
        forward["To"] = self.logging_address
        forward["Subject"] = "Fwd: Re: Offerta"
        forward["Message-ID"] = make_msgid(domain="mailbox.example")
        forward.set_content("See below")
        forward.add_attachment(original)
        self.gateway(forward)
        request = self.last_request()
        self.assertEqual((request.state, request.is_forward), ("logged", True))
        message = request.logged_message_id
        self.assertEqual(message.message_id, original["Message-ID"])
        self.assertEqual(message.author_id, self.carla)
        self.assertEqual(message.subject, "Re: Offerta")
        self.assertIn("Accettiamo", message.body)
        self.assertIn("ordine.pdf", message.attachment_ids.mapped("name"))

    def test_l4_inline_forward_logs_the_original(self):
        text = ("FYI\n\n---------- Forwarded message ---------\n"
                "From: Carla Contact <carla@acme.example>\n"
                "Date: Mon, 3 Mar 2025 at 10:00\n"
                "Subject: Ordine confermato\n"
                "To: Sara Sales <sara@mycompany.example>\n\n"
                "Confermiamo l'ordine di caffè.\n")
        forward = build_email(self.salesperson.email, self.logging_address, subject="Fwd: Ordine confermato",
                              text=text, inline_image=False)
        self.gateway(forward)
        request = self.last_request()
        self.assertEqual((request.state, request.is_forward), ("logged", True))
        message = request.logged_message_id
        self.assertEqual((message.model, message.res_id), ("res.partner", self.carla.id))
        self.assertEqual(message.author_id, self.carla)
        self.assertEqual(message.subject, "Ordine confermato")
        self.assertEqual(str(message.date), "2025-03-03 10:00:00")
        self.assertIn("Confermiamo", message.body)
        self.assertNotIn("FYI", message.body)
        self.gateway(build_email(self.salesperson.email, self.logging_address, subject="Fwd: Ordine confermato",
                                 text=text, inline_image=False))
        self.assertEqual(self.last_request().state, "duplicate", "the same forwarded email is logged once")

    def test_l4_email_to_the_logging_address_alone_is_refused(self):
        self.gateway(build_email(self.salesperson.email, self.logging_address, text="a note to myself"))
        request = self.last_request()
        self.assertEqual(request.state, "refused")
        self.assertFalse(request.logged_message_id)

    # ------------------------------------------------------------
    # L6 attachments
    # ------------------------------------------------------------

    def test_l6_attachment_policy_and_size_limit(self):
        self.env.company.mail_logging_attachment_max_mb = 1
        big = b"x" * (1024 * 1024 + 1)
        self.gateway(build_email(self.salesperson.email, "carla@acme.example", delivered_to=self.logging_address,
                                 attachments=[("big.zip", big, "application/zip"),
                                              ("offerta.pdf", PDF, "application/pdf")]))
        request = self.last_request()
        message = request.logged_message_id
        self.assertEqual(set(message.attachment_ids.mapped("name")), {"offerta.pdf", "logo.png"})
        self.assertIn("big.zip", request.excluded_attachments)
        self.assertIn("big.zip", message.body, "L6: the timeline says what was left out")

        self.env.company.mail_logging_attachments_allowed = False
        self.gateway(build_email(self.salesperson.email, "carla@acme.example", delivered_to=self.logging_address,
                                 attachments=[("offerta.pdf", PDF, "application/pdf")]))
        message = self.last_request().logged_message_id
        self.assertEqual(message.attachment_ids.mapped("name"), ["logo.png"], "the body's own image stays")
        self.assertIn("offerta.pdf", message.body)

    def test_l6_sixty_megabytes_over_the_default_limit(self):
        """L6: with the default 50 MB limit, a 60 MB attachment of a Bcc'd email is
        left out and the timeline says so; the rest of the email is logged."""
        self.assertEqual(self.env.company.mail_logging_attachment_max_mb, 50)
        self.gateway(build_email(self.salesperson.email, "carla@acme.example", delivered_to=self.logging_address,
                                 attachments=[("catalogue.zip", os.urandom(60 * 1024 * 1024), "application/zip"),
                                              ("offerta.pdf", PDF, "application/pdf")]))
        request = self.last_request()
        message = request.logged_message_id
        self.assertEqual(request.state, "logged")
        self.assertEqual(set(message.attachment_ids.mapped("name")), {"offerta.pdf", "logo.png"})
        self.assertIn("catalogue.zip (larger than 50 MB)", message.body)

    def test_l6_email_written_in_odoo_leaves_with_attachments_then_logs_without(self):
        """L6: the recipients get every attachment; once the email has left, the logged
        email keeps only those the company logs, and says which it dropped."""
        self.env.company.mail_logging_attachment_max_mb = 1
        attachments = self.env["ir.attachment"].with_user(self.salesperson).create([
            {"name": name, "raw": content, "res_model": "mail.compose.message", "res_id": 0}
            for name, content in (("big.zip", b"x" * (1024 * 1024 + 1)), ("offerta.pdf", PDF))])
        message = self.post_email(self.carla, BODY, attachment_ids=attachments.ids)
        mail = self.env["mail.mail"].sudo().search([("mail_message_id", "=", message.id)])
        sent = [name for email in mail._prepare_outgoing_list() for name, *_rest in email["attachments"]]
        self.assertEqual(sorted(sent), ["big.zip", "offerta.pdf"], "L6: the email is delivered whole")
        with smtp_server(accept_every_email):
            mail.send()
        self.assertEqual(message.attachment_ids.mapped("name"), ["offerta.pdf"])
        self.assertIn("big.zip (larger than 1 MB)", message.body)
        self.assertEqual(attachments.exists().mapped("name"), ["offerta.pdf"], "big.zip is not kept in the CRM")

        big = self.env["ir.attachment"].with_user(self.salesperson).create(
            {"name": "big2.zip", "raw": b"x" * (1024 * 1024 + 1), "res_model": "mail.compose.message", "res_id": 0})
        unlogged = self.post_email(self.carla, BODY, log_email=False, attachment_ids=big.ids)
        with smtp_server(accept_every_email):
            self.env["mail.mail"].sudo().search([("mail_message_id", "=", unlogged.id)]).send()
        self.assertEqual(unlogged.attachment_ids.mapped("name"), ["big2.zip"], "only logged emails are concerned")

    def test_l6_attachments_kept_while_a_mail_waits_for_a_retry(self):
        self.env.company.mail_logging_attachments_allowed = False
        attachment = self.env["ir.attachment"].with_user(self.salesperson).create(
            {"name": "offerta.pdf", "raw": PDF, "res_model": "mail.compose.message", "res_id": 0})
        message = self.post_email(self.carla, BODY, attachment_ids=attachment.ids)
        mail = self.env["mail.mail"].sudo().search([("mail_message_id", "=", message.id)])
        mail.write({"state": "exception"})
        postprocess_sent_message(mail, success_pids=[], failure_type="mail_smtp", failure_reason="down")
        self.assertEqual(message.attachment_ids, attachment, "a retry must still carry it")
        mail.write({"state": "sent"})
        postprocess_sent_message(mail, success_pids=self.carla.ids)
        self.assertFalse(message.attachment_ids)
        self.assertIn("offerta.pdf (attachments are not logged)", message.body)

    # ------------------------------------------------------------
    # L7 import
    # ------------------------------------------------------------

    def test_l7_import_eml_and_mbox_with_summary_never_twice(self):
        sent = build_email(self.salesperson.email, "carla@acme.example", subject="Old offer")
        received = build_email("carla@acme.example", self.salesperson.email, subject="Re: Old offer",
                               inline_image=False)
        unrelated = build_email("someone@else.example", "other@else.example", subject="Not ours")
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "archive.mbox")
            box = mailbox.mbox(path)
            for message in (received, unrelated, received):
                box.add(message.as_bytes())
            box.flush()
            box.close()
            with open(path, "rb") as archive:
                mbox_data = archive.read()

        def run_import():
            wizard = self.env["mail.logging.import"].with_user(self.salesperson).create({
                "attachment_ids": [fields.Command.create({
                    "name": name, "datas": base64.b64encode(data), "res_model": "mail.logging.import"})
                    for name, data in (("offer.eml", sent.as_bytes()), ("archive.mbox", mbox_data))],
            })
            wizard.action_import()
            return wizard

        wizard = run_import()
        self.assertEqual((wizard.logged_count, wizard.duplicate_count, wizard.refused_count), (2, 1, 1))
        refused = wizard.request_ids.filtered(lambda request: request.state == "refused")
        self.assertEqual(refused.name, "Not ours")
        self.assertTrue(refused.reason)
        self.assertTrue(all(request.source == "import" for request in wizard.request_ids))
        reply = self.env["mail.message"].search([("message_id", "=", received["Message-ID"])])
        self.assertEqual(reply.author_id, self.carla)

        wizard = run_import()
        self.assertEqual((wizard.logged_count, wizard.duplicate_count, wizard.refused_count), (0, 3, 1),
                         "L7: never the same Message-ID twice")

    def test_l7_mbox_of_hundreds_in_the_background_with_progress_and_summary(self):
        """L7: 300 emails (240 new, 30 twice, 30 of strangers) in one archive are
        logged in batches by the cron; the summary matches what was logged."""
        emails = [build_email(self.salesperson.email, f"Customer {n % 12} <customer{n % 12}@clients.example>",
                              subject=f"Offer {n}", inline_image=False) for n in range(240)]
        emails += emails[:30]
        emails += [build_email("a@stranger.example", "b@stranger.example", subject=f"Spam {n}",
                               inline_image=False) for n in range(30)]
        with tempfile.TemporaryDirectory() as directory:
            box = mailbox.mbox(os.path.join(directory, "sent.mbox"))
            for message in emails:
                box.add(message.as_bytes())
            box.close()
            with open(os.path.join(directory, "sent.mbox"), "rb") as archive:
                data = archive.read()
        batch = self.env["mail.logging.import"].with_user(self.salesperson).create({
            "create_contacts": True,
            "attachment_ids": [fields.Command.create({
                "name": "sent.mbox", "datas": base64.b64encode(data), "res_model": "mail.logging.import"})],
        })
        batch.action_import()
        self.assertEqual((batch.state, batch.email_count, batch.processed_count), ("running", 300, 0),
                         "a large import is left to the background")
        self.env["mail.logging.import"]._cron_import()
        self.assertEqual(batch.processed_count, 100)
        self.assertAlmostEqual(batch.progress, 100 / 3, places=1)
        while batch.state == "running":
            self.env["mail.logging.import"]._cron_import()
        self.assertEqual((batch.logged_count, batch.duplicate_count, batch.refused_count), (240, 30, 30))
        logged = self.env["mail.message"].search([("message_id", "in", [m["Message-ID"] for m in emails])])
        self.assertEqual(len(logged), 240, "L7: each email once")
        self.assertEqual(set(logged.ids), set(batch.request_ids.filtered(lambda r: r.state == "logged")
                                              .logged_message_id.ids))
        self.assertEqual(len(self.env["res.partner"].search([("email", "=ilike", "%@clients.example")])), 12)
        self.assertFalse(batch.attachment_ids, "the archive is not kept once imported")
        listed = self.env["mail.logging.import"].with_user(self.salesperson).web_search_read(
            [], {"state": {}, "progress": {}, "logged_count": {}})["records"]
        self.assertIn({"id": batch.id, "state": "done", "progress": 100.0, "logged_count": 240}, listed,
                      "the user finds the import and its summary afterwards")
        with self.assertRaises(UserError):
            batch.action_import()

    def test_l7_bad_files_are_refused_clearly(self):
        batch = self.env["mail.logging.import"].with_user(self.salesperson).create({})
        with self.assertRaises(UserError):
            batch.action_import()
        batch.attachment_ids = [fields.Command.create({
            "name": "empty.mbox", "datas": base64.b64encode(b"\n"), "res_model": "mail.logging.import"})]
        with self.assertRaises(UserError):
            batch.action_import()
        self.assertEqual(batch.state, "draft")
        other = self.env["mail.logging.import"].with_user(self.colleague).search([])
        self.assertNotIn(batch, other, "an import is its user's own")

    def test_l7_a_text_only_email_reads_as_paragraphs_with_links(self):
        text_only = EmailMessage()
        text_only["From"], text_only["To"] = self.salesperson.email, "carla@acme.example"
        text_only["Subject"], text_only["Message-ID"] = "Plain", make_msgid(domain="mailbox.example")
        text_only.set_content("Ciao Carla,\n\necco il link: https://shop.example/offerta\nA presto")
        batch = self.import_of(self.salesperson, [("plain.eml", text_only.as_bytes())])
        batch.action_import()
        body = batch.request_ids.logged_message_id.body
        self.assertNotIn("<pre", body)
        self.assertIn('href="https://shop.example/offerta"', body)

    def test_e1_l7_refusal_reasons_read_in_the_reader_language(self):
        """A reason is stored as a code: read in Italian, it is Italian, whoever was logged in."""
        self.env["res.lang"]._activate_lang("it_IT")
        self.env["ir.module.module"]._load_module_terms(["mail_tracking_ext"], ["it_IT"], overwrite=True)
        request = self.env["mail.logging.request"].with_context(lang="en_US")._refuse(
            {"source": "import", "user_id": self.salesperson.id}, "sender_unknown", sender="x@y.example")
        self.assertEqual(request.with_context(lang="en_US").reason,
                         "The sender x@y.example is neither a user nor one of a user's declared addresses.")
        italian = request.with_context(lang="it_IT").reason
        self.assertIn("x@y.example", italian)
        self.assertNotEqual(italian, request.with_context(lang="en_US").reason)

    def test_l7_a_file_that_is_not_an_email_is_refused_for_that_reason_by_name(self):
        """L7: a binary file named .eml, or an mbox entry that is not an email, is refused
        saying so, named by its file, and the other emails of the import are logged."""
        garbage = bytes(range(256)) * 40
        sent = build_email(self.salesperson.email, "carla@acme.example", subject="Real one")
        batch = self.import_of(self.salesperson, [
            ("garbage.eml", garbage),
            ("box.mbox", b"From x@y Mon Jan  1 00:00:00 2024\njust some notes\nno headers here\n\n"
                         b"From x@y Mon Jan  1 00:00:00 2024\n" + sent.as_bytes())])
        batch.action_import()
        self.assertEqual((batch.logged_count, batch.refused_count), (1, 2))
        refused = batch.request_ids.filtered(lambda request: request.state == "refused")
        self.assertEqual(sorted(refused.mapped("name")), ["box.mbox", "garbage.eml"])
        for request in refused:
            self.assertIn("not an email", request.reason)
            self.assertNotIn("neither the sender", request.reason)

    def import_of(self, user, files):
        return self.env["mail.logging.import"].with_user(user).create({
            "attachment_ids": [fields.Command.create({
                "name": name, "datas": base64.b64encode(data), "res_model": "mail.logging.import"})
                for name, data in files],
        })

    def test_l7_an_import_is_driven_by_its_form_only(self):
        """L7, hostile input over RPC: nobody runs an import as someone else, makes
        one endless, or imports files that are not theirs."""
        batch = self.import_of(self.salesperson, [("a.eml", build_email(self.salesperson.email, "carla@acme.example")
                                                  .as_bytes())])
        for values in ({"user_id": self.colleague.id}, {"state": "running"}, {"email_count": 10 ** 9},
                       {"processed_count": 5}):
            with self.assertRaises(AccessError):
                batch.write(values)
            with self.assertRaises(AccessError):
                self.env["mail.logging.import"].with_user(self.salesperson).create(values)
        with self.assertRaises(AccessError):
            batch.with_user(self.colleague).action_import()
        lead_file = self.env["ir.attachment"].create({
            "name": "contract.eml", "raw": build_email("carla@acme.example", self.salesperson.email).as_bytes(),
            "res_model": "crm.lead", "res_id": self.lead.id})
        batch.attachment_ids = [fields.Command.link(lead_file.id)]
        with self.assertRaises(UserError):
            batch.action_import()
        self.assertEqual((lead_file.res_model, lead_file.res_id), ("crm.lead", self.lead.id), "left where it was")
        batch.attachment_ids = [fields.Command.unlink(lead_file.id)]
        batch.action_import()
        self.assertEqual((batch.state, batch.logged_count), ("done", 1))
        with self.assertRaises(AccessError):
            batch.attachment_ids = [fields.Command.link(lead_file.id)]

    def test_l7_an_email_that_fails_is_refused_and_the_import_goes_on(self):
        good = build_email(self.salesperson.email, "carla@acme.example", subject="Fine")
        bad = build_email(self.salesperson.email, "carla@acme.example", subject="Broken")
        with tempfile.TemporaryDirectory() as directory:
            box = mailbox.mbox(os.path.join(directory, "a.mbox"))
            box.add(bad.as_bytes())
            box.add(good.as_bytes())
            box.close()
            with open(os.path.join(directory, "a.mbox"), "rb") as archive:
                data = archive.read()
        batch = self.import_of(self.salesperson, [("a.mbox", data)])
        Request = self.env.registry["mail.logging.request"]
        log_email = Request._log_email

        def fail_on_broken(request, message, *args, **kwargs):
            if "Broken" in str(message["Subject"]):
                raise ValueError("unexpected")  # a bug or an email nobody foresaw
            return log_email(request, message, *args, **kwargs)

        with patch.object(Request, "_log_email", fail_on_broken), mute_logger(
                "odoo.addons.mail_tracking_ext.models.mail_logging_import"):
            batch.action_import()
        self.assertEqual((batch.state, batch.logged_count, batch.refused_count), ("done", 1, 1))
        refused = batch.request_ids.filtered(lambda request: request.state == "refused")
        self.assertEqual((refused.name, refused.reason), ("Broken", "This email could not be read or logged."))

    def test_l7_one_imports_only_ones_own_correspondence(self):
        """L7: an email between a colleague and a customer cannot be imported by
        someone else, so nobody can put words in a colleague's mouth."""
        theirs = build_email(self.colleague.email, "carla@acme.example", subject="Carl's offer")
        wizard = self.env["mail.logging.import"].with_user(self.salesperson).create({
            "attachment_ids": [fields.Command.create({
                "name": "theirs.eml", "datas": base64.b64encode(theirs.as_bytes()),
                "res_model": "mail.logging.import"})],
        })
        wizard.action_import()
        self.assertEqual((wizard.logged_count, wizard.refused_count), (0, 1))
        self.assertFalse(self.env["mail.message"].search([("message_id", "=", theirs["Message-ID"])]))

    # ------------------------------------------------------------
    # L9 replies
    # ------------------------------------------------------------

    def test_l9_reply_marks_replied_and_counts_as_open(self):
        message = self.post_email(self.anna | self.bruno, BODY)
        self.outgoing(message)
        anna_recipient = self.tracked(message).filtered(lambda r: r.partner_id == self.anna)
        self.assertEqual(anna_recipient.state, "sent")
        reply = build_email("Anna Customer <anna@customer.example>", self.salesperson.email,
                            subject="Re: Big deal", in_reply_to=message.message_id, inline_image=False)
        self.env["mail.thread"].message_process("crm.lead", reply.as_bytes())
        self.assertTrue(anna_recipient.replied_date)
        self.assertEqual(anna_recipient.state, "opened", "L9: a reply counts as an open")
        self.assertEqual(anna_recipient.open_count, 1)
        self.assertTrue(anna_recipient.event_ids.is_inferred)
        bruno_recipient = self.tracked(message).filtered(lambda r: r.partner_id == self.bruno)
        self.assertFalse(bruno_recipient.replied_date)
        self.assertEqual(self.lead.message_ids[0].author_id, self.anna, "the reply is on the opportunity")


@tagged("post_install", "-at_install")
class TestForwardedEmailParsing(TransactionCase):
    """Pure parsing of inline forwards (L4)."""

    def test_l4_inline_forward_headers_in_italian(self):
        parsed = parse_inline_forward(
            "Vedi sotto\n\n-------- Messaggio inoltrato --------\n"
            "Da: Carla <carla@acme.example>\nData: 3 marzo 2025\nOggetto: Ordine\n"
            "A: Sara <sara@mycompany.example>\nCc: a@b.example,\n c@d.example\n\nTesto originale\n")
        self.assertEqual(parsed["from"], "Carla <carla@acme.example>")
        self.assertEqual(parsed["subject"], "Ordine")
        self.assertEqual(parsed["cc"], "a@b.example, c@d.example")
        self.assertEqual(parsed["body"], "Testo originale")
        self.assertIsNone(parse_inline_forward("no forward here\nFrom: x@y.example"))
        self.assertEqual(strip_forward_prefix("I: Fwd: Re: Ordine"), "Re: Ordine")


@tagged("post_install", "-at_install")
class TestEmailLoggingTour(TrackingCase):

    def test_l2_associations_from_the_company_timeline(self):
        """L2: the company's chatter shows the logged email and edits its associations,
        for its author also when it is logged on a colleague's opportunity too (as after
        the opportunity changed hands): that one is kept, unnamed, and Reply works."""
        acme, carla = self.create_customer_company()
        message = self.post_email(carla, Markup("<p>Logged offer</p>"))
        self.assertIn(("res.partner", acme.id), {(a.model, a.res_id) for a in self.associations(message)})
        self.env["mail.message.association"]._associate(message, [self.colleague_lead])
        self.start_tour(f"/odoo/contacts/{acme.id}", "mail_tracking_ext_logging_associations", login="mtx_sales")
        self.assertEqual({(a.model, a.res_id) for a in self.associations(message)},
                         {("res.partner", carla.id), ("crm.lead", self.colleague_lead.id)})
