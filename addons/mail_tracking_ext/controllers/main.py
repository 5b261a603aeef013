import base64

import werkzeug.utils
from werkzeug.exceptions import NotFound

from odoo import http
from odoo.http import request

# The smallest transparent 1x1 GIF.
PIXEL_GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_STORE = [("Cache-Control", "no-store, max-age=0"), ("Pragma", "no-cache")]


class MailTrackingController(http.Controller):
    """Public tracking routes: thin adapters over one model method each."""

    @http.route("/email-tracking/open/<path:token>.gif", type="http", auth="none",
                methods=["GET", "HEAD"], csrf=False, save_session=False, readonly=False)
    def open_pixel(self, token, **_kwargs):
        """Always the same GIF, whatever the token (T1, R3)."""
        if request.httprequest.method == "GET":
            request.env["mail.tracked.recipient"]._record_open(
                token, request.httprequest.remote_addr, request.httprequest.user_agent.string)
        return request.make_response(PIXEL_GIF, [("Content-Type", "image/gif"), *NO_STORE])

    @http.route("/email-tracking/click/<string:token>/<string:ref>", type="http", auth="none",
                methods=["GET", "HEAD"], csrf=False, save_session=False, readonly=False)
    def click(self, token, ref, **_kwargs):
        """Redirect to the stored original URL, or 404 (T2, R2)."""
        url = request.env["mail.tracked.recipient"]._record_click(
            token, ref, request.httprequest.remote_addr, request.httprequest.user_agent.string,
            record=request.httprequest.method == "GET")
        if not url:
            raise NotFound()
        # not request.redirect(): website would rewrite the target
        response = werkzeug.utils.redirect(url, code=302, Response=http.Response)
        response.headers.extend(NO_STORE)
        return response
