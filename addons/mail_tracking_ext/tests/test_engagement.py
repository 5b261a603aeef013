import json
from datetime import timedelta

from markupsafe import Markup

from odoo import fields
from odoo.addons.bus.models.bus import channel_with_db, json_dump
from odoo.addons.mail.tools.discuss import Store
from odoo.tests import tagged

from ..tools.compat import chatter_store
from .common import SentEmailCase


@tagged("post_install", "-at_install")
class TestEngagement(SentEmailCase):
    """Seeing engagement: live chatter data (N4), the author's notification
    (N1, A2), reports (N3), record statistics (N5) and the feed (N2)."""

    def setUp(self):
        super().setUp()
        self.env["bus.bus"].sudo().search([]).unlink()

    def engagement_notifications(self, target):
        """Payloads of the engagement notifications sent to a bus target."""
        self.env.cr.precommit.run()  # the bus writes its rows at commit
        channel = json_dump(channel_with_db(self.env.cr.dbname, target))
        rows = self.env["bus.bus"].sudo().search([("channel", "=", channel)], order="id")
        messages = [json.loads(row.message) for row in rows]
        return [message["payload"] for message in messages if message["type"] == "mail_tracking_ext/engagement"]

    # ------------------------------------------------------------
    # N1, A2: the author's notification
    # ------------------------------------------------------------

    def test_a2_n1_author_own_open_is_kept_apart_and_not_notified(self):
        """A2: the pixel loaded in the author's logged-in browser records a
        sender event that changes no status and notifies nobody."""
        self.authenticate("mtx_sales", "mtx_sales")
        self.open_pixel()
        self.assertEqual(self.anna_tracking.state, "sent")
        self.assertEqual(self.anna_tracking.open_count, 0)
        self.assertEqual(self.anna_tracking.open_rate, 0)
        self.assertEqual(self.anna_tracking.sudo().event_ids.mapped("source"), ["sender"])
        self.assertFalse(self.engagement_notifications(self.salesperson.partner_id))
        self.assertFalse(self.engagement_notifications((self.lead, "mail_tracking_ext")))
        # the author's own click neither: no "clicked", no inferred open
        self.click_link()
        self.assertEqual(self.anna_tracking.state, "sent")
        self.assertEqual(self.anna_tracking.click_count, 0)
        self.assertFalse(self.engagement_notifications(self.salesperson.partner_id))

    def test_a2_colleague_session_is_not_the_sender(self):
        """A2: only the author's session makes an open the sender's own."""
        self.authenticate("mtx_colleague", "mtx_colleague")
        self.open_pixel()
        self.assertEqual(self.anna_tracking.state, "opened")
        self.assertEqual(len(self.engagement_notifications(self.salesperson.partner_id)), 1)

    def test_n1_recipient_open_notifies_the_author(self):
        """N1: the recipient's open reaches the author over the bus with who,
        what, which email and the record; the record's chatter gets it too."""
        self.open_pixel()
        self.assertEqual(self.anna_tracking.state, "opened")
        [payload] = self.engagement_notifications(self.salesperson.partner_id)
        self.assertTrue(payload["notify"])
        self.assertTrue(payload["for_author"])
        self.assertEqual(payload["message_id"], self.message.id)
        self.assertEqual(payload["recipient"]["name"], "Anna Customer")
        self.assertEqual(payload["event"], "open")
        self.assertTrue(payload["refresh"], "the author's chatter fetches the email's tracking again")
        self.assertEqual((payload["model"], payload["res_id"]), ("crm.lead", self.lead.id))
        self.assertTrue(payload["subject"])
        [chatter_payload] = self.engagement_notifications((self.lead, "mail_tracking_ext"))
        self.assertEqual(chatter_payload, {"message_id": self.message.id, "refresh": True},
                         "P4: the record's viewers learn that it changed, not who did what")

    def test_n1_reloads_within_the_window_notify_once(self):
        """N1: reloading the pixel within 10 minutes notifies nobody again."""
        self.open_pixel()
        self.open_pixel()
        self.assertEqual(self.anna_tracking.open_count, 2)
        self.assertEqual(len(self.engagement_notifications(self.salesperson.partner_id)), 1)
        self.env.cr.execute("UPDATE mail_tracked_event SET event_date = event_date - interval '11 minutes'")
        self.open_pixel()
        self.assertEqual(len(self.engagement_notifications(self.salesperson.partner_id)), 2)

    def test_n1_click_notifies_with_the_link(self):
        self.click_link()
        [payload] = self.engagement_notifications(self.salesperson.partner_id)
        self.assertEqual((payload["event"], payload["url"]), ("click", "https://shop.example/offer"))
        self.assertEqual(self.anna_tracking.state, "clicked")
        self.assertEqual(self.anna_tracking.open_count, 1, "T8: the click added an inferred open")

    def test_n1_preference_off_still_updates_the_chatter(self):
        self.salesperson.mail_tracking_notify = False
        self.open_pixel()
        [payload] = self.engagement_notifications(self.salesperson.partner_id)
        self.assertFalse(payload["notify"])
        self.assertEqual(len(self.engagement_notifications((self.lead, "mail_tracking_ext"))), 1)

    def test_n1_p4_an_author_who_left_the_company_is_told_nothing(self):
        """P4: once the author's user is archived or made a portal user, the email's
        engagement still refreshes the record's chatter, but who opened and clicked what
        no longer reaches the author's partner."""
        for leave in ({"active": False}, {"group_ids" if "group_ids" in self.env["res.users"] else "groups_id":
                                          [(6, 0, [self.env.ref("base.group_portal").id])]}):
            with self.subTest(leave=leave), self.env.cr.savepoint() as savepoint:
                self.salesperson.sudo().write(leave)
                self.open_pixel()
                self.click_link()
                self.assertEqual(self.anna_tracking.state, "clicked")
                self.assertFalse(self.engagement_notifications(self.salesperson.partner_id))
                self.assertTrue(self.engagement_notifications((self.lead, "mail_tracking_ext")))
                savepoint.rollback()
            self.env.invalidate_all()

    # ------------------------------------------------------------
    # N4: chatter data
    # ------------------------------------------------------------

    def test_n4_chatter_gets_each_recipient_status(self):
        self.open_pixel()
        data = chatter_store(self.message.with_user(self.salesperson)).get_result()
        [message_data] = [m for m in data["mail.message"] if m["id"] == self.message.id]
        tracking = message_data["mailTracking"]
        self.assertTrue(tracking["opens"] and tracking["clicks"])
        states = {recipient["name"]: recipient["state"] for recipient in tracking["recipients"]}
        self.assertEqual(states, {"Anna Customer": "opened", "Bruno Buyer": "sent"})
        # a much-opened email sends its counts and only its latest opens
        self.env["mail.tracked.event"].sudo().create([
            {"recipient_id": self.anna_tracking.id, "event_type": "open"} for _index in range(14)])
        [anna_status] = [line for line in self.message._mail_tracking_status()[self.message.id]
                         if line["id"] == self.anna_tracking.id]
        self.assertEqual(anna_status["open_count"], 15)
        self.assertEqual(len(anna_status["opens"]), 10)
        # the chatter's popover refresh gives the same data
        refreshed = self.message.with_user(self.salesperson).mail_tracking_fetch_status()
        self.assertEqual(refreshed["mail.message"][0]["mailTracking"]["recipients"][0]["state"], "opened")

    def test_n4_p4_no_tracking_data_for_users_who_may_not_see_it(self):
        """P4: a user who cannot read the lead gets no tracking in the chatter data."""
        message = self.message.with_user(self.colleague)
        store = Store()
        message._mail_tracking_to_store(store)
        self.assertFalse([data for data in store.get_result().get("mail.message", []) if data.get("mailTracking")])
        channels = self.env["ir.websocket"].with_user(self.colleague)._mail_tracking_thread_channels(
            [f"mail_tracking_ext.thread/crm.lead/{self.lead.id}"])
        self.assertFalse(channels)
        channels = self.env["ir.websocket"].with_user(self.salesperson)._mail_tracking_thread_channels([
            f"mail_tracking_ext.thread/crm.lead/{self.lead.id}", "mail_tracking_ext.thread/crm.lead/99999999999",
            "mail_tracking_ext.thread/res.users.log/1", "mail_tracking_ext.thread/nope/1",
        ])
        self.assertEqual(channels, [(self.lead, "mail_tracking_ext")])

    def test_x3_n4_chatter_queries_do_not_grow_with_messages(self):
        """X3, N4: the chatter data of 50 tracked emails takes as many queries as of 5."""
        messages = self.message
        for index in range(49):
            message = self.post_email(self.anna | self.bruno, Markup(f"<p>Email {index}</p>"))
            self.outgoing(message)
            messages |= message
        self.env["mail.tracked.recipient"].sudo().search([("message_id", "in", messages.ids)], limit=30).write(
            {"state": "opened"})
        event_values = [{"recipient_id": recipient.id, "event_type": "open", "event_date": fields.Datetime.now()}
                        for recipient in self.tracked(messages)[:40]]
        event_values.append({"recipient_id": self.anna_tracking.id, "event_type": "click",
                             "url": "https://shop.example/offer"})
        self.env["mail.tracked.event"].sudo().create(event_values)
        counts, full_counts = {}, {}
        for size in (5, 50):
            batch = messages[:size].with_user(self.salesperson)
            for _warm_up in range(2):  # the second run is measured, with the registry caches warm
                self.env.invalidate_all()
                tracking_store = Store()
                start = self.cr.sql_log_count
                batch._mail_tracking_to_store(tracking_store)
                counts[size] = self.cr.sql_log_count - start
            self.assertEqual(len(tracking_store.get_result()["mail.message"]), size)
            # the whole chatter payload, core data included
            for _warm_up in range(2):
                self.env.invalidate_all()
                start = self.cr.sql_log_count
                chatter_store(batch).get_result()
                full_counts[size] = self.cr.sql_log_count - start
        self.assertEqual(counts[5], counts[50], f"queries per batch size: {counts}")
        self.assertLessEqual(counts[50], 8)
        self.assertEqual(full_counts[5], full_counts[50], f"queries per batch size: {full_counts}")

    # ------------------------------------------------------------
    # N3: tracked emails report
    # ------------------------------------------------------------

    def test_n3_rates_and_groupings(self):
        self.open_pixel()
        self.assertEqual((self.anna_tracking.open_rate, self.anna_tracking.click_rate), (100, 0))
        self.click_link()
        self.assertEqual((self.anna_tracking.open_rate, self.anna_tracking.click_rate), (100, 100))
        self.assertEqual(self.anna_tracking.lead_id, self.lead)
        Recipient = self.env["mail.tracked.recipient"].with_user(self.salesperson)
        [(lead, count, open_rate, click_rate)] = Recipient._read_group(
            [("message_id", "=", self.message.id)], ["lead_id"], ["__count", "open_rate:avg", "click_rate:avg"])
        self.assertEqual((lead, count, open_rate, click_rate), (self.lead, 2, 50, 50))
        # the search view's filters
        self.assertEqual(Recipient.search([("author_id.user_ids", "in", [self.salesperson.id])]),
                         self.tracked(self.message))
        self.assertEqual(Recipient.search([("message_id", "=", self.message.id), ("state", "=", "sent")]),
                         self.bruno_tracking)

    # ------------------------------------------------------------
    # N5: statistics on records
    # ------------------------------------------------------------

    def test_n5_contact_company_and_lead_statistics(self):
        company = self.env["res.partner"].create({"name": "Customer Inc", "is_company": True})
        colleague_of_anna = self.env["res.partner"].create(
            {"name": "Carla Customer", "email": "carla@customer.example", "parent_id": company.id})
        self.anna.parent_id = company
        other = self.post_email(colleague_of_anna, Markup("<p>Hello Carla</p>"))
        self.outgoing(other)
        self.open_pixel()
        partners = (self.anna | company | colleague_of_anna).with_user(self.salesperson)
        partners.invalidate_recordset()
        anna, company, carla = partners
        self.assertEqual((anna.mail_tracked_count, anna.mail_tracked_open_rate), (1, 100))
        self.assertTrue(anna.mail_tracked_last_open)
        self.assertEqual((carla.mail_tracked_count, carla.mail_tracked_open_rate), (1, 0))
        self.assertEqual((company.mail_tracked_count, company.mail_tracked_open_rate), (2, 50))
        self.assertEqual(company.mail_tracked_last_open, anna.mail_tracked_last_open)
        lead = self.lead.with_user(self.salesperson)
        self.assertEqual((lead.mail_tracked_count, lead.mail_tracked_open_rate, lead.mail_tracked_click_rate),
                         (3, 33, 0))
        # one click to the list, filtered
        action = company.action_view_mail_opened_emails()
        self.assertEqual(action["context"], {"search_default_opened": 1})
        self.assertEqual(self.env["mail.tracked.recipient"].with_user(self.salesperson).search(action["domain"]),
                         self.anna_tracking | self.tracked(other))

    def test_n5_statistics_in_batch(self):
        """N5: the statistics of many contacts take as many queries as of one."""
        partners = self.env["res.partner"].create([{"name": f"Contact {i}"} for i in range(20)]) | self.anna
        counts = {}
        for size in (1, 21):
            batch = partners[-size:].with_user(self.salesperson)
            for _warm_up in range(2):  # the second run is measured, with the registry caches warm
                batch.invalidate_recordset()
                batch.mapped("commercial_partner_id")  # as the form reads it anyway
                start = self.cr.sql_log_count
                batch.mapped("mail_tracked_open_rate")
                counts[size] = self.cr.sql_log_count - start
        self.assertEqual(counts[1], counts[21], f"queries per batch size: {counts}")

    # ------------------------------------------------------------
    # N2: activity feed
    # ------------------------------------------------------------

    def test_n2_feed_lists_my_engagement_newest_first(self):
        self.tracked(self.message).sudo().write({"sent_date": fields.Datetime.now() - timedelta(hours=1)})
        self.authenticate("mtx_sales", "mtx_sales")
        self.open_pixel()  # the author's own open: not in the feed (A2)
        self.logout()
        self.open_pixel()
        self.click_link()
        Feed = self.env["mail.tracked.engagement"].with_user(self.salesperson)
        lines = Feed.search([("message_id", "=", self.message.id)])
        self.assertEqual(sorted(lines.mapped("kind")), ["clicked", "opened", "sent", "sent"])
        self.assertEqual(lines[0].kind, "clicked", "newest first")
        self.assertEqual(lines[0].url, "https://shop.example/offer")
        self.assertEqual(lines[0].partner_id, self.anna)
        self.assertEqual(lines[0].lead_id, self.lead)
        self.assertFalse(Feed.with_user(self.colleague).search([("message_id", "=", self.message.id)]), "P4")
        # the top bar's counter, reset when the feed is opened
        self.assertEqual(self.salesperson._mail_tracking_feed_unread(), 2)
        action = self.env["res.users"].with_user(self.salesperson).action_mail_tracking_feed()
        self.assertEqual(action["res_model"], "mail.tracked.engagement")
        self.assertEqual(self.salesperson._mail_tracking_feed_unread(), 0)
        store = Store()
        self.salesperson._init_messaging(store)
        self.assertEqual(store.get_result()["Store"]["mailTrackingFeedUnread"], 0)
