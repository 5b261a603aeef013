import werkzeug.utils
from markupsafe import Markup

from odoo import http
from odoo.http import request

from ..tools.tracking_http import NO_STORE, PIXEL_GIF


class MailTrackingController(http.Controller):
    """The routes a tracked email's pixel and links lead to: thin adapters over
    the recorder, through ``mail.tracked.event`` (models/mail_tracked_event.py).
    Most requests are answered before they reach these routes, by the fast
    path (controllers/fast_path.py); these take what it leaves."""

    @http.route("/email-tracking/open/<path:token>.gif", type="http", auth="none",
                methods=["GET", "HEAD"], csrf=False, save_session=False, readonly=False)
    def open_pixel(self, token, **_kwargs):
        """Always the same GIF, whatever the token (T1, R3). The client's address
        is Odoo's: the proxy's X-Forwarded-For in proxy mode (A1)."""
        if request.httprequest.method == "GET":
            request.env["mail.tracked.event"]._record_open(
                token, request.httprequest.remote_addr, request.httprequest.user_agent.string,
                session_uid=request.session.uid)
        return request.make_response(PIXEL_GIF, [("Content-Type", "image/gif"), *NO_STORE])

    @http.route("/email-tracking/click/<string:token>/<string:ref>", type="http", auth="none",
                methods=["GET", "HEAD"], csrf=False, save_session=False, readonly=False)
    def click(self, token, ref, **_kwargs):
        """Redirect to the stored original URL (T2, R2); for a link that leads
        nowhere any more (its email deleted), a page that says so in the
        visitor's language, with a 404 status."""
        url = request.env["mail.tracked.event"]._record_click(
            token, ref, request.httprequest.remote_addr, request.httprequest.user_agent.string,
            record=request.httprequest.method == "GET", session_uid=request.session.uid)
        if url is None:
            return self._link_expired_page()
        if not url:  # the hidden link: only programs follow it, they get nothing
            return request.make_response(b"", [("Content-Type", "text/plain"), *NO_STORE])
        # not request.redirect(): website would rewrite the target
        response = werkzeug.utils.redirect(url, code=302, Response=http.Response)
        response.headers.extend(NO_STORE)
        return response

    def _link_expired_page(self):
        lang = request.best_lang and request.env["res.lang"].sudo()._get_code(request.best_lang)
        lang = lang or "en_US"
        page = Markup("<!DOCTYPE html>\n") + request.env["ir.qweb"].sudo().with_context(lang=lang)._render(
            "mail_tracking_ext.link_expired_page", {"html_lang": lang.replace("_", "-")})
        return request.make_response(page, [("Content-Type", "text/html; charset=utf-8"), *NO_STORE], status=404)
