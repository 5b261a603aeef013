import json
import time

from markupsafe import Markup

from odoo import fields
from odoo.addons.bus.models.bus import channel_with_db, json_dump
from odoo.exceptions import ValidationError
from odoo.tests import tagged

from ..tools import event_source
from .common import CLICK_LINK, SentEmailCase, smtp_server

APPLE_MPP = {"User-Agent": "Mozilla/5.0", "X-Forwarded-For": "17.58.63.12"}
GMAIL_PROXY = {"User-Agent": "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 "
                             "(via ggpht.com GoogleImageProxy)"}
CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
          "Chrome/126.0.0.0 Safari/537.36")


@tagged("post_install", "-at_install")
class TestHonestNumbers(SentEmailCase):
    """A1, A3: every open and click says who made it; only a person's count."""
    BODY = Markup(
        '<p>Our proposal</p><a href="https://shop.example/offer">offer</a> '
        '<a href="https://shop.example/terms">terms</a> <a href="https://shop.example/price">price</a>')

    def setUp(self):
        super().setUp()
        self.env["bus.bus"].sudo().search([]).unlink()

    def events(self, recipient=None):
        return (recipient or self.anna_tracking).sudo().event_ids.sorted("id")

    def author_notifications(self):
        self.env.cr.precommit.run()
        channel = json_dump(channel_with_db(self.env.cr.dbname, self.salesperson.partner_id))
        return self.env["bus.bus"].sudo().search([("channel", "=", channel)])

    def deliver_now(self):
        """The email was accepted by the SMTP server a moment ago."""
        self.env.cr.execute("UPDATE mail_tracked_recipient SET sent_date = now() at time zone 'utc' "
                            "WHERE message_id = %s", (self.message.id,))

    def test_a1_a3_a_script_at_delivery_counts_for_nothing(self):
        """The opening scenario: a script fetches the pixel and the link half a
        second after delivery with a browser User-Agent. Nothing turns green,
        nobody is notified, the rates stay at 0; the events are kept, with why."""
        self.deliver_now()
        self.open_pixel(headers={"User-Agent": CHROME})
        self.click_link(headers={"User-Agent": CHROME})
        self.assertEqual(self.anna_tracking.state, "sent")
        self.assertEqual((self.anna_tracking.open_rate, self.anna_tracking.click_rate), (0, 0))
        self.assertEqual((self.anna_tracking.open_count, self.anna_tracking.click_count), (0, 0))
        self.assertEqual(self.events().mapped("source"), ["scanner", "scanner"],
                         "the click unmasked the program: its open a moment before is its own too")
        self.assertFalse(any(self.events().mapped("is_counted")))
        self.assertIn("after delivery", self.events()[1].source_reason)
        # the open alone looked like a person's, and the author was told; the click unmasked
        # the program: no "clicked" notification, and the open's line is greyed in the feed
        self.assertEqual([json.loads(row.message)["payload"]["event"] for row in self.author_notifications()],
                         ["open"])
        feed = self.env["mail.tracked.engagement"].with_user(self.salesperson).search(
            [("recipient_id", "=", self.anna_tracking.id), ("kind", "!=", "sent")])
        self.assertEqual(feed.mapped("is_counted"), [False, False], "listed in the feed, greyed")
        self.assertEqual(self.salesperson._mail_tracking_feed_unread(), 0, "no person's activity to read")
        lead = self.lead.with_user(self.salesperson)
        self.assertEqual((lead.mail_tracked_open_rate, lead.mail_tracked_machine_rate), (0, 50),
                         "a machine touched one of the two copies")
        action = lead.action_view_mail_machine_emails()
        self.assertEqual(self.env["mail.tracked.recipient"].search(action["domain"] + [("machine_rate", "=", 100)]),
                         self.anna_tracking)

    def test_a1_a_person_counts_and_is_notified(self):
        self.open_pixel()
        self.click_link()
        self.assertEqual(self.anna_tracking.state, "clicked")
        self.assertEqual(self.events().mapped("source"), ["human", "human"])
        self.assertTrue(all(self.events().mapped("is_counted")))
        self.assertEqual(len(self.author_notifications()), 2)

    def test_a1_apple_privacy_proxy_opens_say_open_unknown(self):
        """Apple Mail Privacy Protection fetches the pixel whether or not anyone
        reads: the email is delivered, its open unknown."""
        self.open_pixel(headers=APPLE_MPP)
        self.assertEqual(self.anna_tracking.state, "sent")
        self.assertEqual(self.events().source, "privacy_proxy")
        self.assertEqual(self.events().source_detail, "Apple Mail Privacy Protection")
        [anna] = [line for line in self.message.with_user(self.salesperson)._mail_tracking_status()[self.message.id]
                  if line["id"] == self.anna_tracking.id]
        self.assertEqual(anna["open_unknown"], "Delivered to Apple Mail (open unknown)")
        self.assertEqual(anna["open_count"], 0)
        self.assertFalse(anna["opens"][0]["counted"])
        self.assertIn("Apple Mail Privacy Protection", anna["opens"][0]["reason"])

    def test_a1_machines_are_greyed_in_the_chatter_and_the_feed(self):
        """A1 in the browser, as the salesperson: Apple's proxy and a link preview
        leave the icons empty, the popover and the feed list them greyed, with why."""
        self.open_pixel(headers=APPLE_MPP)
        self.click_link(headers={"User-Agent": "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)"})
        self.start_tour(f"/odoo/crm/{self.lead.id}", "mail_tracking_ext_machine_events", login="mtx_sales")

    def test_a1_image_proxy_open_is_a_real_open(self):
        self.open_pixel(headers=GMAIL_PROXY)
        self.assertEqual(self.anna_tracking.state, "opened")
        self.assertEqual(self.events().source, "image_proxy")
        self.assertTrue(self.events().is_counted)

    def test_a3_every_link_at_once_is_a_scanner_and_statuses_follow(self):
        """A gateway follows every link of the copy within seconds: the first
        clicks looked like a person's (the state moved, the author was told);
        the third reveals the burst, and all of it is re-classified at once."""
        for index in range(2):
            self.click_link(index, headers={"User-Agent": CHROME})
        self.assertEqual(self.anna_tracking.state, "clicked")
        self.click_link(2, headers={"User-Agent": CHROME})
        self.anna_tracking.invalidate_recordset()
        self.assertEqual(self.anna_tracking.state, "sent", "back to what a person did: nothing")
        self.assertEqual((self.anna_tracking.open_rate, self.anna_tracking.click_rate), (0, 0))
        self.assertEqual(set(self.events().mapped("source")), {"scanner"}, "the inferred open too")
        self.assertEqual(self.events().filtered(lambda event: not event.is_inferred)[-1].source_rule, "burst")

    def test_a3_the_hidden_link_nobody_sees_unmasks_a_scanner(self):
        """Each tracked email carries one more link: not shown, not focusable,
        not read aloud, without text. Following it unmasks the network's
        earlier clicks on the email."""
        hidden = CLICK_LINK.findall(self.anna_body)[-1]
        anchor = self.anna_links[-1]
        self.assertEqual(len(self.anna_links), 4, "three links and the hidden one")
        for attribute in ('tabindex="-1"', 'aria-hidden="true"', "display:none", "></a>"):
            self.assertIn(attribute, self.anna_body[self.anna_body.index(anchor):])
        self.click_link(0, headers={"User-Agent": CHROME})
        self.assertEqual(self.anna_tracking.state, "clicked")
        response = self.click_link(3, headers={"User-Agent": CHROME})
        self.assertEqual((response.status_code, response.content), (200, b""), "a blank answer, no redirect")
        self.anna_tracking.invalidate_recordset()
        self.assertEqual(self.anna_tracking.state, "sent")
        self.assertEqual(set(self.events().mapped("source_rule")), {"honeypot"})
        self.assertEqual(hidden[0], self.anna_token)

    def test_a3_after_the_hidden_link_the_same_network_stays_a_program(self):
        """A scanner that follows the hidden link first: its next clicks on the
        copy are a program's too, however late after delivery."""
        self.click_link(3, headers={"User-Agent": CHROME})
        self.click_link(0, headers={"User-Agent": CHROME})
        self.assertEqual(self.anna_tracking.state, "sent")
        self.assertEqual(self.events().mapped("source_rule"), ["honeypot", "unmasked"])
        self.assertFalse(self.author_notifications())

    def test_a3_an_automatic_answer_is_no_reply(self):
        """An out-of-office answer to a tracked email neither marks it replied nor
        counts as an open (RFC 3834's Auto-Submitted)."""
        self.outgoing(self.message)
        reference = self.message.sudo().message_id
        for automatic in (True, False):
            headers = "Auto-Submitted: auto-replied\n" if automatic else ""
            self.env["mail.thread"].message_process("crm.lead", (
                f"From: Anna Customer <anna@customer.example>\nTo: sara@mycompany.example\n{headers}"
                f"Subject: Re: proposal\nMessage-ID: <answer{automatic}@customer.example>\n"
                f"In-Reply-To: {reference}\nReferences: {reference}\n\nThanks\n").encode())
            self.anna_tracking.invalidate_recordset()
            self.assertEqual(bool(self.anna_tracking.replied_date), not automatic)
            self.assertEqual(self.anna_tracking.state, "sent" if automatic else "opened")

    def test_a1_ipv4_mapped_addresses_match_their_networks(self):
        self.assertEqual(event_source.listed_source("click", "::ffff:40.107.1.1", CHROME).source, "scanner")

    def test_a3_a_person_clicking_soon_after_opening_counts(self):
        """A fast reader: opens at once, reads for ten seconds, clicks, all within
        half a minute of delivery."""
        self.deliver_now()
        self.open_pixel()
        self.env.cr.execute("""UPDATE mail_tracked_recipient SET first_open_date = first_open_date - interval '10 s'
                                WHERE id = %s""", self.anna_tracking.ids)
        self.click_link()
        self.assertEqual(self.anna_tracking.state, "clicked")
        self.assertEqual(self.events().mapped("source"), ["human", "human"])

    def test_a1_own_gateway_networks_from_settings(self):
        # the test server is not behind a proxy: its clients come from 127.0.0.1
        settings = self.env["res.config.settings"].create(
            {"mail_tracking_own_networks": "198.51.100.0/24 127.0.0.0/8"})
        settings.execute()
        self.open_pixel()
        self.assertEqual((self.events().source, self.events().source_rule), ("scanner", "own_network"))
        with self.assertRaises(ValidationError), self.env.cr.savepoint():
            self.env["res.config.settings"].create({"mail_tracking_own_networks": "not-a-network"})
        # typed elsewhere (System Parameters, an import): the routes go on, the bad value left out
        self.env["ir.config_parameter"].set_param("mail_tracking_ext.own_networks", "not-a-network 127.0.0.0/8")
        response = self.open_pixel()
        self.assertEqual(response.status_code, 200)
        self.assertEqual(self.events()[-1].source_rule, "own_network")

    def test_a1_catalog_matches_published_facts(self):
        listed = event_source.listed_source
        self.assertEqual(listed("open", "17.1.2.3", "Mozilla/5.0").source, "privacy_proxy")
        self.assertIsNone(listed("open", "17.1.2.3", "Mozilla/5.0 (Macintosh) AppleWebKit/605.1.15"))
        self.assertEqual(listed("click", "40.107.22.104", CHROME).detail,
                         "Microsoft Defender for Office 365 (Safe Links)")
        self.assertEqual(listed("click", "2001:db8::1", "Slackbot-LinkExpanding 1.0").source, "scanner")
        self.assertEqual(listed("open", None, "").rule, "no_agent")
        self.assertIsNone(listed("open", "not an address", CHROME))

    def test_a3_delivery_is_when_the_smtp_server_accepted_the_copy(self):
        """The time since delivery counts from the SMTP server's acceptance, not
        from when Odoo prepared the copy (a slow server in between). A stand-in
        for Odoo's SMTP layer plays a server that takes 1.5 s to accept."""
        message = self.post_email(self.anna, self.BODY)
        mail = self.env["mail.mail"].sudo().search([("mail_message_id", "=", message.id)])
        accepted = []

        def slow_smtp_server(_server, message, *_args, **_kwargs):
            time.sleep(1.5)
            accepted.append(fields.Datetime.now())
            return message["Message-Id"]

        with smtp_server(slow_smtp_server):
            mail.send(raise_exception=False)
        self.assertGreaterEqual(self.tracked(message).sent_date, accepted[0])
