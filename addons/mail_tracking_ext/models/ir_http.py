from odoo import models
from odoo.http import request

from .mail_tracking_api import API_PREFIX


class IrHttp(models.AbstractModel):
    _inherit = "ir.http"

    def session_info(self):
        """Give the web client the defaults of the composer's switches (T3, T4, L1)."""
        result = super().session_info()
        if self.env.user._is_internal():
            company = self.env["res.company"]._mail_rules_company()
            result["mail_tracking"] = {
                "allowed": company.mail_tracking_allowed,
                **self.env.user._mail_switches_in_force(company),
            }
        return result

    @classmethod
    def _handle_error(cls, exception):
        """The Gmail extension's API answers every error as JSON
        (docs/gmail-api.md), those of Odoo's authentication included."""
        if request and request.httprequest.path.startswith(API_PREFIX):
            status, error, headers = request.env["mail.tracking.api"]._error_answer(exception)
            return request.make_json_response(
                error, status=status, headers=[*headers.items(), ("Cache-Control", "no-store")])
        return super()._handle_error(exception)
