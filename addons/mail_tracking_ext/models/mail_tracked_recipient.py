
from odoo import api, fields, models, tools

from ..tools import token_digest
from ..tools.compat import AND, FALSE_DOMAIN, OR, sql_constraints
from ..tools.recorder import STATE_RATES


class MailTrackedRecipient(models.Model):
    """One tracked SMTP message: what one recipient (or, for raw addresses sent
    together, an anonymous group) received, with its engagement status.

    Odoo sends one SMTP message per partner recipient, so each contact gets
    their own token, pixel and links (T1, T2); raw To/Cc addresses sent in a
    single SMTP message share one anonymous record (T7). Copies are made by
    ``mail.mail`` when it sends (models/mail_mail.py), their events recorded by
    ``mail.tracked.event`` (models/mail_tracked_event.py); this model keeps the
    state they lead to.
    """
    _name = "mail.tracked.recipient"
    _inherit = ["mail.tracked.visibility.mixin"]
    _description = "Tracked Email Recipient"
    _order = "sent_date desc, id desc"
    _rec_name = "email"

    # What was sent, to whom
    message_id = fields.Many2one(
        "mail.message", "Email", required=True, ondelete="cascade", index=True, readonly=True)
    mail_id_int = fields.Integer("Outgoing Mail ID", index="btree_not_null", readonly=True,
                                 help="The mail.mail that was sent; it may be deleted since.")
    partner_id = fields.Many2one(
        "res.partner", "Contact", ondelete="cascade", index="btree_not_null", readonly=True,
        help="Empty when several raw addresses received one shared message (anonymous).")
    email = fields.Char("Sent To", readonly=True)
    is_aggregate = fields.Boolean(
        "Anonymous Measurement", readonly=True,
        help="One pixel shared by the recipients who are not tracked individually: "
             "it counts opens, never who opened.")
    token_digest = fields.Char(readonly=True, index=True, copy=False, groups="base.group_system")
    subject = fields.Char(related="message_id.subject")
    author_id = fields.Many2one(related="message_id.author_id", store=True, string="Author", index=True)
    model = fields.Char(related="message_id.model", store=True)
    res_id = fields.Many2oneReference(related="message_id.res_id", model_field="model", store=True)
    sent_date = fields.Datetime("Sent On", default=fields.Datetime.now, required=True, readonly=True)

    # Engagement (T6)
    state = fields.Selection(
        [("sent", "Sent"), ("opened", "Opened"), ("clicked", "Clicked")],
        default="sent", required=True, readonly=True, index=True)
    first_open_date = fields.Datetime("First Opened On", readonly=True)
    replied_date = fields.Datetime(
        "Replied On", readonly=True, index="btree_not_null",
        help="First reply of this recipient, matched by In-Reply-To/References.")
    last_open_date = fields.Datetime("Last Opened On", compute="_compute_engagement")
    open_count = fields.Integer("Opens", compute="_compute_engagement")
    click_count = fields.Integer("Clicks", compute="_compute_engagement")
    event_ids = fields.One2many("mail.tracked.event", "recipient_id", "Events", readonly=True)

    # Reporting (N3, N5): 0 or 100 per email, so that their average is a rate (STATE_RATES)
    open_rate = fields.Integer(
        "Open Rate (%)", compute="_compute_rates", store=True, aggregator="avg", readonly=True)
    click_rate = fields.Integer(
        "Click Rate (%)", compute="_compute_rates", store=True, aggregator="avg", readonly=True)
    machine_rate = fields.Integer(
        "Machine Activity (%)", readonly=True, default=0, aggregator="avg",
        help="100 when a privacy proxy or a scanner fetched this email's pixel or followed its links: "
             "their average is the share of emails that machines touched.")
    commercial_partner_id = fields.Many2one(
        related="partner_id.commercial_partner_id", store=True, index="btree_not_null", string="Company")
    lead_id = fields.Many2one(
        "crm.lead", "Opportunity", compute="_compute_lead_id", store=True, index="btree_not_null")

    sql_constraints(locals(), ("token_digest_unique", "unique(token_digest)", "Tracking tokens are unique."))

    def init(self):
        # an author's activity feed, newest first (N2, X3)
        tools.create_index(self.env.cr, "mail_tracked_recipient_author_sent_index", self._table,
                           ["author_id", "sent_date"])
        tools.create_index(self.env.cr, "mail_tracked_recipient_author_replied_index", self._table,
                           ["author_id", "replied_date"], where="replied_date IS NOT NULL")

    @api.depends("event_ids")
    def _compute_engagement(self):
        stats = {
            (recipient, event_type): (count, last_date)
            for recipient, event_type, count, last_date in self.env["mail.tracked.event"]._read_group(
                [("recipient_id", "in", self.ids), ("is_counted", "=", True)],
                ["recipient_id", "event_type"], ["__count", "event_date:max"])
        }
        for recipient in self:
            opens, last_open = stats.get((recipient, "open"), (0, False))
            recipient.open_count = opens
            recipient.last_open_date = last_open
            recipient.click_count = stats.get((recipient, "click"), (0, False))[0]

    @api.depends("state")
    def _compute_rates(self):
        for recipient in self:
            recipient.open_rate, recipient.click_rate = STATE_RATES[recipient.state]

    @api.depends("model", "res_id")
    def _compute_lead_id(self):
        for recipient in self:
            recipient.lead_id = recipient.res_id if recipient.model == "crm.lead" else False

    @api.model
    def _token_secret(self):
        return self.env["ir.config_parameter"].sudo().get_param("database.secret")

    # ------------------------------------------------------------
    # The state machine: sent -> opened -> clicked, never back (T6, T8, L9)
    # ------------------------------------------------------------

    def _advance(self, evidence, date, ip=None, user_agent=None, event_id=None):
        """Move this recipient forward after an ``evidence`` ("open", "click" or
        "reply") recorded at ``date`` (see ``Recorder.advance``, the state
        machine's one home). Returns the inferred open's id, if any."""
        self.ensure_one()
        inferred = self.env["mail.tracked.event"]._recorder().advance(
            self.id, evidence, date, ip, user_agent, event_id)
        self.invalidate_recordset(["state", "first_open_date", "replied_date", "open_rate", "click_rate"])
        return inferred

    # ------------------------------------------------------------
    # Telling the web clients: the chatters (N4) and the author (N1, N2)
    # ------------------------------------------------------------

    def _notify_engagement(self, row, evidence, date):
        """Tell the web clients that this recipient just opened, clicked or
        replied, from ``row`` (see ``Recorder.notify_engagement``)."""
        self.env["mail.tracked.event"]._recorder(flush=False).notify_engagement(row, evidence, date)

    @api.model
    def _push_refresh(self, model, res_id, message_id):
        """Tell the chatters showing a record that one of its emails' tracking
        changed (see ``Recorder.push_refresh``)."""
        self.env["mail.tracked.event"]._recorder(flush=False).push_refresh(model, res_id, message_id)

    @api.model
    def _optout_contact(self, token):
        """The contact whose email carried ``token``, for the opt-out page (P2)."""
        digest = token_digest(token)
        if not digest:
            return self.env["res.partner"]
        recipient = self.sudo().search([("token_digest", "=", digest), ("partner_id", "!=", False)], limit=1)
        return recipient.partner_id

    # ------------------------------------------------------------
    # Privacy: visibility (P4) and retention (P3)
    # ------------------------------------------------------------

    @tools.ormcache()
    def _tracked_models(self):
        self.env.cr.execute("SELECT DISTINCT model FROM mail_tracked_recipient WHERE model IS NOT NULL")
        return tuple(model for (model,) in self.env.cr.fetchall())

    @api.model
    def _visibility_domain(self):
        """Tracking details are for the email's author and for the users who
        can read every record the email is linked to: the record it was sent
        from and the records it is logged on (P4). The company may widen this
        to the users who can read any of them."""
        def readable(model):
            return model in self.env and self.env[model].has_access("read")

        sent_from_readable = OR([
            [("model", "=", model), ("res_id", "in", self.env[model]._search([]))]
            for model in self._tracked_models() if readable(model)
        ] or [FALSE_DOMAIN])
        Association = self.env["mail.message.association"].sudo()
        associated_models = Association._associated_models()
        if associated_models:
            logged_on_unreadable = Association._search(OR([
                [("model", "=", model), ("res_id", "not in", self.env[model]._search([]))] if readable(model)
                else [("model", "=", model)]
                for model in associated_models
            ])).subselect("message_id")
            linked = AND([sent_from_readable, [("message_id", "not in", logged_on_unreadable)]])
        else:
            linked = sent_from_readable
        if (widened := self._visibility_widened_emails()) is not None:
            logged_on_readable = Association._search(OR([
                [("model", "=", model), ("res_id", "in", self.env[model]._search([]))]
                for model in associated_models if readable(model)
            ] or [FALSE_DOMAIN])).subselect("message_id")
            any_linked = OR([sent_from_readable, [("message_id", "in", logged_on_readable)]])
            linked = OR([linked, AND([[("message_id", "in", widened)], any_linked])])
        return OR([[("author_id", "=", self.env.user.partner_id.id)], linked])

    @api.model
    def _visibility_widened_emails(self):
        """The emails whose company shows their tracking to the readers of any
        linked record, as a query (None when no company does): the company is
        the email's, never the viewer's, so that a user whose current company
        chose it sees no more of another company's emails (P4). Only the
        companies the user works in now widen anything; an email without a
        company follows the current company's choice."""
        widening = self.env.companies.filtered(lambda company: company.mail_tracking_visibility == "any")
        if not widening:
            return None
        domain = [("record_company_id", "in", widening.ids)]
        if self.env["res.company"]._mail_rules_company() in widening:
            domain = OR([domain, [("record_company_id", "=", False)]])
        # sudo: which emails, as a subquery; the tracked emails' own rule does the rest
        return self.env["mail.message"].sudo()._search(domain)

    @api.autovacuum
    def _gc_expired_tracking(self):
        """Delete tracked emails and events older than the retention period (P3)."""
        days = int(self.env["ir.config_parameter"].sudo().get_param("mail_tracking_ext.retention_days", 365))
        if days <= 0:
            return
        self.env.cr.execute("""
            DELETE FROM mail_tracked_event WHERE event_date < now() at time zone 'utc' - make_interval(days => %(days)s)
        """, {"days": days})
        self.env.cr.execute("""
            DELETE FROM mail_tracked_recipient
             WHERE sent_date < now() at time zone 'utc' - make_interval(days => %(days)s)
        """, {"days": days})

    # ------------------------------------------------------------
    # Replies (L9)
    # ------------------------------------------------------------

    @api.model
    def _record_reply(self, email_values):
        """Mark the tracked copies that an incoming email answers (by its
        In-Reply-To/References) as replied by its sender, and advance them: a
        reply proves the email was read. Nothing is recorded for a contact who
        withdrew (P2)."""
        references = tools.mail.unfold_references(
            f"{email_values.get('references') or ''} {email_values.get('in_reply_to') or ''}")
        sender = tools.email_normalize(email_values.get("email_from") or "")
        if not references or not sender:
            return self.browse()
        recipients = self.sudo().search([
            ("message_id.message_id", "in", references[-32:]), ("replied_date", "=", False),
        ]).filtered(lambda recipient: not recipient.is_aggregate and not recipient.partner_id.do_not_track
                    and sender in ({recipient.partner_id.email_normalized} | {
                        tools.email_normalize(email) for email in (recipient.email or "").split(",")}))
        now = fields.Datetime.now()
        for recipient in recipients:
            recipient._advance("reply", now)
            message = recipient.message_id
            recipient._notify_engagement({
                "message_id": message.id, "model": message.model, "res_id": message.res_id,
                "author_id": message.author_id.id, "url": False,
                # a reply is never notified; None: the author is no active internal user (P4)
                "author_notify": False if message.author_id.user_ids.filtered(lambda user: not user.share) else None,
                "partner_id": recipient.partner_id.id, "partner_name": recipient.partner_id.name,
                "email": recipient.email, "is_aggregate": False, "subject": message.subject or message.record_name,
            }, "reply", now)
        return recipients
