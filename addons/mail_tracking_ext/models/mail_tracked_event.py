import logging

from odoo import SUPERUSER_ID, api, fields, models
from odoo.modules.registry import Registry

from ..tools import event_source
from ..tools.recorder import Recorder

_logger = logging.getLogger(__name__)


class MailTrackedEvent(models.Model):
    """An open or a click of a tracked email, never edited once recorded.

    The public routes hand what a request says (token, network, browser) to
    the recorder through ``_record_open`` and ``_record_click``: it records the
    event in one statement, then lets the recipient advance and tells the web
    clients (tools/recorder.py, shared with the fast path and the edge)."""
    _name = "mail.tracked.event"
    _inherit = ["mail.tracked.visibility.mixin"]
    _description = "Tracked Email Event"
    _order = "event_date desc, id desc"
    _log_access = False

    recipient_id = fields.Many2one(
        "mail.tracked.recipient", required=True, ondelete="cascade")  # indexed with event_date (init)
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
    ], required=True, default="human", readonly=True,
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
        "Counted", compute="_compute_is_counted", store=True, readonly=True,
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
        # a recipient's events: the recorder's story of a copy, the notification window, the
        # last open, cascading deletes (every event insert updates each index: no other one)
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
    def _recorder(self, flush=True):
        """The recorder of opens and clicks (tools/recorder.py) in this
        environment's transaction. ``flush``: its statements read and write
        the tables directly (not needed to send bus messages only)."""
        if flush:
            self.env.flush_all()
        return Recorder(self.env.cr, OdooHost(self.env.cr, self.env))

    @api.model
    def _record_open(self, token, ip=None, user_agent=None, session_uid=None):
        """Record an open of the email copy carrying ``token`` (see
        ``Recorder.record_open``): from the client address ``ip``, by the Odoo
        user ``session_uid`` logged in in the browser that loaded the pixel."""
        self._recorder().record_open(token, ip, user_agent, session_uid)
        self.env.invalidate_all()

    @api.model
    def _record_click(self, token, ref, ip=None, user_agent=None, record=True, session_uid=None):
        """Return the original URL of link ``ref`` of the email copy carrying
        ``token`` ("" for the hidden link, None for no such link) and record the
        click unless ``record`` is false (see ``Recorder.record_click``)."""
        url = self._recorder().record_click(token, ref, ip, user_agent, record, session_uid)
        self.env.invalidate_all()
        return url


class OdooHost:
    """The recorder's host in an Odoo process, on the Odoo cursor ``cr``:
    later transactions come from the registry's pool, the web clients are told
    through ``bus.bus`` in the environment ``env`` (made when a message is
    sent, for the fast path, which has none)."""

    def __init__(self, cr, env=None):
        self.cr = cr
        self.dbname = cr.dbname
        self._env = env

    def after_commit(self, task):
        dbname = self.dbname

        def run():
            try:
                with Registry(dbname).cursor() as cr:
                    task(Recorder(cr, OdooHost(cr)))
            except Exception:  # noqa: BLE001 - the request is answered: log, never fail it
                _logger.exception("Email tracking: could not finish a recording after its commit")

        self.cr.postcommit.add(run)

    def send(self, notifications):
        env = self._env or api.Environment(self.cr, SUPERUSER_ID, {})
        bus = env["bus.bus"].sudo()
        for channel, notification_type, payload in notifications:
            bus._sendone(channel, notification_type, payload)
