"""The tracking routes at the WSGI level, without Odoo: what a request of a
pixel or a link asks and what it is answered. The fast path in front of Odoo
(controllers/fast_path.py) and the standalone edge (tools/edge.py) both
answer with it; Odoo's own routes (controllers/tracking.py) answer the same.

Only well-formed requests are taken here; anything else (another method, a
malformed token, a link whose email is gone, a visitor logged in to Odoo) is
left to Odoo's routes, which refuse or explain it.
"""
import base64
import html
import re

from werkzeug.urls import iri_to_uri
from werkzeug.wrappers import Response

from .html import LINK_REF_LENGTH
from .token import MAX_TOKEN_LENGTH

# The smallest transparent 1x1 GIF.
PIXEL_GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
# with what Odoo adds to every response (and, to images, a Content-Security-Policy)
NO_STORE = [("Cache-Control", "no-store, max-age=0"), ("Pragma", "no-cache"), ("X-Content-Type-Options", "nosniff")]
PREFIX = "/email-tracking/"
_TOKEN = rf"[A-Za-z0-9_-]{{1,{MAX_TOKEN_LENGTH}}}"
OPEN_PATH = re.compile(rf"/email-tracking/open/({_TOKEN})\.gif")
CLICK_PATH = re.compile(rf"/email-tracking/click/({_TOKEN})/([0-9a-f]{{{LINK_REF_LENGTH}}})")
# Odoo's session cookie: the browser of someone logged in to Odoo (perhaps the email's author)
SESSION_COOKIE = re.compile(r"(?:^|;)\s*session_id=")


def tracking_request(environ):
    """``("open", token, None)`` or ``("click", token, ref)`` for a GET or HEAD
    request of a well-formed tracking URL; None for anything else."""
    if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
        return None
    path = environ.get("PATH_INFO") or ""
    if match := OPEN_PATH.fullmatch(path):
        return "open", match[1], None
    if match := CLICK_PATH.fullmatch(path):
        return "click", match[1], match[2]
    return None


def has_odoo_session(environ):
    return bool(SESSION_COOKIE.search(environ.get("HTTP_COOKIE") or ""))


def answer(recorder, kind, token, ref, environ, ip):
    """Record the request with ``recorder`` (tools/recorder.py) and return the
    response, a WSGI application; None for a link whose email has no such link any more (nothing
    was recorded: Odoo's route answers it, in the visitor's language)."""
    record = environ["REQUEST_METHOD"] == "GET"
    user_agent = environ.get("HTTP_USER_AGENT")
    if kind == "open":
        if record:
            recorder.record_open(token, ip, user_agent)
        return pixel()
    url = recorder.record_click(token, ref, ip, user_agent, record=record)
    if url is None:
        return None
    if not url:  # the hidden link: only programs follow it, they get nothing
        return Response(b"", headers=[("Content-Type", "text/plain"), *NO_STORE])
    return redirect(url)


PIXEL_HEADERS = (("Content-Type", "image/gif"), ("Content-Length", str(len(PIXEL_GIF))), *NO_STORE,
                 ("Content-Security-Policy", "default-src 'none'"))


def pixel():
    """The GIF, as a WSGI application: the answer to most requests, made
    without a Response object."""
    def respond(environ, start_response):
        start_response("200 OK", list(PIXEL_HEADERS))
        return [] if environ.get("REQUEST_METHOD") == "HEAD" else [PIXEL_GIF]
    return respond


def redirect(url):
    """werkzeug's redirect (the Location encoded as werkzeug encodes it, its
    page), as a WSGI application made without a Response object."""
    location = iri_to_uri(url, safe_conversion=True)
    body = (
        "<!doctype html>\n<html lang=en>\n<title>Redirecting...</title>\n<h1>Redirecting...</h1>\n"
        f'<p>You should be redirected automatically to the target URL: <a href="{html.escape(location)}">'
        f"{html.escape(url)}</a>. If not, click the link.\n").encode()
    headers = [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body))),
               ("Location", location), *NO_STORE]

    def respond(environ, start_response):
        start_response("302 FOUND", headers)
        return [] if environ.get("REQUEST_METHOD") == "HEAD" else [body]
    return respond
