import logging
import re
from functools import partial

from odoo import api, fields, models, tools
from odoo.tools import SQL

from ..tools import event_source, token_digest, truncate_ip
from ..tools.html import LINK_REF_LENGTH

_logger = logging.getLogger(__name__)

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
    # Who it was (A1, A3): every event is kept, only a person's count
    source = fields.Selection([
        ("human", "Person"),
        ("privacy_proxy", "Privacy Proxy"),
        ("image_proxy", "Image Proxy"),
        ("scanner", "Scanner"),
        ("sender", "Author"),
        ("unknown", "Unknown"),
    ], required=True, default="human", readonly=True, index=True,
        help="Person: counted. Image proxy (e.g. Gmail's): a real open, without the reader's location, counted. "
             "Privacy proxy (e.g. Apple Mail Privacy Protection): images fetched whether or not anyone reads, "
             "not counted. Scanner: a security gateway, a link preview or a script, not counted. Author: the "
             "email's author, logged in to Odoo in the same browser, not counted.")
    source_rule = fields.Selection([
        ("person", "Nothing machine-like"),
        ("listed", "Published list"),
        ("own_network", "Company network"),
        ("no_agent", "No user agent"),
        ("honeypot", "Hidden link"),
        ("burst", "Burst of links"),
        ("early", "Too soon after delivery"),
        ("unmasked", "Known program"),
        ("author", "Author's session"),
        ("reply", "Reply"),
        ("legacy", "Before classification"),
    ], "Decided By", required=True, default="person", readonly=True)
    source_detail = fields.Char(readonly=True, help="What the rule names: a listed proxy or scanner, a count.")
    delivery_delay = fields.Integer(
        "Seconds After Delivery", readonly=True,
        help="Time between the SMTP server accepting the email and this event.")
    source_reason = fields.Char("Why", compute="_compute_source_reason")
    is_counted = fields.Boolean(
        "Counted", compute="_compute_is_counted", store=True, readonly=True, index=True,
        help="A person's open or click: statuses, rates, statistics, the feed and notifications count it.")
    # on the event itself for the index of the author's activity feed
    author_id = fields.Many2one(
        related="recipient_id.author_id", store=True, string="Author",
        help="The email's author, kept on each event: the author's activity feed reads it by date.")
    # for statistics grouped by contact, company or opportunity
    partner_id = fields.Many2one(related="recipient_id.partner_id")
    commercial_partner_id = fields.Many2one(related="recipient_id.commercial_partner_id")
    lead_id = fields.Many2one(related="recipient_id.lead_id")

    @api.depends("event_type", "source")
    def _compute_is_counted(self):
        # the recorder's statements write it with the event, from the same rule
        for event in self:
            event.is_counted = bool(event.event_type) and event_source.is_counted(event.event_type, event.source)

    @api.depends("source_rule", "source_detail", "delivery_delay")
    @api.depends_context("lang")
    def _compute_source_reason(self):
        for event in self:
            event.source_reason = event._source_reason(event.source_rule, event.source_detail, event.delivery_delay)

    @api.model
    def _source_reason(self, rule, detail, delay):
        """Why an event is what it is, in the reader's language."""
        after = self._format_delay(delay)
        return {
            "person": self.env._("A person, %(delay)s after delivery", delay=after) if after else "",
            "listed": self.env._("%(name)s, %(delay)s after delivery", name=detail, delay=after) if after else detail,
            "own_network": self.env._("Your company's mail gateway (networks set in Settings)"),
            "no_agent": self.env._("No mail client or browser named itself"),
            "honeypot": self.env._("Its network followed the hidden link that no person sees"),
            "burst": self.env._("%(count)s links of the email followed from one network within seconds",
                                count=detail or "?"),
            "early": self.env._("%(delay)s after delivery, before any open: sooner than a person reads",
                                delay=after or "?"),
            "unmasked": self.env._("Its network showed itself a program on this email moments before"),
            "author": self.env._("The author, logged in to Odoo in the same browser"),
            "reply": self.env._("Deduced from a reply"),
            "legacy": self.env._("Recorded before opens and clicks were classified"),
        }.get(rule) or ""

    @api.model
    def _format_delay(self, seconds):
        if seconds is None or seconds is False or seconds < 0:
            return ""
        if seconds < 120:
            return self.env._("%s s", seconds)
        if seconds < 7200:
            return self.env._("%s min", seconds // 60)
        if seconds < 172800:
            return self.env._("%s h", seconds // 3600)
        return self.env._("%s days", seconds // 86400)

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
    # Recording what the public routes receive (T1, T2, T8, A1-A3, P2)
    # ------------------------------------------------------------

    @api.model
    def _record_open(self, token, ip=None, user_agent=None, session_uid=None):
        """Record an open of the email copy carrying ``token`` from the client
        address ``ip`` (full: it is truncated for storage). ``session_uid`` is
        the Odoo user logged in in the browser that loaded the pixel: when it
        is the email's author, the open is theirs, kept apart and never counted
        nor notified. Nothing is written for an unknown token, an email sent
        without open tracking or a contact who withdrew."""
        request = self._request_values(token, ip, user_agent, session_uid, "open")
        if not request["digest"]:
            return
        self.env.cr.execute(SQL("""
            WITH recipient AS (%(row)s AND m.track_opens AND p.do_not_track IS NOT TRUE),
            event AS (%(insert)s FROM recipient RETURNING id)
            SELECT recipient.*, event.id AS event_id FROM recipient, event
        """, row=self._engagement_row(request, "open"), insert=self._insert_event(request, "open")))
        row = self.env.cr.dictfetchone()
        if row and not row["is_sender"]:
            self._recorded(row, "open", request)

    @api.model
    def _record_click(self, token, ref, ip=None, user_agent=None, record=True, session_uid=None):
        """Return the original URL of link ``ref`` of the email copy carrying
        ``token`` ("" for the hidden link no person sees), or None when the
        email has no such link; record the click unless ``record`` is false (a
        HEAD request). When the copy's tracking is gone the link still leads to
        its URL, without recording anything."""
        request = self._request_values(token, ip, user_agent, session_uid, "click")
        if not request["digest"] or not LINK_REF.fullmatch(ref or ""):
            return None
        url = SQL("m.tracked_links ->> %s", ref)
        self.env.cr.execute(SQL("""
            WITH target AS (%(row)s AND m.tracked_links ? %(ref)s),
            click AS (%(insert)s FROM target
                       WHERE %(record)s AND track_clicks AND do_not_track IS NOT TRUE RETURNING id)
            SELECT target.*, (SELECT id FROM click) AS event_id FROM target
        """, row=self._engagement_row(request, "click", url), ref=ref, record=record,
            insert=self._insert_event(request, "click")))
        row = self.env.cr.dictfetchone()
        if not row:
            return self.env["mail.tracked.recipient"]._link_of_email(token, ref)
        if row["event_id"] and not row["is_sender"]:
            self._recorded(row, "click", request)
        return row["url"]

    @api.model
    def _request_values(self, token, ip, user_agent, session_uid, event_type):
        user_agent = (user_agent or "").replace("\x00", "")[:USER_AGENT_MAX_LENGTH] or None
        return {
            "digest": token_digest(token),
            "now": fields.Datetime.now(),
            "ip": truncate_ip(ip),
            "user_agent": user_agent,
            "session_uid": session_uid,
            # what the request shows alone, from the full address; its story is judged after
            "listed": event_source.listed_source(event_type, ip, user_agent, self._own_networks()),
        }

    @tools.ormcache()
    def _own_networks(self):
        """The networks of the company's own mail gateway, set in Settings:
        what comes from them is a machine's."""
        value = self.env["ir.config_parameter"].sudo().get_param("mail_tracking_ext.own_networks") or ""
        return event_source.NetworkSet(value.replace(",", " ").split(), strict=False)

    @api.model
    def _insert_event(self, request, event_type):
        """The INSERT of the request's event, from a row of ``_engagement_row``
        (callers add FROM and WHERE): the author's own, or what the request
        shows alone until its story is judged (``_recorded``)."""
        verdict = request["listed"] or event_source.HUMAN
        counted = event_source.is_counted(event_type, verdict.source)
        return SQL("""
            INSERT INTO mail_tracked_event
                   (recipient_id, author_id, url, event_type, event_date, ip, user_agent, is_inferred,
                    source, source_rule, source_detail, is_counted, delivery_delay)
            SELECT id, author_id, url, %(event_type)s, %(now)s, %(ip)s, %(user_agent)s, false,
                   CASE WHEN is_sender THEN 'sender' ELSE %(source)s END,
                   CASE WHEN is_sender THEN 'author' ELSE %(rule)s END,
                   %(detail)s, %(counted)s AND NOT is_sender,
                   GREATEST(0, EXTRACT(EPOCH FROM %(now)s - sent_date))::integer
        """, event_type=event_type, now=request["now"], ip=request["ip"], user_agent=request["user_agent"],
            source=verdict.source, rule=verdict.rule, detail=verdict.detail or None, counted=counted)

    @api.model
    def _engagement_row(self, request, event_type, url=None):
        """The SELECT of the tracked copy named by the request's token, with
        what the recorder and the live updates need: its recipient ``r``,
        email ``m`` and contact ``p``, whether the browser is the author's, the
        date of the previous counted event like this one (the notification
        window) and, for judging the event, how many links of this copy the
        request's network followed within seconds. Callers add conditions
        after its WHERE."""
        same_url = SQL("AND e.url = %s", url) if url else SQL()
        # a network that showed itself a program on this copy stays one for a while
        unmasked = SQL("""
            EXISTS (SELECT FROM mail_tracked_event e
                     WHERE e.recipient_id = r.id AND e.ip = %(ip)s AND e.event_date >= %(since)s
                       AND e.source_rule IN %(revealing)s)
        """, ip=request["ip"], since=request["now"] - event_source.REVISION_WINDOW,
            revealing=event_source.REVEALING_RULES) if request["ip"] else SQL("false")
        # a gateway checks each recipient's copy of an email: all its links at once
        burst_links = SQL("""
            (SELECT count(DISTINCT e.url) FROM mail_tracked_event e
              WHERE e.recipient_id = r.id AND e.event_type = 'click' AND e.ip = %(ip)s
                AND e.event_date > %(since)s AND e.url IS DISTINCT FROM %(url)s) + 1
        """, ip=request["ip"], since=request["now"] - event_source.BURST_WINDOW, url=url) \
            if event_type == "click" and request["ip"] else SQL("1")
        return SQL("""
            SELECT r.id, r.state, r.first_open_date, r.message_id, r.partner_id, r.email, r.is_aggregate,
                   r.sent_date, p.name AS partner_name, p.do_not_track, m.author_id, m.model, m.res_id,
                   m.track_clicks, COALESCE(m.subject, m.record_name) AS subject, %(url)s AS url,
                   EXISTS (SELECT FROM res_users u
                            WHERE u.id = %(session_uid)s AND u.partner_id = m.author_id) AS is_sender,
                   (SELECT bool_or(u.mail_tracking_notify) FROM res_users u
                     WHERE u.partner_id = m.author_id AND u.active AND NOT u.share) AS author_notify,
                   (SELECT e.event_date FROM mail_tracked_event e
                     WHERE e.recipient_id = r.id AND e.event_type = %(event_type)s AND e.is_counted
                           %(same_url)s
                  ORDER BY e.event_date DESC LIMIT 1) AS previous_date,
                   %(burst_links)s AS burst_links,
                   %(unmasked)s AS unmasked
              FROM mail_tracked_recipient r
              JOIN mail_message m ON m.id = r.message_id
         LEFT JOIN res_partner p ON p.id = r.partner_id
             WHERE r.token_digest = %(digest)s
        """, url=url or SQL("NULL"), session_uid=request["session_uid"], event_type=event_type,
            same_url=same_url, burst_links=burst_links, unmasked=unmasked, digest=request["digest"])

    @api.model
    def _recorded(self, row, event_type, request):
        """After an event of a recipient was recorded from ``row``: judge it in
        its email's story (A1, A3), re-classify the events of a scanner it
        reveals, then advance the recipient and tell the web clients. Only a
        person's opens and clicks move the recipient and notify the author."""
        Recipient = self.env["mail.tracked.recipient"]
        recipient = Recipient.browse(row["id"])
        delay = (request["now"] - row["sent_date"]).total_seconds() if row["sent_date"] else None
        reading = (request["now"] - row["first_open_date"]).total_seconds() if row["first_open_date"] else None
        verdict = event_source.judge(
            event_type, request["listed"], delay=delay, burst_links=row["burst_links"], reading=reading,
            honeypot=event_type == "click" and row["url"] == "", unmasked=row["unmasked"])
        if verdict != (request["listed"] or event_source.HUMAN):
            self.browse(row["event_id"])._classify(verdict, event_type)
        if verdict.rule in event_source.REVEALING_RULES:
            # what this network did just before was the scanner's too: statuses follow at once
            self._revise_network(recipient, request["ip"], request["now"], verdict)
            recipient._recompute_state()
        if verdict.source in event_source.UNCOUNTED_MACHINES:
            recipient._touched_by_machine()
        if not event_source.is_counted(event_type, verdict.source):
            # whoever has the record open sees the machine's event, greyed; nobody is notified
            if row["model"] and row["res_id"]:
                Recipient._push_refresh(row["model"], row["res_id"], row["message_id"])
            return
        if event_type == "click" and request["ip"] and delay is not None and delay < event_source.RECHECK_SECONDS:
            self.env.cr.postcommit.add(partial(self._recheck_after_commit, row, request["ip"], request["now"]))
        if row["state"] != "clicked" and (event_type == "click" or row["state"] == "sent"):
            recipient._advance(event_type, request["now"], request["ip"], request["user_agent"], row["event_id"])
        recipient._notify_engagement(row, event_type, request["now"])

    def _recheck_after_commit(self, row, ip, now):
        """Judge a person's click again once committed: a program that follows
        every link of a copy at the same instant sends requests that do not
        see each other's events. Whatever came from the click's network on
        the copy within seconds, committed by now, may reveal the burst or the
        hidden link; then it is all re-classified, as within a request."""
        try:
            with self.pool.cursor() as cr:
                env = self.env(cr=cr)
                cr.execute(SQL("""
                    SELECT count(DISTINCT url) FILTER (WHERE url != ''), bool_or(url = '')
                      FROM mail_tracked_event
                     WHERE recipient_id = %(recipient)s AND event_type = 'click' AND ip = %(ip)s
                       AND event_date BETWEEN %(since)s AND %(until)s
                """, recipient=row["id"], ip=ip, since=now - event_source.BURST_WINDOW,
                    until=now + event_source.BURST_WINDOW))
                links, hidden = cr.fetchone()
                if not hidden and (links or 0) < event_source.BURST_LINKS:
                    return
                verdict = event_source.Verdict("scanner", "honeypot") if hidden else \
                    event_source.Verdict("scanner", "burst", str(links))
                recipient = env["mail.tracked.recipient"].browse(row["id"])
                env["mail.tracked.event"]._revise_network(recipient, ip, now, verdict)
                recipient._recompute_state()
                if row["model"] and row["res_id"]:
                    recipient._push_refresh(row["model"], row["res_id"], row["message_id"])
        except Exception:  # noqa: BLE001 - the request is answered: log, never fail it
            _logger.exception("Tracked copy %s: could not judge its clicks again", row["id"])

    def _classify(self, verdict, event_type):
        """Give this event ``verdict``."""
        self.env.cr.execute(SQL("""
            UPDATE mail_tracked_event
               SET source = %(source)s, source_rule = %(rule)s, source_detail = %(detail)s, is_counted = %(counted)s
             WHERE id IN %(ids)s
        """, source=verdict.source, rule=verdict.rule, detail=verdict.detail or None,
            counted=event_source.is_counted(event_type, verdict.source), ids=tuple(self.ids)))
        self.invalidate_recordset(["source", "source_rule", "source_detail", "is_counted"])

    @api.model
    def _revise_network(self, recipient, ip, now, verdict):
        """A program revealed itself on ``recipient``'s copy from network ``ip``:
        its events of the last seconds there, taken for a person's (or for
        nothing), are its own too. One copy only: behind a proxy that hides
        the clients' addresses, every copy would share one network."""
        if not ip:
            return
        self.env.cr.execute(SQL("""
            UPDATE mail_tracked_event
               SET source = 'scanner', source_rule = %(rule)s, source_detail = %(detail)s, is_counted = false
             WHERE recipient_id = %(recipient)s AND ip = %(ip)s AND event_date >= %(since)s
               AND source IN ('human', 'unknown')
        """, rule=verdict.rule, detail=verdict.detail or None, recipient=recipient.id, ip=ip,
            since=now - event_source.REVISION_WINDOW))
        self.invalidate_model(["source", "source_rule", "source_detail", "is_counted"])
