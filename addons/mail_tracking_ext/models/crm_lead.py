from odoo import fields, models


class CrmLead(models.Model):
    _inherit = "crm.lead"

    # Engagement statistics of the emails sent from this lead (N5)
    mail_tracked_count = fields.Integer("Tracked Email Count", compute="_compute_mail_tracking_stats")
    mail_tracked_open_rate = fields.Integer("Email Open Rate (%)", compute="_compute_mail_tracking_stats")
    mail_tracked_click_rate = fields.Integer("Email Click Rate (%)", compute="_compute_mail_tracking_stats")
    mail_tracked_last_open = fields.Datetime("Email Last Opened On", compute="_compute_mail_tracking_stats")

    def _compute_mail_tracking_stats(self):
        stats = self.env["mail.tracked.recipient"]._engagement_stats("lead_id", self.filtered("id").ids)
        for lead in self:
            lead_stats = stats.get(lead.id, {})
            lead.mail_tracked_count = lead_stats.get("count", 0)
            lead.mail_tracked_open_rate = lead_stats.get("open_rate", 0)
            lead.mail_tracked_click_rate = lead_stats.get("click_rate", 0)
            lead.mail_tracked_last_open = lead_stats.get("last_open", False)

    def action_view_mail_tracked_emails(self):
        """The tracked emails behind these statistics, filtered by the button's
        ``mail_tracking_filter`` context key (opened, clicked)."""
        self.ensure_one()
        return self.env["mail.tracked.recipient"]._action_for_stats([("lead_id", "=", self.id)], self.display_name)
