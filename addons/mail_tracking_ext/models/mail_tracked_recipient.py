import re
import secrets

from odoo import api, fields, models, tools

from ..tools import add_open_pixel, new_token, rewrite_links, token_digest, truncate_ip
from ..tools.html import LINK_REF_LENGTH

USER_AGENT_MAX_LENGTH = 512
LINK_REF = re.compile(rf"[0-9a-f]{{{LINK_REF_LENGTH}}}")


class MailTrackedRecipient(models.Model):
    """One tracked SMTP message: what one recipient (or, for raw addresses sent
    together, an anonymous group) received, with its engagement status.

    Odoo sends one SMTP message per partner recipient, so each contact gets
    their own token, pixel and links (T1, T2); raw To/Cc addresses sent in a
    single SMTP message share one anonymous record (T7). Events are appended
    by the public routes with one SQL statement each.
    """
    _name = "mail.tracked.recipient"
    _description = "Tracked Email Recipient"
    _order = "sent_date desc, id desc"
    _rec_name = "email"

    # What was sent, to whom
    message_id = fields.Many2one(
        "mail.message", "Email", required=True, ondelete="cascade", index=True, readonly=True)
    mail_id_int = fields.Integer("Outgoing Mail ID", index="btree_not_null", readonly=True,
                                 help="The mail.mail that was sent; it may be deleted since.")
    partner_id = fields.Many2one(
        "res.partner", "Contact", ondelete="set null", index="btree_not_null", readonly=True,
        help="Empty when several raw addresses received one shared message (anonymous).")
    email = fields.Char("Sent To", readonly=True)
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
    last_open_date = fields.Datetime("Last Opened On", compute="_compute_engagement")
    open_count = fields.Integer("Opens", compute="_compute_engagement")
    click_count = fields.Integer("Clicks", compute="_compute_engagement")
    event_ids = fields.One2many("mail.tracked.event", "recipient_id", "Events", readonly=True)

    _sql_constraints = [
        ("token_digest_unique", "unique(token_digest)", "Tracking tokens are unique."),
    ]

    @api.depends("event_ids")
    def _compute_engagement(self):
        stats = {
            (recipient, event_type): (count, last_date)
            for recipient, event_type, count, last_date in self.env["mail.tracked.event"]._read_group(
                [("recipient_id", "in", self.ids)],
                ["recipient_id", "event_type"], ["__count", "event_date:max"])
        }
        for recipient in self:
            opens, last_open = stats.get((recipient, "open"), (0, False))
            recipient.open_count = opens
            recipient.last_open_date = last_open
            recipient.click_count = stats.get((recipient, "click"), (0, False))[0]

    # ------------------------------------------------------------
    # Sending
    # ------------------------------------------------------------

    @api.model
    def _track_outgoing(self, mail, email_list):
        """Give each trackable entry of ``mail._prepare_outgoing_list()`` its
        own token, pixel and click links; return the list with new bodies."""
        message = mail.mail_message_id
        author_user = message.author_id.user_ids.filtered(lambda user: not user.share)[:1]
        if not author_user or tools.is_html_empty(message.body):
            return email_list
        excluded = self.env["mail.tracking.exclusion"]._excluded_emails(
            {email for values in email_list for email in values["email_to_normalized"]}, author_user)
        trackable = [
            values for values in email_list
            if not tools.is_html_empty(values["body"])
            and values["email_to_normalized"]
            and not excluded.intersection(values["email_to_normalized"])
            and not (values["partner_id"] and not values["partner_id"].partner_share)
        ]
        if not trackable:
            return email_list

        base_url = mail.get_base_url()
        # bodies are rewritten once, then each recipient's token is put in
        placeholder = f"mtxtoken{secrets.token_hex(8)}"
        tokens = [new_token() for _values in trackable]
        self.sudo().create([{
            "message_id": message.id,
            "mail_id_int": mail.id,
            "partner_id": values["partner_id"].id if values["partner_id"] else False,
            "email": ", ".join(values["email_to_normalized"]),
            "token_digest": token_digest(token),
        } for values, token in zip(trackable, tokens)])

        rewritten, links = {}, {}
        for values, token in zip(trackable, tokens):
            body = values["body"]
            if body not in rewritten:
                new_body = body
                if message.track_clicks:
                    new_body, body_links = rewrite_links(
                        body, base_url, lambda ref: f"{base_url}/email-tracking/click/{placeholder}/{ref}")
                    links.update(body_links)
                if message.track_opens:
                    new_body = add_open_pixel(new_body, f"{base_url}/email-tracking/open/{placeholder}.gif")
                rewritten[body] = new_body
            values["body"] = rewritten[body].replace(placeholder, token)
        if links:
            self.env["mail.tracked.link"]._ensure_links(message, links)
        return email_list

    @api.model
    def _discard_unsent(self, mails, success_pids, failure_type):
        """Forget the recipients whose message did not leave (R5): their token
        was never delivered, so no event could ever be recorded for them."""
        recipients = self.sudo().search([("mail_id_int", "in", mails.ids)])
        failed_mail_ids = set(mails.filtered(lambda mail: mail.state == "exception").ids)
        recipients.filtered(
            lambda recipient: recipient.mail_id_int in failed_mail_ids
            or (failure_type and recipient.partner_id and recipient.partner_id not in success_pids)
        ).unlink()

    # ------------------------------------------------------------
    # Public routes: one SQL statement each, nothing written for unknown tokens
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
    def _record_open(self, token, ip=None, user_agent=None):
        """Record an open of the email carrying ``token`` (T1)."""
        values = self._event_values(token, ip, user_agent)
        if not values["digest"]:
            return
        self.env.cr.execute("""
            WITH recipient AS (
                SELECT r.id, r.state
                  FROM mail_tracked_recipient r
                  JOIN mail_message m ON m.id = r.message_id
                 WHERE r.token_digest = %(digest)s AND m.track_opens
            ), event AS (
                INSERT INTO mail_tracked_event (recipient_id, event_type, event_date, ip, user_agent, is_inferred)
                SELECT id, 'open', %(now)s, %(ip)s, %(user_agent)s, false FROM recipient
            )
            UPDATE mail_tracked_recipient r
               SET state = 'opened', first_open_date = %(now)s
              FROM recipient
             WHERE r.id = recipient.id AND recipient.state = 'sent'
        """, values)

    @api.model
    def _record_click(self, token, ref, ip=None, user_agent=None, record=True):
        """Record a click on link ``ref`` of the email carrying ``token`` and
        return the link's original URL, or None when there is no such link (T2).
        A first click without a recorded open adds an inferred open (T8)."""
        values = dict(self._event_values(token, ip, user_agent), ref=ref)
        if not values["digest"] or not LINK_REF.fullmatch(ref or ""):
            return None
        if not record:
            self.env.cr.execute("""
                SELECT l.url
                  FROM mail_tracked_recipient r
                  JOIN mail_message m ON m.id = r.message_id
                  JOIN mail_tracked_link l ON l.message_id = r.message_id AND l.ref = %(ref)s
                 WHERE r.token_digest = %(digest)s AND m.track_clicks
            """, values)
        else:
            self.env.cr.execute("""
                WITH target AS (
                    SELECT r.id, r.state, l.id AS link_id, l.url
                      FROM mail_tracked_recipient r
                      JOIN mail_message m ON m.id = r.message_id
                      JOIN mail_tracked_link l ON l.message_id = r.message_id AND l.ref = %(ref)s
                     WHERE r.token_digest = %(digest)s AND m.track_clicks
                ), click AS (
                    INSERT INTO mail_tracked_event
                           (recipient_id, link_id, event_type, event_date, ip, user_agent, is_inferred)
                    SELECT id, link_id, 'click', %(now)s, %(ip)s, %(user_agent)s, false FROM target
                ), inferred_open AS (
                    INSERT INTO mail_tracked_event
                           (recipient_id, event_type, event_date, ip, user_agent, is_inferred)
                    SELECT id, 'open', %(now)s, %(ip)s, %(user_agent)s, true FROM target WHERE state = 'sent'
                ), status AS (
                    UPDATE mail_tracked_recipient r
                       SET state = 'clicked', first_open_date = COALESCE(r.first_open_date, %(now)s)
                      FROM target
                     WHERE r.id = target.id AND target.state != 'clicked'
                )
                SELECT url FROM target
            """, values)
        row = self.env.cr.fetchone()
        return row[0] if row else None
