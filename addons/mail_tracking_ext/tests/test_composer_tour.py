from odoo.tests import tagged

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
        self.assertFalse(message.association_ids)
        self.assertTrue(self.salesperson.mail_track_clicks_default)
