from odoo.exceptions import AccessError
from odoo.tests import tagged

from ..tools.compat import USER_GROUPS_FIELD
from .common import TrackingCase


@tagged("post_install", "-at_install")
class TestComposerTour(TrackingCase):

    def test_t3_l1_chatter_composer_switches(self):
        """T3, L1: switching 'Track clicks' and 'Log' off in the chatter affects that email only."""
        self.lead.message_subscribe(partner_ids=self.anna.ids)
        self.start_tour(f"/odoo/crm/{self.lead.id}", "mail_tracking_ext_composer_switches",
                        login="mtx_sales")
        message = self.lead.message_ids.filtered(lambda m: "Our offer" in str(m.body))
        self.assertEqual(len(message), 1)
        self.assertTrue(message.track_opens)
        self.assertFalse(message.track_clicks)
        self.assertFalse(message.log_email)
        self.assertFalse(self.associations(message))
        self.assertTrue(self.salesperson.mail_tracking_clicks_default)

    def test_p1_p2_chatter_composer_names_who_is_not_tracked(self):
        """P1, P2: with data privacy on, the chatter composer names the recipients
        an email would reach untracked, and follows the recipients chosen."""
        self.env.company.mail_tracking_privacy = True
        self.start_tour(f"/odoo/crm/{self.lead.id}", "mail_tracking_ext_composer_notice", login="mtx_sales")

    def test_p1_p2_untracked_recipients_of_a_record(self):
        self.env.company.mail_tracking_privacy = True
        lead = self.lead.with_user(self.salesperson)
        self.assertEqual(lead.mail_tracking_composer_state([self.anna.id])["untracked"], ["Anna Customer"])
        self.anna.legal_basis = "prospect_interest"
        self.assertEqual(lead.mail_tracking_composer_state([self.anna.id])["untracked"], [])
        self.bruno.legal_basis = "consent"
        self.bruno.do_not_track = True
        self.lead.message_subscribe(partner_ids=(self.bruno | self.colleague.partner_id).ids)
        self.assertEqual(lead.mail_tracking_composer_state([self.anna.id])["untracked"], ["Bruno Buyer"],
                         "followers too; internal users are never tracked nor listed")
        self.env.company.mail_tracking_privacy = False
        self.anna.legal_basis = False
        self.assertEqual(lead.mail_tracking_composer_state([self.anna.id])["untracked"], ["Bruno Buyer"])
        hidden = self.env["crm.lead"].create({"name": "Not mine", "type": "opportunity",
                                              "user_id": self.colleague.id})
        with self.assertRaises(AccessError):
            hidden.with_user(self.salesperson).mail_tracking_composer_state([])

    def test_l2_p4_full_composer_of_a_salesperson_whose_customer_has_a_colleague_deal(self):
        """L2, P4: the full composer opens for an own-documents salesperson whose
        customer also has a colleague's opportunity, pre-selects only what the
        salesperson may read, and logs the email there only; the same pre-selection
        as a composer made over RPC."""
        self.start_tour(f"/odoo/crm/{self.lead.id}", "mail_tracking_ext_full_composer_preselection",
                        login="mtx_sales")
        message = self.lead.message_ids.filtered(lambda m: "Our offer" in str(m.body))
        self.assertEqual(len(message), 1)
        self.assertTrue(message.log_email)
        logged_on = {(a.model, a.res_id) for a in self.associations(message)}
        self.assertIn(("res.partner", self.anna.id), logged_on)
        self.assertNotIn(("crm.lead", self.colleague_lead.id), logged_on)
        self.assertTrue(message.track_opens and message.track_clicks, "tracked: Anna is trackable")
        # the form's pre-selection is the one of a composer made over RPC with the same recipient
        composer = self.env["mail.compose.message"].with_user(self.salesperson).create({
            "composition_mode": "comment", "model": "crm.lead", "res_ids": self.lead.ids,
            "partner_ids": self.anna.ids})
        preselected = {("res.partner", p.id) for p in composer.log_partner_ids} \
            | {("crm.lead", lead.id) for lead in composer.log_lead_ids}
        self.assertEqual(preselected - {("crm.lead", self.lead.id)}, logged_on,
                         "the email's own record is its timeline already")
        self.assertFalse(composer.mail_tracking_notice)

    def test_l3_full_composer_new_recipient_is_a_logging_contact(self):
        """L3: in the full composer, Log on, the user creates a contact for a new address
        in the To field: it is non-marketing, the sender's, and the email is on its timeline."""
        self.salesperson[USER_GROUPS_FIELD] += self.env.ref("base.group_partner_manager")
        self.start_tour(f"/odoo/crm/{self.lead.id}", "mail_tracking_ext_full_composer_new_contact",
                        login="mtx_sales")
        nina = self.env["res.partner"].search([("email", "=", "nina@newco.example")])
        self.assertEqual(len(nina), 1)
        self.assertTrue(nina.is_non_marketing)
        self.assertEqual(nina.user_id, self.salesperson)
        message = self.lead.message_ids.filtered(lambda m: nina in m.partner_ids)
        self.assertTrue(message.log_email)
        self.assertIn(("res.partner", nina.id), [(a.model, a.res_id) for a in self.associations(message)])
