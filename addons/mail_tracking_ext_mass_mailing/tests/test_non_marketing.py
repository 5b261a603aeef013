from contextlib import ExitStack
from unittest.mock import patch

from odoo.addons.mail_tracking_ext.tools.compat import ODOO_MAJOR, USER_GROUPS_FIELD
from odoo.addons.mass_mailing.tests.common import MassMailCommon
from odoo.tests import tagged, users
from odoo.tools import email_normalize, mute_logger


@tagged("post_install", "-at_install")
class TestNonMarketing(MassMailCommon):
    """L3: mailings never reach a non-marketing contact, whatever they target,
    and their statistics say why: a cancelled 'Opted Out' trace."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customer, cls.logged_contact = cls.env["res.partner"].create([
            {"name": "Paula Customer", "email": "paula@customer.example"},
            {"name": "Nina Logged", "email": "nina@logged.example", "is_non_marketing": True},
        ])

    def new_mailing(self, model, **values):
        return self.env["mailing.mailing"].create({
            "name": f"L3 on {model}",
            "subject": "Our spring offers",
            "body_html": "<p>Spring is here</p>",
            "mailing_model_id": self.env["ir.model"]._get_id(model),
            **values,
        })

    def assertMailedOnly(self, mailing, sent, opted_out):
        """Records of ``sent`` got the mailing; those of ``opted_out`` got no
        email, only a cancelled 'Opted Out' trace."""
        traces = self.env["mailing.trace"].sudo().search([("mass_mailing_id", "=", mailing.id)])
        self.assertEqual(
            {trace.res_id: (trace.trace_status, trace.failure_type, trace.mail_mail_id.state) for trace in traces},
            {**dict.fromkeys(sent.ids, ("sent", False, "sent")),
             # 19.0's opted-out traces (the list's own opt-outs too) keep no link to a cancelled email
             **dict.fromkeys(opted_out.ids, ("cancel", "mail_optout", "cancel" if ODOO_MAJOR < 19 else False))},
        )
        mailed = {email_normalize(email) for mail in self._mails for email in mail["email_to"]}
        self.assertEqual(mailed, {email_normalize(trace.email) for trace in traces if trace.res_id in sent.ids})
        mailing.invalidate_recordset()
        self.assertEqual((mailing.sent, mailing.canceled), (len(sent), len(opted_out)))

    @users("user_marketing")
    @mute_logger("odoo.addons.mail.models.mail_mail")
    def test_l3_contact_mailing_skips_non_marketing_contact(self):
        """L3: a mailing to contacts mails the customer, not the contact
        created from a logged email."""
        contacts = self.customer | self.logged_contact
        mailing = self.new_mailing("res.partner", mailing_domain=[("id", "in", contacts.ids)])
        with self.mock_mail_gateway(mail_unlink_sent=False):
            mailing.action_send_mail()
        self.assertMailedOnly(mailing, sent=self.customer, opted_out=self.logged_contact)

    @mute_logger("odoo.addons.mail.models.mail_mail")
    def test_l3_lead_mailing_skips_non_marketing_address(self):
        """L3: a queued mailing to leads skips a lead written from a
        non-marketing contact's address, however that address is spelled."""
        self.user_marketing[USER_GROUPS_FIELD] += self.env.ref("sales_team.group_sale_salesman_all_leads")
        customer_lead, logged_lead = self.env["crm.lead"].create([
            {"name": "Paula's request", "email_from": "paula@customer.example"},
            {"name": "Nina's request", "email_from": '"Nina" <Nina@Logged.Example>'},
        ])
        leads = customer_lead | logged_lead
        mailing = self.new_mailing("crm.lead", mailing_domain=[("id", "in", leads.ids)])
        mailing = mailing.with_user(self.user_marketing)
        mailing.action_launch()
        with self.mock_mail_gateway(mail_unlink_sent=False), ExitStack() as stack:
            if ODOO_MAJOR >= 19:
                # 19.0's queue commits its progress when it runs outside the scheduler
                stack.enter_context(
                    patch.object(type(self.env["ir.cron"]), "_commit_progress", return_value=float("inf")))
            mailing._process_mass_mailing_queue()
        self.assertMailedOnly(mailing, sent=customer_lead, opted_out=logged_lead)

    @users("user_marketing")
    @mute_logger("odoo.addons.mail.models.mail_mail")
    def test_l3_list_mailing_keeps_list_opt_outs(self):
        """L3: a mailing to a list skips the subscriber sharing a non-marketing
        contact's address, on top of the list's own opt-outs."""
        paula, nina, otto = self.env["mailing.contact"].create([
            {"name": "Paula", "email": "paula@customer.example"},
            {"name": "Nina", "email": "nina@logged.example"},
            {"name": "Otto", "email": "otto@optout.example"},
        ])
        mailing_list = self.env["mailing.list"].create({
            "name": "Spring",
            "subscription_ids": [
                (0, 0, {"contact_id": contact.id, "opt_out": contact == otto}) for contact in (paula, nina, otto)
            ],
        })
        mailing = self.new_mailing("mailing.list", contact_list_ids=[(6, 0, mailing_list.ids)])
        with self.mock_mail_gateway(mail_unlink_sent=False):
            mailing.action_send_mail()
        self.assertMailedOnly(mailing, sent=paula, opted_out=nina | otto)

    @users("user_marketing")
    def test_l3_flag_cleared_makes_contact_reachable(self):
        """L3: the flag, not the contact's origin, decides: once cleared, the
        address is no longer opted out."""
        mailing = self.new_mailing("res.partner")
        self.assertIn("nina@logged.example", mailing._get_opt_out_list())
        self.logged_contact.is_non_marketing = False
        self.assertNotIn("nina@logged.example", mailing._get_opt_out_list())
