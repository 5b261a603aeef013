import threading
from contextlib import contextmanager
from unittest.mock import patch

import requests
from markupsafe import Markup

from odoo import SUPERUSER_ID, api
from odoo.addons.bus.models.bus import channel_with_db, dispatch, hashable
from odoo.addons.bus.websocket import WebsocketConnectionHandler
from odoo.tests import TEST_CURSOR_COOKIE_NAME, tagged

from .common import MAIL_CLIENT, TrackingCase, accept_every_email, smtp_server


@tagged("post_install", "-at_install")
class TestEngagementTour(TrackingCase):
    """N1, N2, N4, N5 in the browser."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # the test server refuses websockets unless asked: the live updates need them
        cls.startClassPatcher(patch.object(WebsocketConnectionHandler, "websocket_allowed", return_value=True))

    def setUp(self):
        super().setUp()
        self.message = self.post_email(self.anna, Markup('<p>Our proposal</p><a href="https://shop.example/offer">offer</a>'))
        self.token = self.token_of(self.outgoing(self.message)["anna@customer.example"]["body"])

    @contextmanager
    def when_chatter_listens(self, ready_channel, event):
        """Once the chatter of the lead listens to the bus and the tour added
        ``ready_channel``, run ``event`` (what happens outside the author's
        browser), and deliver the bus notifications, which the test server does
        not do by itself."""
        listening = [
            hashable(channel_with_db(self.env.cr.dbname, (self.lead, "mail_tracking_ext"))),
            hashable(channel_with_db(self.env.cr.dbname, ready_channel)),
        ]
        stop = threading.Event()

        def recipient():
            while not all(channel in dispatch._channels_to_ws for channel in listening):
                if stop.wait(0.2):
                    return
            event()
            while not stop.wait(0.5):
                for websocket in {ws for sockets in list(dispatch._channels_to_ws.values()) for ws in sockets}:
                    websocket.trigger_notification_dispatching()

        thread = threading.Thread(target=recipient, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=10)

    def test_n4_n1_n2_chatter_icons_fill_live_and_author_is_notified(self):
        """N4: the icons fill without reload; N1: the author is notified; N2:
        the top bar opens the activity feed."""
        def anna_opens():
            # no session cookie: only the one that routes the request to this test's transaction;
            # her open, not the author's (A2)
            requests.get(f"{self.base_url()}/email-tracking/open/{self.token}.gif",
                         cookies={TEST_CURSOR_COOKIE_NAME: self.http_request_key},
                         headers={"User-Agent": MAIL_CLIENT}, timeout=30)

        with self.when_chatter_listens("mail_tracking_ext.test_engagement_tour", anna_opens):
            self.start_tour(f"/odoo/crm/{self.lead.id}", "mail_tracking_ext_engagement", login="mtx_sales")
        recipient = self.tracked(self.message)
        self.assertEqual(recipient.state, "opened")
        self.assertEqual(recipient.sudo().event_ids.source, "human", "A2: the recipient's open, not the author's")
        self.assertTrue(self.salesperson.mail_tracking_feed_seen)

    def test_n4_t10_an_email_that_leaves_untracked_loses_its_icons_live(self):
        """N4, T10: every recipient on the salesperson's never-track list: while the
        email waits in the queue the chatter shows it as tracked; once it left with no
        tracked copy, the icons go without reloading."""
        self.env["mail.address.exclusion"].create({"pattern": self.bruno.email, "user_id": self.salesperson.id})
        message = self.post_email(self.bruno, Markup("<p>Not for tracking</p>"))

        def queue_runs():  # Odoo's mail queue, in this test's transaction
            with self.env.registry.cursor() as cr, smtp_server(accept_every_email):
                api.Environment(cr, SUPERUSER_ID, {})["mail.mail"].search(
                    [("mail_message_id", "=", message.id)]).send()

        with self.when_chatter_listens("mail_tracking_ext.test_untracked_email_tour", queue_runs):
            self.start_tour(f"/odoo/crm/{self.lead.id}", "mail_tracking_ext_untracked_email", login="mtx_sales")
        self.assertFalse(self.tracked(message))

    def test_n5_contact_statistics_open_the_filtered_list(self):
        self.url_open(f"/email-tracking/open/{self.token}.gif")
        self.start_tour(f"/odoo/res.partner/{self.anna.id}", "mail_tracking_ext_contact_statistics",
                        login="mtx_sales")
