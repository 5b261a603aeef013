from odoo import models


class IrHttp(models.AbstractModel):
    _inherit = "ir.http"

    def session_info(self):
        """Give the web client the defaults of the composer's switches (T3, T4, L1)."""
        result = super().session_info()
        if self.env.user._is_internal():
            result["mail_tracking"] = {
                "allowed": self.env.company.mail_tracking_allowed,
                **self.env["res.users"]._mail_tracking_defaults(),
                "log_email": self.env["res.users"]._mail_log_default(),
            }
        return result
