from odoo.tests import tagged

from .common import TrackingCase


@tagged("post_install", "-at_install")
class TestComposerTour(TrackingCase):

    def test_t3_chatter_composer_switches(self):
        """T3: switching 'Track clicks' off in the chatter affects that email only."""
        self.lead.message_subscribe(partner_ids=self.anna.ids)
        self.start_tour(f"/odoo/crm/{self.lead.id}", "mail_tracking_ext_composer_switches",
                        login="mtx_sales")
        message = self.lead.message_ids.filtered(lambda m: "Our offer" in str(m.body))
        self.assertEqual(len(message), 1)
        self.assertTrue(message.track_opens)
        self.assertFalse(message.track_clicks)
        self.assertTrue(self.salesperson.mail_track_clicks_default)
