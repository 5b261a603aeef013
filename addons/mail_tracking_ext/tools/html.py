"""Rewriting an email body for tracking, without touching anything else.

The body is parsed with lxml (never with regular expressions); only the
``href`` of trackable links changes and the pixel is inserted once. A body
without a trackable link comes back as the very same string.
"""
import functools
import hashlib
import re
from urllib.parse import urlsplit

from lxml import etree
from lxml import html as lxml_html

# Paths of Odoo's own pages (actions, unfollow, unsubscribe, tracking) that
# must keep working exactly as Odoo generated them.
ODOO_OWN_PATH_PREFIXES = (
    "/mail/", "/web", "/odoo", "/unsubscribe", "/mailing/", "/email-tracking/",
)
NO_TRACK_ATTRIBUTE = "data-no-track"
# Odoo's HTML sanitizer keeps classes but drops unknown data-* attributes, so
# links in bodies written in Odoo (composers, chatter) are marked with a class.
NO_TRACK_CLASS = "o_no_track"
LINK_REF_LENGTH = 12

_PARSER = etree.HTMLParser()
# what may come before a document's <html>: a byte order mark, an XML declaration, comments and
# the doctype, all kept as they were written (T11)
_DOCUMENT_START = re.compile(
    r"^(\ufeff?\s*(?:<\?xml[^>]*>\s*)?(?:(?:<!--.*?-->|<!doctype[^>]*>)\s*)*)<html[\s>]",
    re.IGNORECASE | re.DOTALL)
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)


@functools.lru_cache(maxsize=4096)
def link_ref(url):
    """Short stable reference of ``url`` within one message (48 bits)."""
    return hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()[:LINK_REF_LENGTH]


def is_trackable(url, base_url):
    """Whether a link target may be replaced by a click redirect (T2)."""
    return _is_trackable(url, _netloc(base_url))


@functools.lru_cache(maxsize=64)
def _netloc(url):
    return urlsplit(url).netloc.lower()


@functools.lru_cache(maxsize=4096)
def _is_trackable(url, base_netloc):
    # a send batch meets the same links again and again (X2): decided once per worker
    if not url.lower().startswith(("http://", "https://")):
        return False  # mailto:, tel:, in-page anchors, relative links, scripts
    try:
        target = urlsplit(url)
    except ValueError:
        return False
    if target.netloc.lower() == base_netloc:
        return not target.path.startswith(ODOO_OWN_PATH_PREFIXES)
    return True


def is_marked_no_track(anchor):
    """Whether the author asked to leave the link ``anchor`` untracked (T2)."""
    return anchor.get(NO_TRACK_ATTRIBUTE) is not None or NO_TRACK_CLASS in (anchor.get("class") or "").split()


def rewrite_links(body, base_url, click_url):
    """Replace trackable link targets of ``body``.

    :param str body: HTML document or fragment
    :param str base_url: the Odoo base URL, to recognise Odoo's own pages
    :param click_url: callable ``(ref) -> href`` building the redirect URL
    :return: ``(new_body, {ref: original_url})``
    """
    if not body or "<a" not in body.lower():
        return body, {}
    document = _DOCUMENT_START.match(body)
    prologue = document.group(1) if document else ""
    try:
        # libxml2's HTML parser as lxml.html uses it, with plain elements: no Python per element (X2)
        root = etree.fromstring(body[len(prologue):] if document else f"<html><body>{body}</body></html>", _PARSER)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError):
        return body, {}
    if root is None:
        return body, {}

    links = {}
    base_netloc = _netloc(base_url)
    for anchor in root.iter("a"):
        url = (anchor.get("href") or "").strip()
        if url and _is_trackable(url, base_netloc) and not is_marked_no_track(anchor):
            ref = link_ref(url)
            links[ref] = url
            anchor.set("href", click_url(ref))
    if not links:
        return body, {}

    if document:
        new_body = prologue + lxml_html.tostring(root, encoding="unicode")
    else:
        # the fragment is what the parser put in <body>: serialise that, without the <body> tags
        container = root.find("body")
        if container is None:
            return body, {}
        new_body = etree.tostring(container, method="html", encoding="unicode", with_tail=False)
        new_body = new_body[len("<body>"):-len("</body>")]
    return new_body, links


def append_to_body(body, snippet):
    """Insert ``snippet`` at the end of the visible body (before ``</body>``)."""
    ends = list(_BODY_END.finditer(body))
    if ends:
        position = ends[-1].start()
        return body[:position] + snippet + body[position:]
    return body + snippet


def add_hidden_link(body, url):
    """Insert the link no person sees (A3): not shown, not reachable with a
    keyboard, not read by screen readers, and without any text, hidden or
    not. Only a program following every link of an email follows it."""
    return append_to_body(body, (
        f'<a href="{url}" tabindex="-1" aria-hidden="true" style="display:none;" {NO_TRACK_ATTRIBUTE}=""></a>'
    ))


def add_open_pixel(body, pixel_url):
    """Insert the invisible 1x1 open pixel at the end of the visible body."""
    return append_to_body(body, (
        f'<img src="{pixel_url}" alt="" width="1" height="1" '
        'style="display:block;border:0;width:1px;height:1px;" />'
    ))
