from lxml import html as lxml_html

from odoo.tests import TransactionCase, tagged

from ..tools import add_open_pixel, message_id_of, message_key, new_token, rewrite_links, token_digest, truncate_ip
from ..tools.forwarded_email import conversation_topic
from ..tools.html import is_trackable

BASE = "https://crm.mycompany.example"


def click_url(ref):
    return f"{BASE}/email-tracking/click/TOKEN/{ref}"


@tagged("post_install", "-at_install")
class TestLinkRewriting(TransactionCase):

    def test_t2_only_http_links_outside_odoo_pages_are_rewritten(self):
        """T2: mailto, tel, anchors, Odoo's own pages and links marked data-no-track
        or, in bodies written in Odoo, with the class o_no_track stay."""
        kept = [
            "mailto:anna@customer.example", "tel:+390212345", "#pricing", "/relative/page",
            f"{BASE}/mail/unfollow?token=x", f"{BASE}/odoo/action-12", f"{BASE}/web#id=3",
            f"{BASE}/unsubscribe_from_list", "javascript:alert(1)", "ftp://files.example/x",
        ]
        body = "".join(f'<a href="{url}">x</a>' for url in kept)
        body += '<a data-no-track="" href="https://private.example/">secret</a>'
        body += '<a class="btn o_no_track" href="https://private.example/pay">pay</a>'
        self.assertEqual(rewrite_links(body, BASE, click_url), (body, {}))
        self.assertTrue(is_trackable(f"{BASE}/my/orders/7?access_token=abc", BASE),
                        "portal pages of the same server are ordinary links")

    def test_t2_t11_rewriting_keeps_text_layout_and_exact_url(self):
        url = "https://shop.example/caffè?q=a%20b&x=1#top"
        body = ('<table style="width:100%"><tr><td><p>Ciao <b>Anna</b>,</p>'
                f'<a href="{url.replace("&", "&amp;")}" style="color:red">offerta</a>'
                '<a href="https://other.example/">altro</a></td></tr></table>')
        new_body, links = rewrite_links(body, BASE, click_url)
        self.assertEqual(sorted(links.values()), sorted([url, "https://other.example/"]))
        before, after = lxml_html.fragment_fromstring(body, create_parent="div"), \
            lxml_html.fragment_fromstring(new_body, create_parent="div")
        self.assertEqual(before.text_content(), after.text_content())
        self.assertEqual(len({a.get("href") for a in after.iter("a")}), 2)
        for node in (before, after):
            for anchor in node.iter("a"):
                anchor.attrib.pop("href")
        self.assertEqual(lxml_html.tostring(before), lxml_html.tostring(after),
                         "only href attributes may change")

    def test_t9_empty_or_linkless_body_is_returned_untouched(self):
        for body in ("", "<p>No links here</p>", "<p>a &lt; b &amp; c</p>"):
            self.assertIs(rewrite_links(body, BASE, click_url)[0], body)

    def test_full_document_keeps_doctype_and_pixel_goes_in_body(self):
        body = ('<!DOCTYPE html><html><head><title>t</title></head>'
                '<body><a href="https://a.example/">a</a></body></html>')
        new_body = add_open_pixel(rewrite_links(body, BASE, click_url)[0], f"{BASE}/p.gif")
        self.assertTrue(new_body.startswith("<!DOCTYPE html>"))
        self.assertRegex(new_body, r'<img src="[^"]+/p\.gif"[^>]*></body></html>$')

    def test_t11_what_comes_before_a_documents_html_is_kept_as_written(self):
        """A byte order mark, an XML declaration, comments and the doctype before <html>
        (as some email editors write them) leave as they came; the document's <head> stays."""
        prologues = [
            "\ufeff<!DOCTYPE html>",
            '<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" '
            '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n',
            "<!-- saved by an editor -->\n<!doctype html>\n<!--[if mso]><x><![endif]-->\n",
        ]
        for prologue in prologues:
            body = (f'{prologue}<html lang="it"><head><style>p {{color: red}}</style></head>'
                    '<body><p>Ciao</p><a href="https://a.example/">a</a></body></html>')
            new_body, links = rewrite_links(body, BASE, click_url)
            self.assertEqual(list(links.values()), ["https://a.example/"], prologue)
            self.assertTrue(new_body.startswith(prologue + '<html lang="it"><head><style>'), new_body[:120])
            self.assertNotIn("https://a.example/", new_body)

    def test_r1_tokens_are_random_128_bits_and_only_digests_are_stored(self):
        tokens = {new_token() for _i in range(1000)}
        self.assertEqual(len(tokens), 1000)
        self.assertTrue(all(len(token) == 22 for token in tokens), "16 random bytes, base64url")
        token = tokens.pop()
        self.assertEqual(len(token_digest(token)), 64)
        self.assertNotIn(token, token_digest(token))
        self.assertIsNone(token_digest("x" * 65))
        self.assertIsNone(token_digest(""))

    def test_r1_t2_the_email_key_names_its_email_only_with_the_database_secret(self):
        """The first half of a token names its email (so that a link outlives the
        copy's tracking) without showing or letting anyone forge the email's id."""
        secret = "0f1e2d3c-secret"
        key = message_key(4242, secret)
        token = new_token(key)
        self.assertEqual((len(key), len(token)), (22, 44))
        self.assertEqual(message_id_of(token, secret), 4242)
        self.assertNotIn("4242", key)
        self.assertNotEqual(message_key(4243, secret)[:8], key[:8], "consecutive ids look unrelated")
        self.assertIsNone(message_id_of(token, "another database"), "another secret names nothing")
        forged = [token[:5] + ("A" if token[5] != "A" else "B") + token[6:], token[:43], token + "A",
                  "é" * 44, "%" * 44, "=" * 44, new_token() + new_token()]
        for bad in forged:
            self.assertIsNone(message_id_of(bad, secret), bad)

    def test_p3_ip_addresses_are_truncated(self):
        self.assertEqual(truncate_ip("203.0.113.77"), "203.0.113.0")
        self.assertEqual(truncate_ip("2001:db8:85a3:8d3:1319:8a2e:370:7348"), "2001:db8:85a3::")
        self.assertEqual(truncate_ip("::ffff:198.51.100.9"), "198.51.100.0")
        self.assertIsNone(truncate_ip("not-an-ip"))
        self.assertIsNone(truncate_ip(None))

    def test_l8_conversation_topic_sets_reply_and_forward_prefixes_aside(self):
        for subject in ("Offerta caffè", "Re: Offerta caffè", "R: I: Offerta  caffè", "RE: Fwd: offerta caffè",
                        "AW: WG: Offerta caffè "):
            self.assertEqual(conversation_topic(subject), "offerta caffè", subject)
        self.assertEqual(conversation_topic("Re: Offerta tè"), "offerta tè")
        self.assertEqual(conversation_topic("Reply needed"), "reply needed", "only prefixes with a colon")
        self.assertEqual(conversation_topic(False), "")
