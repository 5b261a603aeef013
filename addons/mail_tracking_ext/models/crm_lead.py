from odoo import models


class CrmLead(models.Model):
    _name = "crm.lead"
    _inherit = ["crm.lead", "mail.tracked.stats.mixin"]

    def _mail_tracking_stats_field(self):
        """Statistics of the emails sent from this lead (N5)."""
        return "lead_id"

    def _merge_dependences_history(self, opportunities):
        """Merged opportunities' logged emails follow their messages (L2)."""
        result = super()._merge_dependences_history(opportunities)
        self.env["mail.message.association"]._move_records(opportunities, self)
        return result
