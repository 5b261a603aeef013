from odoo.tests import TransactionCase, tagged


@tagged("post_install", "-at_install")
class TestDemoData(TransactionCase):
    """E3: a new database with demo data shows the addon at work, to the demo
    salesperson, without anything sent: tracked emails with opens, clicks and a
    reply, statistics, an activity feed and logged emails."""

    def test_e3_demo_salesperson_sees_tracking_statistics_feed_and_logged_emails(self):
        demo = self.env.ref("base.user_demo", raise_if_not_found=False)
        if not demo:
            self.skipTest("database without demo data")
        # Odoo installs a module whose demo data fail without them, and only logs it
        self.assertTrue(self.env["ir.module.module"].search([("name", "=", "mail_tracking_ext")]).demo,
                        "the addon's demo data failed to load: see the install log")
        as_demo = self.env(user=demo)
        recipients = as_demo["mail.tracked.recipient"].search([("author_id", "=", demo.partner_id.id)])
        self.assertEqual(set(recipients.mapped("state")), {"sent", "opened", "clicked"})
        self.assertTrue(recipients.filtered("replied_date"), "a reply")
        self.assertTrue(all(recipient.sent_date < recipient.create_date for recipient in recipients),
                        "dated before the install, as if sent over the last days")
        lead = as_demo.ref("crm.crm_case_26")
        self.assertEqual((lead.mail_tracked_count, lead.mail_tracked_open_rate, lead.mail_tracked_click_rate),
                         (1, 100, 100))
        feed = as_demo["mail.tracked.engagement"].search([("is_mine", "=", True)])
        self.assertGreaterEqual(len(feed), 8, "sent, opened, clicked and replied lines")
        self.assertGreater(demo._mail_tracking_feed_unread(), 0)
        logged = as_demo["mail.logging.request"].search([("state", "=", "logged")])
        self.assertEqual(logged.mapped("name"), ["Delivery dates for the desks"], "Bcc'd from Gmail")
        self.assertGreaterEqual(as_demo["mail.message"].search_count([("log_email", "=", True)]), 5)
