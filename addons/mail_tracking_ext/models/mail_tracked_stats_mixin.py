from collections import defaultdict

from odoo import fields, models


class MailTrackedStatsMixin(models.AbstractModel):
    """Engagement statistics of the emails tracked for a record (N5), and the
    button that opens them. Records say which field of the tracked emails
    points at them with ``_mail_tracking_stats_field``."""
    _name = "mail.tracked.stats.mixin"
    _description = "Tracked Email Statistics"

    mail_tracked_count = fields.Integer("Tracked Email Count", compute="_compute_mail_tracking_stats")
    mail_tracked_open_rate = fields.Integer("Email Open Rate (%)", compute="_compute_mail_tracking_stats")
    mail_tracked_click_rate = fields.Integer("Email Click Rate (%)", compute="_compute_mail_tracking_stats")
    mail_tracked_last_open = fields.Datetime("Email Last Opened On", compute="_compute_mail_tracking_stats")

    def _mail_tracking_stats_field(self):
        raise NotImplementedError

    def _compute_mail_tracking_stats(self):
        records_by_field = defaultdict(list)
        for record in self.filtered("id"):
            records_by_field[record._mail_tracking_stats_field()].append(record.id)
        stats = {}
        for field_name, ids in records_by_field.items():
            stats.update(self.env["mail.tracked.recipient"]._engagement_stats(field_name, ids))
        for record in self:
            record_stats = stats.get(record.id, {})
            record.mail_tracked_count = record_stats.get("count", 0)
            record.mail_tracked_open_rate = record_stats.get("open_rate", 0)
            record.mail_tracked_click_rate = record_stats.get("click_rate", 0)
            record.mail_tracked_last_open = record_stats.get("last_open", False)

    def action_view_mail_tracked_emails(self):
        """The tracked emails behind these statistics, filtered by the button's
        ``mail_tracking_filter`` context key (opened, clicked)."""
        self.ensure_one()
        return self.env["mail.tracked.recipient"]._action_for_stats(
            [(self._mail_tracking_stats_field(), "=", self.id)], self.display_name)
