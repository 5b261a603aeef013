from odoo import models


class CrmLead(models.Model):
    _name = "crm.lead"
    _inherit = ["crm.lead", "mail.tracked.stats.mixin"]

    def _mail_tracking_stats_field(self):
        """Statistics of the emails sent from this lead (N5)."""
        return "lead_id"
