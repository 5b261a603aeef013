import base64
import csv
import io

import werkzeug.utils
from markupsafe import Markup
from werkzeug.exceptions import NotFound

from odoo import http
from odoo.http import request

# The smallest transparent 1x1 GIF.
PIXEL_GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_STORE = [("Cache-Control", "no-store, max-age=0"), ("Pragma", "no-cache")]


def _spreadsheet_safe(value):
    """Keep text from outside (user agents, URLs, subjects) from running as a
    spreadsheet formula when the export is opened."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


class MailTrackingController(http.Controller):
    """Public tracking routes: thin adapters over one model method each."""

    @http.route("/email-tracking/open/<path:token>.gif", type="http", auth="none",
                methods=["GET", "HEAD"], csrf=False, save_session=False, readonly=False)
    def open_pixel(self, token, **_kwargs):
        """Always the same GIF, whatever the token (T1, R3)."""
        if request.httprequest.method == "GET":
            request.env["mail.tracked.recipient"]._record_open(
                token, request.httprequest.remote_addr, request.httprequest.user_agent.string,
                session_uid=request.session.uid)
        return request.make_response(PIXEL_GIF, [("Content-Type", "image/gif"), *NO_STORE])

    @http.route("/email-tracking/click/<string:token>/<string:ref>", type="http", auth="none",
                methods=["GET", "HEAD"], csrf=False, save_session=False, readonly=False)
    def click(self, token, ref, **_kwargs):
        """Redirect to the stored original URL (T2, R2); for a link that leads
        nowhere any more (its email deleted), a page that says so in the
        visitor's language, with a 404 status."""
        url = request.env["mail.tracked.recipient"]._record_click(
            token, ref, request.httprequest.remote_addr, request.httprequest.user_agent.string,
            record=request.httprequest.method == "GET", session_uid=request.session.uid)
        if not url:
            return self._link_expired_page()
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

    @http.route("/email-tracking/optout/<string:token>", type="http", auth="public",
                methods=["GET", "POST"], website=False, sitemap=False, readonly=False)
    def optout(self, token, **_kwargs):
        """A recipient stops all tracking of their emails (P2). GET only asks:
        link scanners follow links, and must not opt anyone out."""
        partner = request.env["mail.tracked.recipient"]._optout_contact(token)
        if not partner:
            raise NotFound()
        request.update_context(lang=partner.lang or request.env.lang)
        done = request.httprequest.method == "POST"
        if done:
            partner.sudo()._mail_tracking_opt_out()
        return request.render("mail_tracking_ext.optout_page", {
            "done": done or partner.do_not_track,
            "token": token,
        })

    @http.route("/email-tracking/export/<int:partner_id>", type="http", auth="user", methods=["GET"])
    def export(self, partner_id, **_kwargs):
        """A contact's tracking data as CSV (P3)."""
        partner = request.env["res.partner"].browse(partner_id).exists()
        if not partner or not partner.has_access("read"):
            raise NotFound()
        output = io.StringIO()
        csv.writer(output).writerows(
            [[_spreadsheet_safe(cell) for cell in row] for row in partner._mail_tracking_export_rows()])
        return request.make_response(output.getvalue().encode(), [
            ("Content-Type", "text/csv; charset=utf-8"),
            ("Content-Disposition", http.content_disposition(f"email-tracking-{partner.id}.csv")),
        ])
