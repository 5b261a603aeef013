import csv
import io

from werkzeug.exceptions import NotFound

from odoo import http
from odoo.http import request


def _spreadsheet_safe(value):
    """Keep text from outside (user agents, URLs, subjects) from running as a
    spreadsheet formula when the export is opened."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


class MailTrackingPrivacyController(http.Controller):
    """What the privacy rules give people: a recipient stops being tracked (P2),
    a contact's tracking data is exported (P3)."""

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
