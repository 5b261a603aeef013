import re
import secrets
from datetime import timedelta

import psycopg2.errors
from markupsafe import Markup

from odoo import api, fields, models, tools
from odoo.osv import expression
from odoo.tools import SQL

from ..tools import (
    add_open_pixel,
    append_to_body,
    message_id_of,
    message_key,
    new_token,
    rewrite_links,
    token_digest,
    truncate_ip,
)
from ..tools.html import LINK_REF_LENGTH

USER_AGENT_MAX_LENGTH = 512
# Reloads of the same pixel (or link) within this window notify nobody again (N1).
NOTIFY_WINDOW = timedelta(minutes=10)
# Subchannel of a record that the chatters showing it listen to (N4).
MAIL_TRACKING_BUS_SUBCHANNEL = "mail_tracking_ext"
LINK_REF = re.compile(rf"[0-9a-f]{{{LINK_REF_LENGTH}}}")
# Names, inside Odoo only, the tracked copy an outgoing message is: ir.mail_server takes it
# off before the message leaves (T11) and so learns which copies the SMTP server accepted.
COPY_HEADER = "X-Mail-Tracking-Ext-Copy"
# The cursor's record of this transaction's copies: {"prepared": {mail id: {recipient ids}},
# "accepted": {recipient ids}}; only ids, so nothing outlives the cursor.
COPIES_CACHE_KEY = "mail_tracking_ext.copies"
# What the open and click statements return of the tracked email for the author's
# notification and the live chatter (N1, N4, A2): a recipient ``r``, its message
# ``m`` and contact ``p``, and ``%(session_uid)s``, the browser's logged-in user.
ENGAGEMENT_ROW_COLUMNS = """
    r.id, r.state, r.first_open_date, r.message_id, r.partner_id, r.email, r.is_aggregate,
    p.name AS partner_name, m.author_id, m.model, m.res_id, COALESCE(m.subject, m.record_name) AS subject,
    EXISTS (SELECT FROM res_users u WHERE u.id = %(session_uid)s AND u.partner_id = m.author_id) AS is_sender,
    (SELECT bool_or(u.mail_tracking_notify) FROM res_users u
      WHERE u.partner_id = m.author_id AND u.active AND NOT u.share) AS author_notify"""
ENGAGEMENT_ROW_JOINS = """
    FROM mail_tracked_recipient r
    JOIN mail_message m ON m.id = r.message_id
    LEFT JOIN res_partner p ON p.id = r.partner_id"""


class MailTrackedRecipient(models.Model):
    """One tracked SMTP message: what one recipient (or, for raw addresses sent
    together, an anonymous group) received, with its engagement status.

    Odoo sends one SMTP message per partner recipient, so each contact gets
    their own token, pixel and links (T1, T2); raw To/Cc addresses sent in a
    single SMTP message share one anonymous record (T7). Events are appended
    by the public routes with one SQL statement each.
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
        help="One pixel shared by the recipients who are not tracked individually (P1): "
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
        help="First reply of this recipient, matched by In-Reply-To/References (L9).")
    last_open_date = fields.Datetime("Last Opened On", compute="_compute_engagement")
    open_count = fields.Integer("Opens", compute="_compute_engagement")
    click_count = fields.Integer("Clicks", compute="_compute_engagement")
    event_ids = fields.One2many("mail.tracked.event", "recipient_id", "Events", readonly=True)

    # Reporting (N3, N5): 0 or 100 per email, so that their average is a rate;
    # the public routes' SQL keeps them in step with the state.
    open_rate = fields.Integer(
        "Open Rate (%)", compute="_compute_rates", store=True, aggregator="avg", readonly=True)
    click_rate = fields.Integer(
        "Click Rate (%)", compute="_compute_rates", store=True, aggregator="avg", readonly=True)
    commercial_partner_id = fields.Many2one(
        related="partner_id.commercial_partner_id", store=True, index="btree_not_null", string="Company")
    lead_id = fields.Many2one(
        "crm.lead", "Opportunity", compute="_compute_lead_id", store=True, index="btree_not_null")

    _sql_constraints = [
        ("token_digest_unique", "unique(token_digest)", "Tracking tokens are unique."),
    ]

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
                [("recipient_id", "in", self.ids), ("is_sender", "=", False)],
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
            recipient.open_rate = 100 if recipient.state in ("opened", "clicked") else 0
            recipient.click_rate = 100 if recipient.state == "clicked" else 0

    @api.depends("model", "res_id")
    def _compute_lead_id(self):
        for recipient in self:
            recipient.lead_id = recipient.res_id if recipient.model == "crm.lead" else False

    # ------------------------------------------------------------
    # Statistics on linked records (N5)
    # ------------------------------------------------------------

    @api.model
    def _engagement_stats(self, field_name, ids):
        """``{id: {count, open_rate, click_rate, last_open}}`` of the tracked
        emails the user may see whose ``field_name`` is one of ``ids``, in two
        grouped queries whatever the number of ids."""
        stats = {
            record.id: {"count": count, "open_rate": round(open_rate or 0),
                        "click_rate": round(click_rate or 0), "last_open": False}
            for record, count, open_rate, click_rate in self._read_group(
                [(field_name, "in", ids)], [field_name], ["__count", "open_rate:avg", "click_rate:avg"])
        }
        if stats:
            # each email's latest open from the (recipient_id, event_date) index, not every open (X3)
            self.env["mail.tracked.event"].flush_model(["recipient_id", "event_type", "event_date", "is_sender"])
            self.env.cr.execute(SQL("""
                SELECT r.%(field)s, max(latest.event_date)
                  FROM mail_tracked_recipient r
                 CROSS JOIN LATERAL (
                        SELECT e.event_date FROM mail_tracked_event e
                         WHERE e.recipient_id = r.id AND e.event_type = 'open' AND e.is_sender IS NOT TRUE
                      ORDER BY e.event_date DESC LIMIT 1) latest
                 WHERE r.id IN %(recipients)s
              GROUP BY r.%(field)s
            """, field=SQL.identifier(field_name),
                recipients=self._search([(field_name, "in", list(stats))]).subselect()))
            for record_id, last_open in self.env.cr.fetchall():
                stats[record_id]["last_open"] = last_open
        return stats

    @api.model
    def _action_for_stats(self, domain, name):
        """The tracked-email list of a statistics button, filtered by its
        ``mail_tracking_filter`` context key."""
        action = self.env["ir.actions.act_window"]._for_xml_id("mail_tracking_ext.mail_tracked_recipient_action")
        context = {}
        if self.env.context.get("mail_tracking_filter") in ("opened", "clicked"):
            context[f"search_default_{self.env.context['mail_tracking_filter']}"] = 1
        action.update(domain=domain, context=context, name=self.env._("Tracked Emails: %s", name))
        return action

    # ------------------------------------------------------------
    # Sending
    # ------------------------------------------------------------

    @api.model
    def _track_outgoing(self, mail, email_list):
        """Give each trackable entry of ``mail._prepare_outgoing_list()`` its
        own token, pixel and click links; return the list with new bodies.

        With the company's data privacy on (P1), only contacts with a legal
        basis are tracked individually; the others get nothing or, if the
        company measures opens anonymously, one pixel shared by all of them.
        """
        message = mail.mail_message_id
        author_user = message.author_id.user_ids.filtered(lambda user: not user.share)[:1]
        if not author_user or tools.is_html_empty(message.body):
            return email_list
        company = message.record_company_id or author_user.company_id
        excluded = self.env["mail.tracking.exclusion"]._excluded_emails(
            {email for values in email_list for email in values["email_to_normalized"]}, author_user)
        personal, shared = [], []
        for values in email_list:
            partner = values["partner_id"]
            if (tools.is_html_empty(values["body"]) or not values["email_to_normalized"]
                    or excluded.intersection(values["email_to_normalized"])
                    or (partner and (not partner.partner_share or partner.do_not_track))):
                continue
            if partner._is_individually_trackable(company) if partner else not company.mail_tracking_privacy:
                personal.append(values)
            elif company.mail_tracking_anonymous_opens and message.track_opens:
                shared.append(values)
        if not personal and not shared:
            return email_list

        key = message_key(message.id, self._token_secret())
        tokens = [new_token(key) for _values in personal]
        create_values = [{
            "message_id": message.id,
            "mail_id_int": mail.id,
            "partner_id": values["partner_id"].id if values["partner_id"] else False,
            "email": ", ".join(values["email_to_normalized"]),
            "token_digest": token_digest(token),
        } for values, token in zip(personal, tokens, strict=True)]
        shared_token = new_token(key)
        if shared:
            create_values.append({
                "message_id": message.id,
                "mail_id_int": mail.id,
                "is_aggregate": True,
                "token_digest": token_digest(shared_token),
            })
        copies = self.sudo().create(create_values)
        self._copies_prepared(mail, copies)
        personal_copies, aggregate = copies[:len(personal)], copies[len(personal):]
        for values, copy in [*zip(personal, personal_copies, strict=True), *((values, aggregate) for values in shared)]:
            values["headers"] = {**values["headers"], COPY_HEADER: str(copy.id)}
        if message.model and message.model not in self._tracked_models():
            self.env.registry.clear_cache()

        base_url = mail.get_base_url()
        # bodies are rewritten once, then each recipient's token is put in
        placeholder = f"mtxtoken{secrets.token_hex(8)}"
        pixel_url = f"{base_url}/email-tracking/open/{placeholder}.gif"
        rewritten, links = {}, {}
        for values, token in zip(personal, tokens, strict=True):
            body = values["body"]
            if body not in rewritten:
                new_body = body
                if message.track_clicks:
                    new_body, body_links = rewrite_links(
                        body, base_url, lambda ref: f"{base_url}/email-tracking/click/{placeholder}/{ref}")
                    links.update(body_links)
                if message.track_opens:
                    new_body = add_open_pixel(new_body, pixel_url)
                rewritten[body] = new_body
            new_body = rewritten[body]
            if company.mail_tracking_optout_link and values["partner_id"]:
                new_body = append_to_body(new_body, self._optout_link_html(
                    values["partner_id"], f"{base_url}/email-tracking/optout/{placeholder}"))
            values["body"] = new_body.replace(placeholder, token)
        for values in shared:
            values["body"] = add_open_pixel(values["body"], pixel_url.replace(placeholder, shared_token))
        if links:
            message._add_tracked_links(links)
        return email_list

    def _optout_link_html(self, partner, url):
        label = self.with_context(lang=partner.lang).env._("Stop tracking my activity on these emails")
        return str(Markup(
            '<p style="font-size:11px;color:#888888;margin-top:16px;">'
            '<a href="%s" style="color:#888888;" data-no-track="1">%s</a></p>'
        ) % (url, label))

    @api.model
    def _token_secret(self):
        return self.env["ir.config_parameter"].sudo().get_param("database.secret")

    @api.model
    def _copies_prepared(self, mail, copies):
        copies_state = self.env.cr.cache.setdefault(COPIES_CACHE_KEY, {"prepared": {}, "accepted": set()})
        copies_state["prepared"].setdefault(mail.id, set()).update(copies.ids)

    @api.model
    def _copy_accepted(self, copy_id):
        """The SMTP server accepted the message of tracked copy ``copy_id``."""
        copies_state = self.env.cr.cache.get(COPIES_CACHE_KEY)
        if copies_state:
            copies_state["accepted"].add(copy_id)

    @api.model
    def _settle_sent(self, mails):
        """After Odoo tried to send ``mails``: forget the tracked copies the SMTP
        server did not accept (R5), and tell the chatters of the emails that
        left with no tracked copy at all (every recipient on a never-track list,
        or not trackable) to drop their tracking icons (N4).

        Odoo sends one copy per contact and stops at the first refusal, so the
        other copies of one email may well have left: each copy is judged by its
        own SMTP answer."""
        copies_state = self.env.cr.cache.get(COPIES_CACHE_KEY) or {"prepared": {}, "accepted": set()}
        prepared = {mail_id: copies_state["prepared"].pop(mail_id, set()) for mail_id in mails.ids}
        all_prepared = set().union(*prepared.values())
        unaccepted = all_prepared - copies_state["accepted"]
        copies_state["accepted"] -= all_prepared
        if unaccepted:
            self.sudo().browse(unaccepted).exists().unlink()
        untracked = mails.filtered(lambda mail: not prepared[mail.id]).mail_message_id
        if untracked:
            tracked = set(self.sudo().search([("message_id", "in", untracked.ids)]).message_id.ids)
            for message in untracked.filtered(lambda message: message.id not in tracked and message.model):
                self._push_refresh(message.model, message.res_id, message.id)

    # ------------------------------------------------------------
    # Public routes: one SQL statement each, nothing written for unknown
    # tokens, nothing written once the contact withdrew (P2)
    # ------------------------------------------------------------

    @api.model
    def _event_values(self, token, ip, user_agent):
        return {
            "digest": token_digest(token),
            "now": fields.Datetime.now(),
            "ip": truncate_ip(ip),
            "user_agent": (user_agent or "").replace("\x00", "")[:USER_AGENT_MAX_LENGTH] or None,
        }

    @api.model
    def _record_open(self, token, ip=None, user_agent=None, session_uid=None):
        """Record an open of the email carrying ``token`` (T1). ``session_uid``
        is the Odoo user logged in in the browser that loaded the pixel: when
        it is the author, the open is theirs, kept apart and never counted nor
        notified (A2). The statement returns what the author's notification and
        the live chatter need (N1, N4)."""
        values = dict(self._event_values(token, ip, user_agent), session_uid=session_uid)
        if not values["digest"]:
            return
        self.env.cr.execute(f"""
            WITH recipient AS (
                SELECT {ENGAGEMENT_ROW_COLUMNS},
                       (SELECT e.event_date FROM mail_tracked_event e
                         WHERE e.recipient_id = r.id AND e.event_type = 'open' AND e.is_sender IS NOT TRUE
                      ORDER BY e.event_date DESC LIMIT 1) AS previous_date
                  {ENGAGEMENT_ROW_JOINS}
                 WHERE r.token_digest = %(digest)s AND m.track_opens AND p.do_not_track IS NOT TRUE
            ), event AS (
                INSERT INTO mail_tracked_event
                       (recipient_id, author_id, event_type, event_date, ip, user_agent, is_inferred, is_sender)
                SELECT id, author_id, 'open', %(now)s, %(ip)s, %(user_agent)s, false, is_sender FROM recipient
             RETURNING id
            )
            SELECT recipient.*, event.id AS event_id FROM recipient, event
        """, values)
        row = self.env.cr.dictfetchone()
        if row and not row["is_sender"]:
            if row["state"] == "sent":
                self._advance_state(row["id"], "opened", values)
            self._push_engagement(row, "open", values["now"], row["event_id"])

    @api.model
    def _record_click(self, token, ref, ip=None, user_agent=None, record=True, session_uid=None):
        """Return the original URL of link ``ref`` of the email carrying
        ``token``, or None when there is no such link (T2); record the click
        unless ``record`` is false. A first click without a recorded open adds
        an inferred open (T8). The author's own clicks (``session_uid``, see
        ``_record_open``) are kept apart and change nothing (A2)."""
        values = dict(self._event_values(token, ip, user_agent), ref=ref, record=record,
                      session_uid=session_uid)
        if not values["digest"] or not LINK_REF.fullmatch(ref or ""):
            return None
        self.env.cr.execute(f"""
            WITH target AS (
                SELECT {ENGAGEMENT_ROW_COLUMNS}, m.tracked_links ->> %(ref)s AS url,
                       %(record)s AND m.track_clicks AND p.do_not_track IS NOT TRUE AS recordable,
                       (SELECT e.event_date FROM mail_tracked_event e
                         WHERE e.recipient_id = r.id AND e.event_type = 'click'
                           AND e.url = m.tracked_links ->> %(ref)s
                           AND e.is_sender IS NOT TRUE
                      ORDER BY e.event_date DESC LIMIT 1) AS previous_date
                  {ENGAGEMENT_ROW_JOINS}
                 WHERE r.token_digest = %(digest)s AND m.tracked_links ? %(ref)s
            ), click AS (
                INSERT INTO mail_tracked_event
                       (recipient_id, author_id, url, event_type, event_date, ip, user_agent, is_inferred, is_sender)
                SELECT id, author_id, url, 'click', %(now)s, %(ip)s, %(user_agent)s, false, is_sender
                  FROM target WHERE recordable
             RETURNING id
            )
            SELECT target.*, (SELECT id FROM click) AS event_id FROM target
        """, values)
        row = self.env.cr.dictfetchone()
        if not row:
            return self._link_of_email(token, ref)
        if row["event_id"] and not row["is_sender"]:
            if row["state"] != "clicked":
                row["inferred_open_id"] = self._advance_state(row["id"], "clicked", values)
            self._push_engagement(row, "click", values["now"], row["event_id"])
        return row["url"]

    @api.model
    def _link_of_email(self, token, ref):
        """The original URL of link ``ref`` of the email that ``token``'s key
        names, when the copy's tracking is gone (a contact erased, the
        retention period, a delivery retried): the link still works, and
        nothing is recorded. The URL comes from the email's own links (R2)."""
        message_id = message_id_of(token, self._token_secret())
        if not message_id:
            return None
        self.env.cr.execute(SQL("SELECT tracked_links ->> %(ref)s FROM mail_message WHERE id = %(id)s",
                                ref=ref, id=message_id))
        row = self.env.cr.fetchone()
        return row and row[0]

    @api.model
    def _advance_state(self, recipient_id, state, values):
        """Move a recipient to ``state`` ("opened" or "clicked") after its first
        open or click; a first click without an open adds an inferred open (T8).
        Returns the inferred open's id, if any.

        It happens in the request's own transaction, after its event: the state
        never exists without its event (R7). Scanners follow every link at once
        and mail clients load pixels twice, so simultaneous first events of one
        recipient are the rule: they race for its row, and the REPEATABLE READ
        transactions that lose may not update it after the winner did. They need
        not: the winner changed the state and inferred the open. The losers give
        up that step under a savepoint and keep their events."""
        cr = self.env.cr
        try:
            with cr.savepoint(flush=False):
                # NO KEY UPDATE: the requests' event inserts hold KEY SHARE locks on the row
                cr.execute(SQL("SELECT state FROM mail_tracked_recipient WHERE id = %s FOR NO KEY UPDATE",
                               recipient_id), log_exceptions=False)
                previous = cr.fetchone()
                if not previous or previous[0] == state or (state == "opened" and previous[0] != "sent"):
                    return None
                cr.execute(SQL("""
                    UPDATE mail_tracked_recipient
                       SET state = %(state)s, first_open_date = COALESCE(first_open_date, %(now)s),
                           open_rate = 100, click_rate = CASE WHEN %(state)s = 'clicked' THEN 100 ELSE click_rate END
                     WHERE id = %(id)s
                """, state=state, now=values["now"], id=recipient_id), log_exceptions=False)
                if state != "clicked" or previous[0] != "sent":
                    return None
                cr.execute(SQL("""
                    INSERT INTO mail_tracked_event
                           (recipient_id, author_id, event_type, event_date, ip, user_agent, is_inferred)
                    SELECT id, author_id, 'open', %(now)s, %(ip)s, %(user_agent)s, true
                      FROM mail_tracked_recipient WHERE id = %(id)s
                 RETURNING id
                """, now=values["now"], ip=values["ip"], user_agent=values["user_agent"], id=recipient_id),
                    log_exceptions=False)
                return cr.fetchone()[0]
        except psycopg2.errors.SerializationFailure:
            return None

    # ------------------------------------------------------------
    # Seeing engagement live: chatter (N4) and author's notification (N1)
    # ------------------------------------------------------------

    @api.model
    def _push_engagement(self, row, event_type, now, event_id):
        """Tell the web clients about an event just recorded from a row of the
        public routes' statement, without loading any record: the author
        (notified unless they opted out) and whoever has the email's record
        open. Reloads within ``NOTIFY_WINDOW`` push nothing."""
        if row["previous_date"] and row["previous_date"] > now - NOTIFY_WINDOW:
            return
        date = fields.Datetime.to_string(now)
        state = row["state"]
        if event_type == "click":
            state = "clicked"
        elif state == "sent":
            state = "opened"
        events = [{"id": event_id, "type": event_type, "date": date, "url": row.get("url") or False,
                   "inferred": False}]
        if row.get("inferred_open_id"):
            events.append({"id": row["inferred_open_id"], "type": "open", "date": date, "url": False,
                           "inferred": True})
        payload = {
            "message_id": row["message_id"],
            "recipient": {
                "id": row["id"],
                "partner_id": row["partner_id"] or False,
                "name": row["partner_name"] or False,
                "email": row["email"] or False,
                "anonymous": not row["partner_id"],
                "aggregate": bool(row["is_aggregate"]),
                "state": state,
                "first_open_date": fields.Datetime.to_string(row["first_open_date"]) or date,
            },
            "events": events,
            "for_author": False,
            "notify": False,
        }
        bus = self.env["bus.bus"].sudo()
        if row["model"] and row["res_id"]:
            self._push_refresh(row["model"], row["res_id"], row["message_id"])
        if row["author_id"]:
            bus._sendone(self.env["res.partner"].browse(row["author_id"]), "mail_tracking_ext/engagement", {
                **payload,
                "for_author": True,
                "notify": bool(row["author_notify"]),
                "subject": row["subject"] or False,
                "model": row["model"] or False,
                "res_id": row["res_id"] or False,
            })

    @api.model
    def _push_refresh(self, model, res_id, message_id):
        """Tell the chatters showing a record that one of its emails' tracking
        changed. Whoever has the record open may not see that tracking (P4): they
        only learn that it changed, and fetch what they may see."""
        if model in self.env:
            self.env["bus.bus"].sudo()._sendone(
                (self.env[model].browse(res_id), MAIL_TRACKING_BUS_SUBCHANNEL),
                "mail_tracking_ext/engagement", {"message_id": message_id, "refresh": True})

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

        sent_from_readable = expression.OR([
            [("model", "=", model), ("res_id", "in", self.env[model]._search([]))]
            for model in self._tracked_models() if readable(model)
        ] or [expression.FALSE_DOMAIN])
        Association = self.env["mail.message.association"].sudo()
        associated_models = Association._associated_models()
        if self.env.company.mail_tracking_visibility == "any":
            logged_on_readable = Association._search(expression.OR([
                [("model", "=", model), ("res_id", "in", self.env[model]._search([]))]
                for model in associated_models if readable(model)
            ] or [expression.FALSE_DOMAIN])).subselect("message_id")
            linked = expression.OR([sent_from_readable, [("message_id", "in", logged_on_readable)]])
        elif associated_models:
            logged_on_unreadable = Association._search(expression.OR([
                [("model", "=", model), ("res_id", "not in", self.env[model]._search([]))] if readable(model)
                else [("model", "=", model)]
                for model in associated_models
            ])).subselect("message_id")
            linked = expression.AND([sent_from_readable, [("message_id", "not in", logged_on_unreadable)]])
        else:
            linked = sent_from_readable
        return expression.OR([[("author_id", "=", self.env.user.partner_id.id)], linked])

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
        """Mark the tracked emails that an incoming email answers (by its
        In-Reply-To/References) as replied by its sender. A reply proves the
        email was read, so it also counts as an open, flagged inferred, when no
        open was recorded. The state keeps its Sent/Opened/Clicked meaning."""
        references = tools.mail.unfold_references(
            f"{email_values.get('references') or ''} {email_values.get('in_reply_to') or ''}")
        sender = tools.email_normalize(email_values.get("email_from") or "")
        if not references or not sender:
            return self.browse()
        recipients = self.sudo().search([
            ("message_id.message_id", "in", references[-32:]), ("replied_date", "=", False),
        ]).filtered(lambda recipient: not recipient.is_aggregate and sender in (
            {recipient.partner_id.email_normalized}
            | {tools.email_normalize(email) for email in (recipient.email or "").split(",")}))
        if "do_not_track" in self.env["res.partner"]._fields:
            # nothing is recorded for a contact who withdrew (P2)
            recipients = recipients.filtered(lambda recipient: not recipient.partner_id.do_not_track)
        if not recipients:
            return recipients
        now = fields.Datetime.now()
        unopened = recipients.filtered(lambda recipient: recipient.state == "sent")
        self.env["mail.tracked.event"].sudo().create([
            {"recipient_id": recipient.id, "event_type": "open", "event_date": now, "is_inferred": True}
            for recipient in unopened])
        unopened.write({"state": "opened", "first_open_date": now})
        recipients.write({"replied_date": now})
        return recipients
