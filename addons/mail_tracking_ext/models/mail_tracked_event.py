from odoo import fields, models


class MailTrackedEvent(models.Model):
    """An open or a click, appended by the public routes and never edited."""
    _name = "mail.tracked.event"
    _inherit = ["mail.tracked.visibility.mixin"]
    _description = "Tracked Email Event"
    _order = "event_date desc, id desc"
    _log_access = False

    recipient_id = fields.Many2one(
        "mail.tracked.recipient", required=True, ondelete="cascade", index=True)
    event_type = fields.Selection(
        [("open", "Opened"), ("click", "Clicked")], "Type", required=True)
    event_date = fields.Datetime("Date", required=True, default=fields.Datetime.now)
    url = fields.Char("URL", help="The original target of the clicked link.")
    ip = fields.Char("Network", help="The sender's network only: IPv4 /24, IPv6 /48.")
    user_agent = fields.Char()
    is_inferred = fields.Boolean(
        "Inferred", help="An open deduced from a click: the recipient's client blocked images.")
    is_sender = fields.Boolean(
        "Sender's Own", readonly=True,
        help="Recorded while the email's author was logged in to Odoo in the same browser: the "
             "author looking at their own email (A2). Kept, but never counted nor notified.")
    # on the event itself for the index of the author's activity feed (N2, X3)
    author_id = fields.Many2one(
        related="recipient_id.author_id", store=True, string="Author",
        help="The email's author, kept on each event: the author's activity feed reads it by date.")
    # For statistics grouped by contact, company or opportunity (N5)
    partner_id = fields.Many2one(related="recipient_id.partner_id")
    commercial_partner_id = fields.Many2one(related="recipient_id.commercial_partner_id")
    lead_id = fields.Many2one(related="recipient_id.lead_id")

    def init(self):
        # the latest events of a recipient: notification window (N1) and last open (N5)
        self.env.cr.execute("""
            CREATE INDEX IF NOT EXISTS mail_tracked_event_recipient_date_index
                ON mail_tracked_event (recipient_id, event_date)
        """)
        # an author's activity feed, newest first (N2, X3)
        self.env.cr.execute("""
            CREATE INDEX IF NOT EXISTS mail_tracked_event_author_date_index
                ON mail_tracked_event (author_id, event_date)
        """)
