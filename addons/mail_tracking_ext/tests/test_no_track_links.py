from contextlib import contextmanager

from markupsafe import Markup

from odoo.tests import Form, tagged

from .common import TrackingCase, accept_every_email, smtp_server

OFFER = "https://shop.example/offer?id=7"
PAYMENT = "https://bank.example/pay?ref=42"
# as a salesperson marks a link in Odoo's editor: the class survives Odoo's sanitizer
BODY = Markup(f'<p>See <a href="{OFFER}">our offer</a> and pay on '
              f'<a class="o_no_track" href="{PAYMENT}">your bank\'s page</a>.</p>')


@tagged("post_install", "-at_install")
class TestNoTrackLinks(TrackingCase):
    """T2: a link the salesperson marks in a body written in Odoo reaches the
    recipient with its own address, while the other links are tracked."""

    @contextmanager
    def sent_emails(self):
        """The SMTP messages Odoo hands to its mail server, queued ones sent at the end."""
        sent = []
        with smtp_server(None, autospec=True, side_effect=accept_every_email) as send_email:
            yield sent
            self.env["mail.mail"].sudo().search([
                ("mail_message_id", "in", self.lead.message_ids.ids), ("state", "=", "outgoing")]).send()
        sent.extend(call.args[1] for call in send_email.call_args_list)

    def assert_marked_link_untouched(self, sent):
        bodies = {message["To"]: message.get_body(("html",)).get_content() for message in sent}
        self.assertEqual(list(bodies), ['"Anna Customer" <anna@customer.example>'])
        body = bodies['"Anna Customer" <anna@customer.example>']
        self.assertIn(f'href="{PAYMENT}"', body, "the marked link keeps its address")
        self.assertNotIn(OFFER, body, "the other link is tracked")
        self.assertRegex(body, r'href="[^"]*/email-tracking/click/[^"]+"[^>]*>our offer<')

    def test_t2_marked_link_of_the_full_composer_is_not_tracked(self):
        with self.sent_emails() as sent:
            composer = Form(self.env["mail.compose.message"].with_user(self.salesperson).with_context(
                default_model="crm.lead", default_res_ids=self.lead.ids, default_composition_mode="comment",
                default_partner_ids=self.anna.ids))
            self.assertTrue(composer.track_clicks)
            composer.body = BODY
            composer.save().action_send_mail()
        self.assertTrue(self.lead.message_ids[0].track_clicks)
        self.assert_marked_link_untouched(sent)

    def test_t2_marked_link_of_a_template_is_not_tracked(self):
        """Where salespeople find marked links: the company's email templates."""
        template = self.env["mail.template"].create({
            "name": "Payment reminder", "model_id": self.env["ir.model"]._get_id("crm.lead"),
            "subject": "Your payment", "body_html": BODY})
        with self.sent_emails() as sent:
            composer = Form(self.env["mail.compose.message"].with_user(self.salesperson).with_context(
                default_model="crm.lead", default_res_ids=self.lead.ids, default_composition_mode="comment",
                default_partner_ids=self.anna.ids, default_template_id=template.id))
            composer.save().action_send_mail()
        self.assert_marked_link_untouched(sent)

    def test_t2_marked_link_of_the_chatter_is_not_tracked(self):
        self.authenticate("mtx_sales", "mtx_sales")
        with self.sent_emails() as sent:
            self.make_jsonrpc_request("/mail/message/post", {
                "thread_model": "crm.lead",
                "thread_id": self.lead.id,
                "post_data": {
                    "body": str(BODY),
                    "message_type": "comment",
                    "subtype_xmlid": "mail.mt_comment",
                    "partner_ids": self.anna.ids,
                    "attachment_ids": [],
                    "track_opens": True,
                    "track_clicks": True,
                },
            })
        self.assertTrue(self.lead.message_ids[0].track_clicks)
        self.assert_marked_link_untouched(sent)
