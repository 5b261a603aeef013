import csv
import io
from datetime import timedelta

from markupsafe import Markup

from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .common import CLICK_LINK, TrackingCase

BODY = Markup('<p>Hello</p><a href="https://shop.example/offer">offer</a>')


@tagged("post_install", "-at_install")
class TestPrivacy(TrackingCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.anna.legal_basis = "consent"
        cls.bruno.legal_basis = "none"

    def click_path(self, body):
        match = CLICK_LINK.search(body)
        return f"/email-tracking/click/{match.group(1)}/{match.group(2)}"

    def test_p1_privacy_mode_tracks_only_contacts_with_a_legal_basis(self):
        self.env.company.mail_tracking_privacy = True
        message = self.post_email(self.anna | self.bruno, BODY)
        mail = self.env["mail.mail"].sudo().search([("mail_message_id", "=", message.id)])
        mail.write({"email_to": "raw@someone.example"})
        outgoing = self.outgoing(message)
        self.assertIn("/email-tracking/", outgoing["anna@customer.example"]["body"])
        for email in ("bruno@buyer.example", "raw@someone.example"):
            self.assertNotIn("/email-tracking/", outgoing[email]["body"], f"{email} must get plain content")
        self.assertEqual(self.tracked(message).partner_id, self.anna)
        self.assertEqual(len(self.tracked(message)), 1, "no anonymous record either")

    def test_p1_anonymous_measurement_for_the_others(self):
        self.env.company.write({"mail_tracking_privacy": True, "mail_tracking_anonymous_opens": True})
        carla = self.env["res.partner"].create({"name": "Carla", "email": "carla@third.example"})
        message = self.post_email(self.anna | self.bruno | carla, BODY)
        outgoing = self.outgoing(message)
        bruno_body, carla_body = outgoing["bruno@buyer.example"]["body"], outgoing["carla@third.example"]["body"]
        self.assertNotIn("/email-tracking/click/", bruno_body, "no personal links")
        self.assertEqual(self.token_of(bruno_body), self.token_of(carla_body), "one pixel shared by both")
        aggregate = self.tracked(message).filtered("is_aggregate")
        self.assertEqual(len(aggregate), 1)
        self.assertFalse(aggregate.partner_id or aggregate.email, "nothing identifies who opened")
        self.url_open(f"/email-tracking/open/{self.token_of(bruno_body)}.gif")
        self.assertEqual(aggregate.open_count, 1)

    def test_p1_composer_explains_who_is_not_tracked(self):
        self.env.company.mail_tracking_privacy = True
        composer = self.env["mail.compose.message"].with_user(self.salesperson).create({
            "model": "crm.lead", "res_ids": self.lead.ids, "body": BODY,
            "partner_ids": [(6, 0, self.bruno.ids)]})
        self.assertFalse(composer.mail_tracking_possible)
        self.assertIn("Bruno Buyer", composer.mail_tracking_notice)
        composer.partner_ids = self.anna | self.bruno
        self.assertTrue(composer.mail_tracking_possible)
        self.assertIn("Bruno Buyer", composer.mail_tracking_notice)
        self.assertNotIn("Anna", composer.mail_tracking_notice)
        # every recipient trackable (the everyday case): no notice at all, not an empty recordset's name
        composer.partner_ids = self.anna
        self.assertTrue(composer.mail_tracking_possible)
        self.assertIs(composer.mail_tracking_notice, False)
        self.assertEqual(composer.read(["mail_tracking_notice"])[0]["mail_tracking_notice"], False)

    def test_p2_withdrawal_stops_recording_for_emails_already_sent(self):
        message = self.post_email(self.anna, BODY)
        body = self.outgoing(message)["anna@customer.example"]["body"]
        self.anna.do_not_track = True
        self.url_open(f"/email-tracking/open/{self.token_of(body)}.gif")
        response = self.url_open(self.click_path(body), allow_redirects=False)
        self.assertEqual(response.status_code, 302, "the link still works for the recipient")
        self.assertEqual(response.headers["Location"], "https://shop.example/offer")
        self.assertFalse(self.tracked(message).event_ids)
        self.assertEqual(self.tracked(message).state, "sent")
        later = self.post_email(self.anna, BODY)
        self.assertNotIn("/email-tracking/", self.outgoing(later)["anna@customer.example"]["body"])

    def test_p2_recipient_opt_out_link(self):
        self.env.company.mail_tracking_optout_link = True
        self.anna.lang = "en_US"
        message = self.post_email(self.anna | self.bruno, BODY)
        outgoing = self.outgoing(message)
        anna_body = outgoing["anna@customer.example"]["body"]
        token = self.token_of(anna_body)
        self.assertIn(f"/email-tracking/optout/{token}", anna_body)
        page = self.url_open(f"/email-tracking/optout/{token}")
        self.assertEqual(page.status_code, 200)
        self.assertIn("Stop tracking", page.text)
        self.assertFalse(self.anna.do_not_track, "opening the page (or a link scanner) changes nothing")
        self.assertEqual(self.url_open("/email-tracking/optout/forged-token-123").status_code, 404)
        csrf = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        response = self.url_open(f"/email-tracking/optout/{token}", data={"csrf_token": csrf})
        self.assertEqual(response.status_code, 200)
        self.assertIn("Tracking stopped", response.text)
        self.assertTrue(self.anna.do_not_track)
        self.assertFalse(self.bruno.do_not_track, "a token opts out its own contact only")
        said = self.anna.message_ids.filtered(lambda m: "Stopped the tracking" in str(m.body))
        self.assertEqual(said.author_id, self.anna, "the contact's timeline says Anna did it, not 'Public user'")
        self.assertFalse(self.anna.message_ids.filtered(lambda m: m.author_id == self.env.ref("base.public_partner")))

    def test_p3_retention_purge_and_contact_deletion(self):
        message = self.post_email(self.anna | self.bruno, BODY)
        outgoing = self.outgoing(message)
        for email in ("anna@customer.example", "bruno@buyer.example"):
            self.url_open(f"/email-tracking/open/{self.token_of(outgoing[email]['body'])}.gif")
        Event = self.env["mail.tracked.event"].sudo()
        anna_events = Event.search([("recipient_id.partner_id", "=", self.anna.id)])
        bruno_events = Event.search([("recipient_id.partner_id", "=", self.bruno.id)])
        self.env["ir.config_parameter"].sudo().set_param("mail_tracking_ext.retention_days", 30)
        anna_events.event_date = fields.Datetime.now() - timedelta(days=31)
        bruno_events.event_date = fields.Datetime.now() - timedelta(days=29)
        anna_events.flush_recordset()
        self.env["mail.tracked.recipient"]._gc_expired_tracking()
        self.env.invalidate_all()
        self.assertFalse(anna_events.exists())
        self.assertEqual(bruno_events.exists(), bruno_events)
        self.bruno.unlink()
        self.assertFalse(bruno_events.exists(), "deleting a contact removes their events")
        self.assertEqual(self.tracked(message).partner_id, self.anna)

    def test_p3_export_tracking_data(self):
        message = self.post_email(self.anna, BODY)
        body = self.outgoing(message)["anna@customer.example"]["body"]
        self.url_open(self.click_path(body), allow_redirects=False)
        self.authenticate("mtx_sales", "mtx_sales")
        response = self.url_open(f"/email-tracking/export/{self.anna.id}")
        self.assertEqual(response.status_code, 200)
        rows = list(csv.reader(io.StringIO(response.text)))
        self.assertEqual([row[4] for row in rows[1:]], ["sent", "open", "click"])
        self.assertEqual(rows[3][6], "https://shop.example/offer")

    def test_p4_visibility(self):
        """P4: author and readers of the record see details; others, portal and public see nothing."""
        message = self.post_email(self.anna, BODY)
        body = self.outgoing(message)["anna@customer.example"]["body"]
        recipient = self.tracked(message)
        manager = new_test_user(self.env, login="mtx_manager", groups="sales_team.group_sale_manager")
        portal = new_test_user(self.env, login="mtx_portal", groups="base.group_portal")
        Recipient = self.env["mail.tracked.recipient"]
        self.assertEqual(Recipient.with_user(self.salesperson).search([("id", "=", recipient.id)]), recipient)
        self.assertEqual(Recipient.with_user(manager).search([("id", "=", recipient.id)]), recipient)
        self.assertFalse(Recipient.with_user(self.colleague).search([("id", "=", recipient.id)]),
                         "the colleague cannot read the salesperson's opportunity")
        with self.assertRaises(AccessError):
            recipient.with_user(self.colleague).read(["state"])
        with self.assertRaises(AccessError):
            recipient.with_user(portal).read(["state"])
        self.assertFalse(self.env["mail.tracked.event"].with_user(self.colleague).search_count([]))
        self.url_open(f"/email-tracking/open/{self.token_of(body)}.gif")
        event = recipient.event_ids
        self.assertTrue(event)
        with self.assertRaises(AccessError):
            event.with_user(self.colleague).read(["event_date"])
        self.assertEqual(event.with_user(self.salesperson).read(["event_type"])[0]["event_type"], "open")
        self.assertFalse(message.with_user(self.colleague).sudo(False)._mail_tracking_status()[message.id])
        # logged on Anna too (L2), the email is visible to those who can read every linked record,
        # or any of them if the company says so
        self.assertIn(("res.partner", self.anna.id), [(a.model, a.res_id) for a in self.associations(message)])
        self.assertFalse(Recipient.with_user(self.colleague).search([("id", "=", recipient.id)]))
        self.assertEqual(Recipient.with_user(self.salesperson).search([("id", "=", recipient.id)]), recipient)
        self.env.company.mail_tracking_visibility = "any"
        self.assertEqual(Recipient.with_user(self.colleague).search([("id", "=", recipient.id)]), recipient,
                         "the colleague can read Anna, one of the linked records")
        self.env.company.mail_tracking_visibility = "every"
        # the colleague gets the opportunity: now they may see it
        self.lead.user_id = self.colleague
        self.assertEqual(Recipient.with_user(self.colleague).search([("id", "=", recipient.id)]), recipient)
