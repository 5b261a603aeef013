from collections import defaultdict

from odoo import api, fields, models
from odoo.tools import SQL


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
    mail_tracked_machine_rate = fields.Integer(
        "Email Machine Activity (%)", compute="_compute_mail_tracking_stats",
        help="Share of the tracked emails that a privacy proxy or a scanner touched: their opens and clicks "
             "count for nothing.")

    def _mail_tracking_stats_field(self):
        raise NotImplementedError

    # each user counts the emails they may see in their companies (P4): no cache shared between them
    @api.depends_context("uid", "allowed_company_ids")
    def _compute_mail_tracking_stats(self):
        records_by_field = defaultdict(list)
        for record in self.filtered("id"):
            records_by_field[record._mail_tracking_stats_field()].append(record.id)
        stats = {}
        for field_name, ids in records_by_field.items():
            stats.update(self._mail_tracking_stats(field_name, ids))
        for record in self:
            record_stats = stats.get(record.id, {})
            record.mail_tracked_count = record_stats.get("count", 0)
            record.mail_tracked_open_rate = record_stats.get("open_rate", 0)
            record.mail_tracked_click_rate = record_stats.get("click_rate", 0)
            record.mail_tracked_last_open = record_stats.get("last_open", False)
            record.mail_tracked_machine_rate = record_stats.get("machine_rate", 0)

    @api.model
    def _mail_tracking_stats(self, field_name, ids):
        """``{id: {count, open_rate, click_rate, machine_rate, last_open}}`` of the tracked
        emails the user may see whose ``field_name`` is one of ``ids``, in two
        grouped queries whatever the number of ids."""
        Recipient = self.env["mail.tracked.recipient"]
        stats = {
            record.id: {"count": count, "open_rate": round(open_rate or 0), "click_rate": round(click_rate or 0),
                        "machine_rate": round(machine_rate or 0), "last_open": False}
            for record, count, open_rate, click_rate, machine_rate in Recipient._read_group(
                [(field_name, "in", ids)], [field_name],
                ["__count", "open_rate:avg", "click_rate:avg", "machine_rate:avg"])
        }
        if stats:
            # each email's latest open from the (recipient_id, event_date) index, not every open (X3)
            self.env["mail.tracked.event"].flush_model(["recipient_id", "event_type", "event_date", "is_counted"])
            self.env.cr.execute(SQL("""
                SELECT r.%(field)s, max(latest.event_date)
                  FROM mail_tracked_recipient r
                 CROSS JOIN LATERAL (
                        SELECT e.event_date FROM mail_tracked_event e
                         WHERE e.recipient_id = r.id AND e.event_type = 'open' AND e.is_counted
                      ORDER BY e.event_date DESC LIMIT 1) latest
                 WHERE r.id IN %(recipients)s
              GROUP BY r.%(field)s
            """, field=SQL.identifier(field_name),
                recipients=Recipient._search([(field_name, "in", list(stats))]).subselect()))
            for record_id, last_open in self.env.cr.fetchall():
                stats[record_id]["last_open"] = last_open
        return stats

    def action_view_mail_tracked_emails(self):
        """The tracked emails behind these statistics."""
        return self._mail_tracked_emails_action()

    def action_view_mail_opened_emails(self):
        return self._mail_tracked_emails_action(search_default="opened")

    def action_view_mail_clicked_emails(self):
        return self._mail_tracked_emails_action(search_default="clicked")

    def action_view_mail_machine_emails(self):
        return self._mail_tracked_emails_action(search_default="machine_activity")

    def _mail_tracked_emails_action(self, search_default=None):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("mail_tracking_ext.mail_tracked_recipient_action")
        action.update(
            domain=[(self._mail_tracking_stats_field(), "=", self.id)],
            context={f"search_default_{search_default}": 1} if search_default else {},
            name=self.env._("Tracked Emails: %s", self.display_name))
        return action
