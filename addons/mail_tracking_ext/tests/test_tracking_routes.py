from markupsafe import Markup

from odoo.tests import tagged

from ..controllers.tracking import PIXEL_GIF
from .common import SentEmailCase

TRICKY_URL = "https://shop.example/caffè/ordine?q=a%20b&lang=it#dettagli"
BODY = Markup(
    '<p>Buongiorno,</p>'
    '<a href="https://shop.example/first">first</a> '
    f'<a href="{TRICKY_URL.replace("&", "&amp;")}">second</a>'
)


@tagged("post_install", "-at_install")
class TestTrackingRoutes(SentEmailCase):
    BODY = BODY

    def events(self):
        return self.env["mail.tracked.event"].sudo().search([("recipient_id.message_id", "=", self.message.id)])

    def assert_pixel(self, response):
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.content, PIXEL_GIF)
        self.assertEqual(response.headers["Content-Type"], "image/gif")
        self.assertIn("no-store", response.headers["Cache-Control"])

    def test_t1_t6_open_is_recorded_for_that_recipient_only(self):
        response = self.url_open(f"/email-tracking/open/{self.anna_token}.gif",
                                 headers={"User-Agent": "Thunderbird/128", "X-Forwarded-For": "1.2.3.4"})
        self.assert_pixel(response)
        self.open_pixel()
        self.assertEqual(self.anna_tracking.state, "opened")
        self.assertEqual(self.anna_tracking.open_count, 2)
        self.assertTrue(self.anna_tracking.first_open_date)
        self.assertEqual(self.bruno_tracking.state, "sent")
        self.assertEqual(self.bruno_tracking.open_count, 0)
        event = self.anna_tracking.event_ids[-1]
        self.assertEqual(event.user_agent, "Thunderbird/128")
        self.assertTrue(event.ip.endswith(".0") or event.ip.endswith("::"), "P3: truncated IP")

    def test_t2_t6_t8_click_redirects_to_exact_url_and_infers_open(self):
        href = self.anna_links[1].split('"')[1]
        path = href[href.index("/email-tracking/"):]
        response = self.url_open(path, allow_redirects=False)
        self.assertEqual(response.status_code, 302)
        # Odoo's sanitizer percent-encodes the path of the posted body: that is the URL the email had
        encoded_url = "https://shop.example/caff%C3%A8/ordine?q=a%20b&lang=it#dettagli"
        self.assertEqual(response.headers["Location"], encoded_url)
        self.assertIn("no-store", response.headers["Cache-Control"])
        self.assertEqual(self.anna_tracking.state, "clicked")
        self.assertEqual(self.anna_tracking.click_count, 1)
        opens = self.anna_tracking.event_ids.filtered(lambda e: e.event_type == "open")
        self.assertEqual(len(opens), 1)
        self.assertTrue(opens.is_inferred, "T8: the click implies an open")
        self.assertEqual(self.anna_tracking.event_ids.filtered("url").url, encoded_url)
        # a later real open does not add another inferred one and keeps "clicked"
        self.open_pixel()
        self.assertEqual(self.anna_tracking.state, "clicked")
        self.assertEqual(self.anna_tracking.open_count, 2)
        self.assertEqual(self.bruno_tracking.event_ids.ids, [])

    def test_t6_status_per_message_and_recipient(self):
        self.open_pixel()
        status = self.message._mail_tracking_status()[self.message.id]
        by_email = {line["email"]: line for line in status}
        self.assertEqual(by_email["anna@customer.example"]["state"], "opened")
        self.assertEqual(by_email["anna@customer.example"]["open_count"], 1)
        self.assertEqual(by_email["bruno@buyer.example"]["state"], "sent")
        self.assertFalse(by_email["bruno@buyer.example"]["anonymous"])

    def test_r1_r3_bad_tokens_get_the_gif_and_write_nothing(self):
        token = self.anna_token
        hostile = [
            token[:-1], token[:-1] + ("A" if token[-1] != "A" else "B"), token.upper(), "x" * 5000,
            "%00", "..%2F..%2Fetc%2Fpasswd", "' OR '1'='1", "%C3%28%A0%A1", "%FF%FE", str(self.anna_tracking.id),
        ]
        for bad in hostile:
            with self.subTest(token=bad):
                self.assert_pixel(self.url_open(f"/email-tracking/open/{bad}.gif"))
        response = self.url_open(f"/email-tracking/open/{token}.gif", head=True)
        self.assertEqual(response.status_code, 200)
        self.assertFalse(self.events(), "nothing recorded for invalid tokens or HEAD requests")
        self.assertEqual(self.anna_tracking.state, "sent")

    def test_r2_r3_bad_click_requests_get_404_and_never_redirect(self):
        href = self.anna_links[0].split('"')[1]
        ref = href.rsplit("/", 1)[1]
        other = self.post_email(self.bruno, Markup('<a href="https://evil-not.example/">x</a>'))
        self.outgoing(other)
        [other_ref] = [ref for ref, url in other.sudo().tracked_links.items() if url]  # not the hidden one
        hostile = [
            f"/email-tracking/click/{self.anna_token[:-2]}/{ref}",
            f"/email-tracking/click/{self.anna_token}/{ref[:-1]}",
            f"/email-tracking/click/{self.anna_token}/{other_ref}",  # link of another message
            f"/email-tracking/click/{self.anna_token}/{ref}x?url=https://evil.example/",
            f"/email-tracking/click/nope/{ref}?redirect=https://evil.example/&url=//evil.example",
            f"/email-tracking/click/{'%FF' * 40}/{'%00'}",
            f"/email-tracking/click/{'A' * 3000}/{ref}",
        ]
        for path in hostile:
            with self.subTest(path=path):
                response = self.url_open(path, allow_redirects=False)
                self.assertEqual(response.status_code, 404)
                self.assertNotIn("evil", response.headers.get("Location", ""))
        response = self.url_open(f"/email-tracking/click/{self.anna_token}/{ref}?url=https://evil.example/",
                                 allow_redirects=False)
        self.assertEqual(response.headers["Location"], "https://shop.example/first",
                         "R2: query parameters never choose the target")
        self.assertEqual(len(self.events().filtered(lambda e: e.event_type == "click")), 1)
        response = self.url_open(f"/email-tracking/click/{self.anna_token}/{ref}", head=True,
                                 allow_redirects=False)
        self.assertEqual(response.status_code, 302)
        self.assertEqual(len(self.events().filtered(lambda e: e.event_type == "click")), 1,
                         "HEAD requests are not clicks")

    def test_t2_r2_link_still_leads_to_its_target_once_the_tracking_is_gone(self):
        """T2: a link in a delivered email keeps working when the copy's tracking
        was deleted (contact erased, retention): the email's key in the token names
        the email, whose links give the target; nothing is recorded. A forged key,
        or a link of another email, leads nowhere (R2)."""
        path = self.anna_links[1].split('"')[1]
        path = path[path.index("/email-tracking/"):]
        self.anna_tracking.sudo().unlink()
        response = self.url_open(path, allow_redirects=False)
        self.assertEqual(response.status_code, 302)
        self.assertEqual(response.headers["Location"],
                         "https://shop.example/caff%C3%A8/ordine?q=a%20b&lang=it#dettagli")
        self.assertFalse(self.events())
        token, ref = path.split("/")[-2:]
        other = self.post_email(self.bruno, Markup('<a href="https://other-email.example/">x</a>'))
        other_token = self.token_of(self.outgoing(other)["bruno@buyer.example"]["body"])
        [other_ref] = [ref for ref, url in other.sudo().tracked_links.items() if url]  # not the hidden one
        for forged in (f"{token[:21]}B{token[22:]}", f"{token[:22]}/{ref}", f"{other_token[:22]}{token[22:]}"):
            with self.subTest(forged=forged):
                response = self.url_open(f"/email-tracking/click/{forged}/{ref}", allow_redirects=False)
                self.assertEqual(response.status_code, 404)
        response = self.url_open(f"/email-tracking/click/{token}/{other_ref}", allow_redirects=False)
        self.assertEqual(response.status_code, 404, "only the links of the email the key names")

    def test_t2_link_of_a_deleted_email_says_it_expired_in_the_visitor_language(self):
        """T2: when the email itself was deleted, the link leads nowhere: a page says
        so in the visitor's language, never a bare error page."""
        self.env["res.lang"]._activate_lang("it_IT")
        self.env["ir.module.module"]._load_module_terms(["mail_tracking_ext"], ["it_IT"], overwrite=True)
        path = self.anna_links[0].split('"')[1]
        path = path[path.index("/email-tracking/"):]
        self.message.sudo().unlink()
        for language, words in (("it-IT,it;q=0.9", "scaduto"), ("en-US,en;q=0.8", "This link has expired")):
            with self.subTest(language=language):
                response = self.url_open(path, allow_redirects=False, headers={"Accept-Language": language})
                self.assertEqual(response.status_code, 404)
                self.assertIn("text/html", response.headers["Content-Type"])
                self.assertIn(words, response.text)
                self.assertTrue(response.text.startswith("<!DOCTYPE html>"), "a page, not escaped text")
                self.assertNotIn("Location", response.headers)

    def test_r3_wrong_methods_are_refused_without_error(self):
        for path in (f"/email-tracking/open/{self.anna_token}.gif",
                     f"/email-tracking/click/{self.anna_token}/abc"):
            response = self.opener.post(self.base_url() + path, data={"x": "y"}, timeout=10)
            self.assertEqual(response.status_code, 405)
        self.assertFalse(self.events())

    def test_t3_tracking_switched_off_after_the_fact_records_nothing(self):
        """Only emails sent with tracking on are tracked: forging a pixel URL out
        of a click token of an email without open tracking records nothing."""
        message = self.post_email(self.anna, BODY, track_opens=False)
        token = self.token_of(self.outgoing(message)["anna@customer.example"]["body"])
        self.url_open(f"/email-tracking/open/{token}.gif")
        self.assertFalse(self.tracked(message).event_ids)
