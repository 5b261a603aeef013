import json

from odoo import _, api, fields, models
from odoo.addons.mail.tools.discuss import Store
from odoo.osv import expression

# Latest opens and clicks per recipient the chatter receives; the counts cover all (N4).
MAIL_TRACKING_EVENTS_SHOWN = 10


class MailMessage(models.Model):
    _inherit = "mail.message"

    track_opens = fields.Boolean(
        "Track Opens", readonly=True, help="Opens were tracked when this email was sent.")
    track_clicks = fields.Boolean(
        "Track Clicks", readonly=True, help="Link clicks were tracked when this email was sent.")
    tracked_links = fields.Json(
        "Tracked Links", readonly=True, copy=False, prefetch=False, groups="base.group_system",
        help="Original targets of the rewritten links, by reference: the click route "
             "redirects only to these (T2, R2).")
    tracked_recipient_ids = fields.One2many(
        "mail.tracked.recipient", "message_id", "Tracked Recipients", readonly=True)
    # Logging (L1, L2)
    log_email = fields.Boolean(
        "Logged to CRM", readonly=True,
        help="This email also appears on the timelines of its recipients' records.")
    association_ids = fields.One2many(
        "mail.message.association", "message_id", "Also On", readonly=True)

    @api.model
    def _message_fetch(self, domain, search_term=None, before=None, after=None, around=None, limit=30):
        """A record's timeline also shows the logged emails associated with it
        (L2); the controller names the record in the context."""
        thread = self.env.context.get("mail_logging_thread")
        if thread and self.env.user._is_internal():
            model, res_id = thread
            domain = expression.OR([domain, [
                ("association_ids", "any", [("model", "=", model), ("res_id", "=", res_id)]),
                ("message_type", "!=", "user_notification"),
            ]])
        return super()._message_fetch(
            domain, search_term=search_term, before=before, after=after, around=around, limit=limit)

    def _extras_to_store(self, store, format_reply):
        super()._extras_to_store(store, format_reply=format_reply)
        self._mail_tracking_to_store(store)
        # the chatter offers "Associations" on logged emails to internal users (L2)
        if self.env.user._is_internal():
            for message in self.filtered("log_email"):
                store.add(message, {"logEmail": True})

    def action_edit_associations(self):
        """Open the editor of the records this logged email appears on (L2)."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Associations"),
            "res_model": "mail.message.association.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_message_id": self.id},
        }

    def _add_tracked_links(self, links):
        """Remember the ``{ref: url}`` links rewritten in this message's email,
        in one statement whatever their number (X2)."""
        self.ensure_one()
        self.env.cr.execute("""
            UPDATE mail_message SET tracked_links = COALESCE(tracked_links, '{}'::jsonb) || %s::jsonb
             WHERE id = %s
        """, (json.dumps(links), self.id))
        self.invalidate_recordset(["tracked_links"])

    def _mail_tracking_status(self, events_per_type=MAIL_TRACKING_EVENTS_SHOWN):
        """Per-recipient engagement of these messages (T6), in three queries
        whatever the number of messages: ``{message_id: [recipient, ...]}``
        where each recipient is a dict ready for the web client, with its
        counts and its latest ``events_per_type`` opens and clicks (oldest
        first). Only the recipients the user may see are listed (P4); the
        author's own opens and clicks are left out (A2)."""
        recipients = self.env["mail.tracked.recipient"].search(
            [("message_id", "in", self.ids)], order="id")
        per_recipient = {recipient.id: {"opens": [], "clicks": [], "open": 0, "click": 0} for recipient in recipients}
        if recipients:
            self.env["mail.tracked.event"].flush_model()
            # a window keeps the latest events in SQL: a much-opened email stays cheap (X3)
            self.env.cr.execute("""
                SELECT e.recipient_id, e.event_type, e.id, e.event_date, e.is_inferred, e.url, e.total
                  FROM (SELECT id, recipient_id, event_type, event_date, is_inferred, url,
                               row_number() OVER (PARTITION BY recipient_id, event_type
                                                      ORDER BY event_date DESC, id DESC) AS rank,
                               count(*) OVER (PARTITION BY recipient_id, event_type) AS total
                          FROM mail_tracked_event
                         WHERE recipient_id = ANY(%(ids)s) AND is_sender IS NOT TRUE) e
                 WHERE e.rank <= %(limit)s
              ORDER BY e.event_date, e.id
            """, {"ids": recipients.ids, "limit": events_per_type})
            for recipient_id, event_type, event_id, date, inferred, url, total in self.env.cr.fetchall():
                history = per_recipient[recipient_id]
                history[event_type] = total
                if event_type == "open":
                    history["opens"].append({"id": event_id, "date": date, "inferred": bool(inferred)})
                else:
                    history["clicks"].append({"id": event_id, "date": date, "url": url})
        status = {message.id: [] for message in self}
        for recipient in recipients:
            history = per_recipient[recipient.id]
            status[recipient.message_id.id].append({
                "id": recipient.id,
                "partner_id": recipient.partner_id.id,
                "name": recipient.partner_id.name or False,
                "email": recipient.email,
                "anonymous": not recipient.partner_id,
                "aggregate": recipient.is_aggregate,
                "state": recipient.state,
                "sent_date": recipient.sent_date,
                "first_open_date": recipient.first_open_date,
                "last_open_date": history["opens"][-1]["date"] if history["opens"] else False,
                "open_count": history["open"],
                "click_count": history["click"],
                "opens": history["opens"],
                "clicks": history["clicks"],
            })
        return status

    def _mail_tracking_to_store(self, store):
        """Give the chatter the engagement of the tracked emails among these
        messages, for their open and click icons (N4), in a constant number of
        queries for the whole batch. Internal users only (P4)."""
        if not self.env.user._is_internal():
            return
        tracked = self.filtered(lambda message: message.track_opens or message.track_clicks)
        if not tracked:
            return
        status = tracked._mail_tracking_status()
        for message in tracked:
            recipients = status[message.id]
            if not recipients and not (
                    message.author_id == self.env.user.partner_id and message._mail_tracking_pending()):
                continue
            store.add(message, {"mailTracking": {
                "opens": message.track_opens,
                "clicks": message.track_clicks,
                "recipients": recipients,
            }})

    def _mail_tracking_pending(self):
        """Whether this tracked email still waits in the outgoing queue: its
        tracked recipients appear when it leaves."""
        self.ensure_one()
        # sudo: mail.notification - the web client gets these notifications anyway
        return any(
            notification.notification_type == "email" and notification.notification_status in ("ready", "process")
            for notification in self.sudo().notification_ids)

    def mail_tracking_fetch_status(self):
        """The current engagement of these tracked emails, for the chatter's
        popover (N4)."""
        self.check_access("read")
        store = Store()
        self._mail_tracking_to_store(store)
        return store.get_result()
