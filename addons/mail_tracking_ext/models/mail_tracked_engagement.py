from odoo import api, fields, models, tools
from odoo.exceptions import UserError

from ..tools.compat import MESSAGE_SUBJECT_SQL


class MailTrackedEngagement(models.Model):
    """The activity feed (N2): one line per thing that happened to a tracked
    email — sent, opened, clicked, replied — newest first.

    A read-only SQL view over tracked recipients and their events; the
    author's own opens and clicks (A2) are left out, a machine's are listed
    but not counted (A1). Lines are as visible as
    their tracked email (P4).
    """
    _name = "mail.tracked.engagement"
    _inherit = ["mail.tracked.visibility.mixin"]
    _description = "Email Engagement"
    _auto = False
    _order = "date desc, id desc"
    _rec_name = "subject"

    date = fields.Datetime(readonly=True)
    kind = fields.Selection(
        [("sent", "Sent"), ("opened", "Opened"), ("clicked", "Clicked"), ("replied", "Replied")],
        "Activity", readonly=True)
    recipient_id = fields.Many2one("mail.tracked.recipient", "Tracked Email", readonly=True)
    message_id = fields.Many2one("mail.message", "Email", readonly=True)
    subject = fields.Char(readonly=True)
    partner_id = fields.Many2one("res.partner", "Contact", readonly=True)
    email = fields.Char("Sent To", readonly=True)
    author_id = fields.Many2one("res.partner", readonly=True)
    model = fields.Char("Related Document Model", readonly=True)
    res_id = fields.Many2oneReference("Related Document", model_field="model", readonly=True)
    lead_id = fields.Many2one("crm.lead", "Opportunity", readonly=True)
    url = fields.Char("Link", readonly=True)
    is_inferred = fields.Boolean(
        "Inferred", readonly=True, help="An open deduced from a click or a reply: images were blocked.")
    event_id = fields.Many2one("mail.tracked.event", readonly=True)
    source = fields.Selection(related="event_id.source", string="Who")
    source_reason = fields.Char(related="event_id.source_reason", string="Why")
    is_counted = fields.Boolean(
        "Counted", readonly=True,
        help="A person's activity. Opens and clicks of machines (privacy proxies, scanners) are listed, "
             "greyed, and counted nowhere.")

    is_mine = fields.Boolean("My Emails", compute="_compute_is_mine", search="_search_is_mine")

    @api.depends_context("uid")
    def _compute_is_mine(self):
        for line in self:
            line.is_mine = line.author_id == self.env.user.partner_id

    def _search_is_mine(self, operator, value):
        # one author, as a constant: the feed reads that author's index by date (X3)
        if operator not in ("=", "!=") or not isinstance(value, bool):
            raise UserError(self.env._("Operation not supported"))
        mine = (operator == "=") == value
        return [("author_id", "=" if mine else "!=", self.env.user.partner_id.id)]

    def init(self):
        # ids: events even, recipients odd (sent 4n+1, replied 4n+3), so they never collide.
        # Each branch of the union reads one table, typed alike and without a WHERE of its own
        # (the filters are outside): PostgreSQL then merges the branches by date through their
        # (author_id, date) indexes and stops at the page's last line, before joining the
        # email's details (X3).
        tools.drop_view_if_exists(self.env.cr, self._table)
        # MESSAGE_SUBJECT_SQL is a constant of this addon, chosen by Odoo's version
        # pylint: disable=sql-injection
        self.env.cr.execute(f"""
            CREATE VIEW {self._table} AS (
                SELECT line.id, line.kind, line.date, line.recipient_id, r.message_id,
                       {MESSAGE_SUBJECT_SQL} AS subject, r.partner_id, r.email,
                       line.author_id, r.model, r.res_id, r.lead_id, line.url, line.is_inferred,
                       line.event_id, line.is_counted
                  FROM (
                        SELECT id::bigint * 4 + 1 AS id, 'sent'::varchar AS kind, sent_date AS date,
                               id AS recipient_id, author_id, NULL::varchar AS url, false AS is_inferred,
                               NULL::integer AS event_id, true AS is_counted, 'human'::varchar AS source
                          FROM mail_tracked_recipient
                        UNION ALL
                        SELECT id::bigint * 4 + 3, 'replied'::varchar, replied_date, id, author_id,
                               NULL::varchar, false, NULL::integer, true, 'human'::varchar
                          FROM mail_tracked_recipient
                        UNION ALL
                        SELECT id::bigint * 2, CASE event_type WHEN 'click' THEN 'clicked' ELSE 'opened' END::varchar,
                               event_date, recipient_id, author_id, url, is_inferred IS TRUE, id, is_counted,
                               source::varchar
                          FROM mail_tracked_event
                       ) line
                  JOIN mail_tracked_recipient r ON r.id = line.recipient_id
                  JOIN mail_message m ON m.id = r.message_id
                 WHERE line.date IS NOT NULL AND line.source != 'sender'
            )
        """)
        # reading a page's lines by their ids goes through these, not through every row
        for table, name, expression in (("mail_tracked_event", "event", "(id::bigint * 2)"),
                                        ("mail_tracked_recipient", "sent", "(id::bigint * 4 + 1)"),
                                        ("mail_tracked_recipient", "replied", "(id::bigint * 4 + 3)")):
            tools.create_index(self.env.cr, f"mail_tracked_engagement_{name}_id_index", table, [expression])

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
