from odoo import models


class IrHttp(models.AbstractModel):
    _inherit = "ir.http"

    def session_info(self):
        """Give the web client the tracking switches' defaults (T3, T4)."""
        result = super().session_info()
        if self.env.user._is_internal():
            result["mail_tracking"] = {
                "allowed": self.env.company.mail_tracking_allowed,
                **self.env["res.users"]._mail_tracking_defaults(),
            }
        return result
