from odoo import models


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
