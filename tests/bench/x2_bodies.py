"""Deterministic, realistic email HTML for the X2 benchmarks (no Odoo import).

``email_html(target_bytes, n_links, document=...)`` returns an email body of
about ``target_bytes`` UTF-8 bytes carrying exactly ``n_links`` distinct
trackable http(s) links, plus three anchors the addon must leave alone
(``mailto:``, ``tel:``, an in-page anchor):

* ``document=True``: a full newsletter document (doctype, ``<head>`` with a
  style sheet, nested layout tables, inline styles), as sent by mass mailing
  or a notification layout;
* ``document=False``: a fragment as written in the chatter composer
  (paragraphs and lists, light inline styles).

Text mixes ASCII with accented Latin, Greek, CJK, emoji and entities.
"""

import random

WORDS = (
    "Angebot Grüße für Sie naïve café crème brûlée Übersicht Straße résumé façade "
    "Ελληνικά καλημέρα 日本語 東京 ありがとう 🚀 ✓ € 100 % déjà vu señor niño "
    "the quick brown fox jumps over lazy dog order invoice delivery account "
    "quarterly report meeting agenda product catalogue spring summer autumn winter "
    "&amp; &nbsp; &laquo;Zitat&raquo;"
).split()

TRACKABLE_HOSTS = ("https://shop.example.com", "http://www.example.org", "https://blog.example.net")

NON_TRACKABLE = (
    '<a href="mailto:info@example.com?subject=Fr%C3%BChling">info@example.com</a>',
    '<a href="tel:+4930123456">+49 30 123456</a>',
    '<a href="#top">↑ nach oben</a>',
)


def _text(rng, n_bytes):
    """About ``n_bytes`` UTF-8 bytes of words (never cuts inside a word or entity)."""
    out, size = [], 0
    while size < n_bytes:
        word = rng.choice(WORDS)
        out.append(word)
        size += len(word.encode()) + 1
    return " ".join(out)


def link_url(i, short=False):
    host = TRACKABLE_HOSTS[i % len(TRACKABLE_HOSTS)]
    return f"{host}/p/{i}" if short else f"{host}/p/{i}?utm_source=mail&amp;utm_campaign=x2"


def _section(i, filler, document):
    url = link_url(i, short=not document)
    label = f"Produkt {i} – Größe M" if document else f"Artikel {i}"
    if document:
        return (
            '<tr><td class="content" style="padding:12px 24px;font-family:Arial,Helvetica,sans-serif;'
            'font-size:14px;line-height:1.5;color:#333333;">'
            f'<p style="margin:0 0 8px 0;">{filler} '
            f'<a href="{url}" target="_blank" style="color:#0a58ca;text-decoration:underline;">{label}</a></p>'
            "</td></tr>\n"
        )
    return f'<p>{filler} <a href="{url}">{label}</a></p>\n'


def _frame(document):
    """(head, tail) of the body around the sections."""
    extras = " · ".join(NON_TRACKABLE)
    if document:
        head = (
            '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" '
            '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
            '<html xmlns="http://www.w3.org/1999/xhtml" lang="de"><head>'
            '<meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />'
            '<meta name="viewport" content="width=device-width, initial-scale=1.0" />'
            "<title>Herbst-Newsletter – Grüße aus Köln</title>"
            "<style type=\"text/css\">body{margin:0;padding:0;}table{border-collapse:collapse;}"
            "@media only screen and (max-width:620px){.container{width:100%!important;}"
            ".content{padding:8px!important;}}</style></head>\n"
            '<body style="margin:0;padding:0;background-color:#f4f4f4;">'
            '<a name="top"></a>'
            '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" '
            'style="background-color:#f4f4f4;"><tr><td align="center">\n'
            '<table role="presentation" class="container" width="600" cellpadding="0" cellspacing="0" '
            'border="0" style="background-color:#ffffff;margin:0 auto;">\n'
            '<tr><td style="padding:24px;font-family:Georgia,serif;font-size:22px;color:#222222;">'
            "<h1 style=\"margin:0;font-size:22px;\">Hallo Zoë, ça va? 🍂</h1></td></tr>\n"
        )
        tail = (
            '<tr><td style="padding:24px;font-family:Arial,sans-serif;font-size:12px;color:#888888;">'
            f"<p style=\"margin:0;\">Kontakt: {extras}</p>"
            "<p style=\"margin:8px 0 0 0;\">© 2024 Example GmbH · Musterstraße 1 · 50667 Köln</p>"
            "</td></tr>\n</table>\n</td></tr></table></body></html>"
        )
    else:
        head = '<div style="font-family:Arial,sans-serif;font-size:14px;"><p>Hallo Zoë,</p>\n'
        tail = f"<p>Kontakt: {extras}</p><p>Viele Grüße<br/>Jürgen</p></div>"
    return head, tail


def email_html(target_bytes, n_links, document=True, seed=2):
    """Email HTML of about ``target_bytes`` UTF-8 bytes with ``n_links`` trackable links."""
    rng = random.Random(seed)
    head, tail = _frame(document)
    skeleton = len((head + tail).encode()) + sum(
        len(_section(i, "", document).encode()) for i in range(n_links))
    per_section = max(0, (target_bytes - skeleton) // max(n_links, 1))
    body = head + "".join(
        _section(i, _text(rng, per_section), document) for i in range(n_links)) + tail
    return body


def describe(body):
    return f"{len(body.encode()) / 1024:.1f} KiB UTF-8, {body.count('<a ')} anchors"


if __name__ == "__main__":
    for target, links, doc in ((100 * 1024, 100, True), (10 * 1024, 100, False)):
        print(target, links, doc, describe(email_html(target, links, doc)))
