import json
import os
from contextlib import contextmanager
from unittest.mock import patch

from odoo.tests import tagged

from ..controllers import fast_path
from ..tools.recorder import BUS_TYPE
from ..tools.tracking_http import PIXEL_GIF
from .common import SentEmailCase


@tagged("post_install", "-at_install")
class TestFastPath(SentEmailCase):
    """X1: the tracking routes answered in front of Odoo's request handling
    keep every rule of Odoo's routes, and leave to them what they cannot decide."""

    def outgoing(self, message, delivered_ago=3600):
        self.sent = super().outgoing(message, delivered_ago)
        return self.sent

    @contextmanager
    def watch_fast_path(self):
        """Which requests the fast path answered (it still answers them: a spy, not a stand-in)."""
        answered = []
        handle = fast_path.handle

        def spy(environ, start_response):
            response = handle(environ, start_response)
            answered.append(response is not None)
            return response

        with patch.object(fast_path, "handle", spy):
            yield answered

    def bus_messages(self, channel):
        """This addon's messages on ``channel`` (19.0 also tells the author's channel of the email
        itself)."""
        messages = self.env["bus.bus"].sudo().search([("channel", "=", json.dumps(channel, separators=(",", ":")))])
        return [data for data in map(json.loads, messages.mapped("message")) if data["type"] == BUS_TYPE]

    def author_channel(self):
        return [self.env.cr.dbname, "res.partner", self.salesperson.partner_id.id]

    def test_x1_opens_and_clicks_answered_before_odoo(self):
        with self.watch_fast_path() as answered:
            response = self.open_pixel()
            self.assertEqual(response.content, PIXEL_GIF)
            self.assertEqual(response.headers["Content-Type"], "image/gif")
            self.assertIn("no-store", response.headers["Cache-Control"])
            response = self.click_link()
            self.assertEqual(response.status_code, 302)
            self.assertEqual(response.headers["Location"], "https://shop.example/offer")
            self.assertEqual(self.url_open(f"/email-tracking/open/{self.anna_token}.gif", head=True).status_code, 200)
        self.assertEqual(answered, [True, True, True])
        self.assertEqual(self.anna_tracking.state, "clicked")
        self.assertEqual((self.anna_tracking.open_count, self.anna_tracking.click_count), (1, 1),
                         "HEAD records nothing")
        self.assertEqual(self.bruno_tracking.state, "sent")
        # the author is told, in the messages the web client reads (N1, N4)
        notified = [message["payload"] for message in self.bus_messages(self.author_channel())]
        self.assertEqual([payload["event"] for payload in notified], ["open", "click"])
        self.assertEqual(notified[0]["recipient"]["name"], "Anna Customer")
        self.assertTrue(notified[0]["notify"])
        chatter = [self.env.cr.dbname, "crm.lead", self.lead.id, "mail_tracking_ext"]
        self.assertEqual(self.bus_messages(chatter)[0]["payload"],
                         {"message_id": self.message.id, "refresh": True})

    def test_x1_what_it_leaves_to_odoo(self):
        with self.watch_fast_path() as answered:
            # a malformed token: Odoo's route answers the pixel, records nothing (R3)
            self.assertEqual(self.url_open("/email-tracking/open/%27%20OR%201%3D1.gif").content, PIXEL_GIF)
            # a link of no email: Odoo's route explains it in the visitor's language
            response = self.url_open(f"/email-tracking/click/{self.anna_token}/{'0' * 12}",
                                     headers={"Accept-Language": "it-IT"}, allow_redirects=False)
            self.assertEqual(response.status_code, 404)
            # the author, logged in to Odoo in the same browser: Odoo knows whose session it is
            self.authenticate("mtx_sales", "mtx_sales")
            self.open_pixel()
        self.assertEqual(answered, [False, False, False])
        event = self.anna_tracking.event_ids
        self.assertEqual((event.source, event.source_rule), ("sender", "author"))
        self.assertEqual(self.anna_tracking.state, "sent")

    def test_x1_bus_messages_same_as_odoo_routes(self):
        with self.watch_fast_path() as answered:
            self.open_pixel()
            # a colleague logged in to Odoo opens Bruno's copy: Odoo's route records it
            bruno_token = self.token_of(self.sent["bruno@buyer.example"]["body"])
            self.authenticate("mtx_colleague", "mtx_colleague")
            self.open_pixel(bruno_token)
        self.assertEqual(answered, [True, False])
        fast, routed = (message["payload"] for message in self.bus_messages(self.author_channel()))
        self.assertEqual(set(fast), set(routed))
        self.assertEqual(fast["recipient"]["name"], "Anna Customer")
        self.assertEqual(routed["recipient"]["name"], "Bruno Buyer")
        self.assertEqual({key: value for key, value in fast.items() if key != "recipient"},
                         {key: value for key, value in routed.items() if key != "recipient"})

    def test_x1_a1_settings_apply_at_once(self):
        """The company's own networks are read with each request: no process keeps an old value."""
        with self.watch_fast_path() as answered:
            self.open_pixel()
            self.env["ir.config_parameter"].sudo().set_param("mail_tracking_ext.own_networks", "127.0.0.0/8")
            self.env.flush_all()
            self.open_pixel()
        self.assertEqual(answered, [True, True])
        rules = self.anna_tracking.event_ids.sorted("id").mapped("source_rule")
        self.assertEqual(rules[-1], "own_network")

    def test_r7_pgoptions_make_the_recording_commits_wait_for_the_disk(self):
        """The recording connections commit without waiting for the WAL flush,
        unless the environment's PGOPTIONS ask for it (no event lost even to a
        crash of PostgreSQL, at the cost of speed)."""
        def setting_of_a_new_connection():
            with fast_path._connect(self.env.cr.dbname) as connection, connection.cursor() as cr:
                cr.execute("SHOW synchronous_commit")
                result = cr.fetchone()[0]
            connection.close()
            return result

        with patch.dict(os.environ, {"PGOPTIONS": ""}):
            self.assertEqual(setting_of_a_new_connection(), "off")
        with patch.dict(os.environ, {"PGOPTIONS": "-c synchronous_commit=on"}):
            self.assertEqual(setting_of_a_new_connection(), "on")
