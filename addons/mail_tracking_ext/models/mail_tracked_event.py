import re

from odoo import api, fields, models
from odoo.tools import SQL

from ..tools import token_digest, truncate_ip
from ..tools.html import LINK_REF_LENGTH

USER_AGENT_MAX_LENGTH = 512
LINK_REF = re.compile(rf"[0-9a-f]{{{LINK_REF_LENGTH}}}")


class MailTrackedEvent(models.Model):
    """An open or a click of a tracked email, never edited once recorded.

    This model is also the recorder: the public routes hand it what a request
    says (token, network, browser) and it records the event in one statement,
    then lets the recipient advance and tell the web clients."""
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
        "Inferred", help="An open deduced from a click or a reply: the recipient's client blocked images.")
    is_sender = fields.Boolean(
        "Sender's Own", readonly=True,
        help="Recorded while the email's author was logged in to Odoo in the same browser: the "
             "author looking at their own email. Kept, but never counted nor notified.")
    # on the event itself for the index of the author's activity feed
    author_id = fields.Many2one(
        related="recipient_id.author_id", store=True, string="Author",
        help="The email's author, kept on each event: the author's activity feed reads it by date.")
    # for statistics grouped by contact, company or opportunity
    partner_id = fields.Many2one(related="recipient_id.partner_id")
    commercial_partner_id = fields.Many2one(related="recipient_id.commercial_partner_id")
    lead_id = fields.Many2one(related="recipient_id.lead_id")

    def init(self):
        # the latest events of a recipient: notification window and last open
        self.env.cr.execute("""
            CREATE INDEX IF NOT EXISTS mail_tracked_event_recipient_date_index
                ON mail_tracked_event (recipient_id, event_date)
        """)
        # an author's activity feed, newest first
        self.env.cr.execute("""
            CREATE INDEX IF NOT EXISTS mail_tracked_event_author_date_index
                ON mail_tracked_event (author_id, event_date)
        """)

    # ------------------------------------------------------------
    # Recording what the public routes receive (T1, T2, T8, A2, P2)
    # ------------------------------------------------------------

    @api.model
    def _record_open(self, token, ip=None, user_agent=None, session_uid=None):
        """Record an open of the email copy carrying ``token``. ``session_uid``
        is the Odoo user logged in in the browser that loaded the pixel: when
        it is the email's author, the open is theirs, kept apart and never
        counted nor notified. Nothing is written for an unknown token, an email
        sent without open tracking or a contact who withdrew."""
        request = self._request_values(token, ip, user_agent, session_uid)
        if not request["digest"]:
            return
        self.env.cr.execute(SQL("""
            WITH recipient AS (%(row)s AND m.track_opens AND p.do_not_track IS NOT TRUE),
            event AS (
                INSERT INTO mail_tracked_event
                       (recipient_id, author_id, event_type, event_date, ip, user_agent, is_inferred, is_sender)
                SELECT id, author_id, 'open', %(now)s, %(ip)s, %(user_agent)s, false, is_sender FROM recipient
             RETURNING id
            )
            SELECT recipient.*, event.id AS event_id FROM recipient, event
        """, row=self._engagement_row(request, "open"), **request))
        row = self.env.cr.dictfetchone()
        if row and not row["is_sender"]:
            self._recorded(row, "open", request)

    @api.model
    def _record_click(self, token, ref, ip=None, user_agent=None, record=True, session_uid=None):
        """Return the original URL of link ``ref`` of the email copy carrying
        ``token``, or None when the email has no such link; record the click
        unless ``record`` is false (a HEAD request). When the copy's tracking is
        gone the link still leads to its URL, without recording anything."""
        request = self._request_values(token, ip, user_agent, session_uid)
        if not request["digest"] or not LINK_REF.fullmatch(ref or ""):
            return None
        url = SQL("m.tracked_links ->> %s", ref)
        self.env.cr.execute(SQL("""
            WITH target AS (
                %(row)s AND m.tracked_links ? %(ref)s
            ), click AS (
                INSERT INTO mail_tracked_event
                       (recipient_id, author_id, url, event_type, event_date, ip, user_agent, is_inferred, is_sender)
                SELECT id, author_id, url, 'click', %(now)s, %(ip)s, %(user_agent)s, false, is_sender
                  FROM target WHERE %(record)s AND track_clicks AND do_not_track IS NOT TRUE
             RETURNING id
            )
            SELECT target.*, (SELECT id FROM click) AS event_id FROM target
        """, row=self._engagement_row(request, "click", url), ref=ref, record=record, **request))
        row = self.env.cr.dictfetchone()
        if not row:
            return self.env["mail.tracked.recipient"]._link_of_email(token, ref)
        if row["event_id"] and not row["is_sender"]:
            self._recorded(row, "click", request)
        return row["url"]

    @api.model
    def _request_values(self, token, ip, user_agent, session_uid):
        return {
            "digest": token_digest(token),
            "now": fields.Datetime.now(),
            "ip": truncate_ip(ip),
            "user_agent": (user_agent or "").replace("\x00", "")[:USER_AGENT_MAX_LENGTH] or None,
            "session_uid": session_uid,
        }

    @api.model
    def _engagement_row(self, request, event_type, url=None):
        """The SELECT of the tracked copy named by the request's token, with
        what the recorder and the live updates need: its recipient ``r``,
        email ``m`` and contact ``p``, whether the browser is the author's, and
        the date of the previous event like this one (the notification window).
        Callers add conditions after its WHERE."""
        same_url = SQL("AND e.url = %s", url) if url else SQL()
        return SQL("""
            SELECT r.id, r.state, r.first_open_date, r.message_id, r.partner_id, r.email, r.is_aggregate,
                   p.name AS partner_name, p.do_not_track, m.author_id, m.model, m.res_id, m.track_clicks,
                   COALESCE(m.subject, m.record_name) AS subject, %(url)s AS url,
                   EXISTS (SELECT FROM res_users u
                            WHERE u.id = %(session_uid)s AND u.partner_id = m.author_id) AS is_sender,
                   (SELECT bool_or(u.mail_tracking_notify) FROM res_users u
                     WHERE u.partner_id = m.author_id AND u.active AND NOT u.share) AS author_notify,
                   (SELECT e.event_date FROM mail_tracked_event e
                     WHERE e.recipient_id = r.id AND e.event_type = %(event_type)s AND e.is_sender IS NOT TRUE
                           %(same_url)s
                  ORDER BY e.event_date DESC LIMIT 1) AS previous_date
              FROM mail_tracked_recipient r
              JOIN mail_message m ON m.id = r.message_id
         LEFT JOIN res_partner p ON p.id = r.partner_id
             WHERE r.token_digest = %(digest)s
        """, url=url or SQL("NULL"), session_uid=request["session_uid"], event_type=event_type,
            same_url=same_url, digest=request["digest"])

    @api.model
    def _recorded(self, row, event_type, request):
        """After an event of a recipient was recorded from ``row``: advance its
        state and tell the web clients."""
        recipient = self.env["mail.tracked.recipient"].browse(row["id"])
        if row["state"] != "clicked" and (event_type == "click" or row["state"] == "sent"):
            recipient._advance(event_type, request["now"], request["ip"], request["user_agent"])
        recipient._notify_engagement(row, event_type, request["now"])
