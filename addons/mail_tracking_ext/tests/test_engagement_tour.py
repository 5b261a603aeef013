import threading
from contextlib import contextmanager
from unittest.mock import patch

import requests
from markupsafe import Markup

from odoo.addons.bus.models.bus import channel_with_db, dispatch, hashable
from odoo.addons.bus.websocket import WebsocketConnectionHandler
from odoo.tests import TEST_CURSOR_COOKIE_NAME, tagged

from .common import TrackingCase


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
    def recipient_opens_when_chatter_listens(self):
        """Once the chatter of the lead listens to the bus and the tour saw the
        email unopened, load Anna's pixel from outside the author's browser (no session: her open, not the
        author's, A2), and deliver the bus notifications, which the test
        server does not do by itself."""
        listening = [
            hashable(channel_with_db(self.env.cr.dbname, (self.lead, "mail_tracking_ext"))),
            # the tour adds this channel once it has seen the email unopened
            hashable(channel_with_db(self.env.cr.dbname, "mail_tracking_ext.test_engagement_tour")),
        ]
        pixel_url = f"{self.base_url()}/email-tracking/open/{self.token}.gif"
        stop = threading.Event()

        def recipient():
            while not all(channel in dispatch._channels_to_ws for channel in listening):
                if stop.wait(0.2):
                    return
            # no session cookie: only the one that routes the request to this test's transaction
            requests.get(pixel_url, cookies={TEST_CURSOR_COOKIE_NAME: self.http_request_key}, timeout=30)
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
        with self.recipient_opens_when_chatter_listens():
            self.start_tour(f"/odoo/crm/{self.lead.id}", "mail_tracking_ext_engagement", login="mtx_sales")
        recipient = self.tracked(self.message)
        self.assertEqual(recipient.state, "opened")
        self.assertFalse(recipient.sudo().event_ids.is_sender, "A2: the recipient's open, not the author's")
        self.assertTrue(self.salesperson.mail_tracking_feed_seen)

    def test_n5_contact_statistics_open_the_filtered_list(self):
        self.url_open(f"/email-tracking/open/{self.token}.gif")
        self.start_tour(f"/odoo/res.partner/{self.anna.id}", "mail_tracking_ext_contact_statistics",
                        login="mtx_sales")
