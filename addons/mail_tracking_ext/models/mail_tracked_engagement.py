from odoo import fields, models, tools


class MailTrackedEngagement(models.Model):
    """The activity feed (N2): one line per thing that happened to a tracked
    email — sent, opened, clicked, replied — newest first.

    A read-only SQL view over tracked recipients and their events; the
    author's own opens and clicks (A2) are left out. Lines are as visible as
    their tracked email (P4).
    """
    _name = "mail.tracked.engagement"
    _inherit = ["mail.tracked.visibility.mixin"]
    _description = "Email Engagement"
    _auto = False
    _order = "date desc, id desc"
    _rec_name = "subject"

    date = fields.Datetime("Date", readonly=True)
    kind = fields.Selection(
        [("sent", "Sent"), ("opened", "Opened"), ("clicked", "Clicked"), ("replied", "Replied")],
        "Activity", readonly=True)
    recipient_id = fields.Many2one("mail.tracked.recipient", "Tracked Email", readonly=True)
    message_id = fields.Many2one("mail.message", "Email", readonly=True)
    subject = fields.Char("Subject", readonly=True)
    partner_id = fields.Many2one("res.partner", "Contact", readonly=True)
    email = fields.Char("Sent To", readonly=True)
    author_id = fields.Many2one("res.partner", "Author", readonly=True)
    model = fields.Char("Related Document Model", readonly=True)
    res_id = fields.Many2oneReference("Related Document", model_field="model", readonly=True)
    lead_id = fields.Many2one("crm.lead", "Opportunity", readonly=True)
    url = fields.Char("Link", readonly=True)
    is_inferred = fields.Boolean(
        "Inferred", readonly=True, help="An open deduced from a click or a reply: images were blocked.")

    def init(self):
        # ids: events even, recipients odd (sent 4n+1, replied 4n+3), so they never collide
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(f"""
            CREATE VIEW {self._table} AS (
                SELECT r.id * 4 + 1 AS id, 'sent' AS kind, r.sent_date AS date, r.id AS recipient_id,
                       r.message_id, COALESCE(m.subject, m.record_name) AS subject, r.partner_id, r.email,
                       r.author_id, r.model, r.res_id, r.lead_id, NULL AS url, false AS is_inferred
                  FROM mail_tracked_recipient r
                  JOIN mail_message m ON m.id = r.message_id
                UNION ALL
                SELECT r.id * 4 + 3, 'replied', r.replied_date, r.id,
                       r.message_id, COALESCE(m.subject, m.record_name), r.partner_id, r.email,
                       r.author_id, r.model, r.res_id, r.lead_id, NULL, false
                  FROM mail_tracked_recipient r
                  JOIN mail_message m ON m.id = r.message_id
                 WHERE r.replied_date IS NOT NULL
                UNION ALL
                SELECT e.id * 2, CASE e.event_type WHEN 'click' THEN 'clicked' ELSE 'opened' END,
                       e.event_date, r.id,
                       r.message_id, COALESCE(m.subject, m.record_name), r.partner_id, r.email,
                       r.author_id, r.model, r.res_id, r.lead_id, e.url, e.is_inferred IS TRUE
                  FROM mail_tracked_event e
                  JOIN mail_tracked_recipient r ON r.id = e.recipient_id
                  JOIN mail_message m ON m.id = r.message_id
                 WHERE e.is_sender IS NOT TRUE
            )
        """)

    def action_open_document(self):
        """Open the record the email was sent from, else the tracked email."""
        self.ensure_one()
        if self.model and self.res_id and self.model in self.env:
            return {
                "type": "ir.actions.act_window",
                "res_model": self.model,
                "res_id": self.res_id,
                "views": [(False, "form")],
            }
        return {
            "type": "ir.actions.act_window",
            "res_model": "mail.tracked.recipient",
            "res_id": self.recipient_id.id,
            "views": [(False, "form")],
        }
