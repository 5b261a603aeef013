import json

from markupsafe import Markup

from odoo import Command, api, fields, models
from odoo.addons.mail.tools.discuss import Store
from odoo.exceptions import AccessError, UserError
from odoo.tools import SQL
from odoo.tools.misc import format_datetime

from ..tools.compat import AND, OR, post_access_mode, store_add_values
from ..tools.forwarded_email import FORWARD_SUBJECT, REPLY_SUBJECT, conversation_topic

# Latest opens and clicks per recipient the chatter receives; the counts cover all (N4).
MAIL_TRACKING_EVENTS_SHOWN = 10
# Context keys, where Odoo's API leaves no argument to pass the value through:
# - a composer answering a logged email: the mail.mail records created for its copies, deep in
#   message_post(), answer that email in their headers (L8);
LOGGED_EMAIL_REPLY_KEY = "mail_logged_email_reply_id"
# - the record whose timeline the chatter loads: Odoo's /mail/thread/messages route builds its
#   message domain inline and calls _message_fetch() without the record (L2).
TIMELINE_THREAD_KEY = "mail_logging_thread"


class MailMessage(models.Model):
    _inherit = "mail.message"

    # whether an email is tracked or logged is for the company's users, not its recipients (P4)
    track_opens = fields.Boolean(
        readonly=True, groups="base.group_user", help="Opens were tracked when this email was sent.")
    track_clicks = fields.Boolean(
        readonly=True, groups="base.group_user", help="Link clicks were tracked when this email was sent.")
    tracked_links = fields.Json(
        readonly=True, copy=False, prefetch=False, groups="base.group_system",
        help="Original targets of the rewritten links, by reference: the click route "
             "redirects only to these (T2, R2).")
    # No relation to tracked recipients or associations on emails: Odoo reads emails as
    # superuser once it checked the email itself (mail.message.fetch), and searches an email's
    # one2many without the other model's rules, so either would reveal what P4 hides. Users
    # reach those records through their own models.
    # Logging (L1, L2)
    log_email = fields.Boolean(
        "Logged to CRM", readonly=True, groups="base.group_user",
        help="This email also appears on the timelines of its recipients' records.")

    @api.model
    def _message_fetch(self, domain, *args, **kwargs):
        """A record's timeline also shows the logged emails associated with it
        (L2). 18.0's controller puts the record in the domain, and ours names it
        in the context; 19.0 passes it as ``thread``."""
        record = kwargs.get("thread")
        thread = (record._name, record.id) if record else self.env.context.get(TIMELINE_THREAD_KEY)
        if thread and self.env.user._is_internal():
            model, res_id = thread
            # sudo: which emails are on this timeline; mail.message's own search then checks each
            logged_here = self.env["mail.message.association"].sudo()._search(
                [("model", "=", model), ("res_id", "=", res_id)])
            logged = [("id", "in", logged_here.subselect("message_id")), ("message_type", "!=", "user_notification")]
            if record:
                # 19.0: the record's own messages (as Odoo's thread condition) or its logged emails
                own = [("res_id", "=", res_id), ("model", "=", model), ("message_type", "!=", "user_notification")]
                domain = AND([domain or [], OR([own, logged])])
                kwargs["thread"] = None
            else:
                domain = OR([domain, logged])
        return super()._message_fetch(domain, *args, **kwargs)

    def _extras_to_store(self, store, format_reply):
        result = super()._extras_to_store(store, format_reply=format_reply)
        self._mail_tracking_to_store(store)
        # the chatter offers the logged-email actions to internal users (L2, L8)
        if self.env.user._is_internal():
            logged = self.filtered("log_email")
            editable = logged.sudo(False)._mail_logging_editable()
            for message in logged:
                store_add_values(store, message, {"logEmail": True, "logEditable": message in editable})
        return result

    def _cleanup_side_records(self):
        # 18.0 (19.0 calls mail.thread's _clean_empty_message instead)
        result = super()._cleanup_side_records()
        self._mail_tracking_forget_emptied()
        return result

    def _mail_tracking_forget_emptied(self):
        """Odoo's chatter deletes an email written in Odoo by emptying it: its
        tracking and its places on other timelines go with it (N3, N5, L2)."""
        self.env["mail.tracked.recipient"].sudo().search([("message_id", "in", self.ids)]).unlink()
        self._mail_logging_associations().unlink()
        self.filtered("log_email").sudo().write({"log_email": False})

    def _mail_logging_associations(self):
        """The timelines these emails are logged on, besides their own record (all of them:
        callers decide what the user may see)."""
        return self.env["mail.message.association"].sudo().search([("message_id", "in", self.ids)])

    def action_edit_associations(self):
        """Open the editor of the records this logged email appears on (L2)."""
        self._check_logged_email()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Associations"),
            "res_model": "mail.message.association.wizard",
            "views": [[False, "form"]],
            "target": "new",
            "context": {"default_message_id": self.id},
        }

    def _mail_logging_editable(self):
        """The logged emails among these that the user may move between
        timelines or delete (L2, L8): their author's, those of records the user
        may edit, all for administrators. Reading an email is not enough."""
        if self.env.is_admin():
            return self
        editable = self.filtered(lambda message: message.author_id == self.env.user.partner_id)
        for model, messages in (self - editable).grouped("model").items():
            if model and model in self.env:
                writable = set(self.env[model].browse(messages.mapped("res_id")).exists()._filtered_access("write").ids)
                editable |= messages.filtered(lambda message, writable=writable: message.res_id in writable)
        return editable

    # ------------------------------------------------------------
    # L8 timeline actions
    # ------------------------------------------------------------

    def action_delete_logged_email(self):
        """Delete a logged email from every timeline it is on, with the
        attachments no other email carries (L8). Odoo's chatter deletes only
        the emails written in Odoo; this also covers those logged from a mailbox."""
        self._check_logged_email()
        if not self._mail_logging_editable():
            raise AccessError(self.env._(
                "Only the author of this email, whoever may edit %(record)s and administrators can delete it.",
                record=self.record_name or self.env._("its record")))
        attachments = self.sudo().attachment_ids
        self.sudo().unlink()
        self._mail_logging_delete_unshared(attachments)
        return True

    def action_reply_logged_email(self, thread_model=None, thread_id=None):
        """Answer a logged email in Odoo's full composer, from any timeline it
        shows on (L8). On the email's own record the answer is threaded under
        it; otherwise it goes on the timeline it was read on."""
        self._check_logged_email()
        thread = self._logged_email_composer_thread(thread_model, thread_id)
        on_own_record = (thread._name, thread.id) == (self.model, self.res_id)
        subject = self._logged_email_subject()
        context = {
            "default_subject": subject if REPLY_SUBJECT.match(subject) else f"Re: {subject}",
            "default_partner_ids": ((self.author_id | self.partner_ids) - self.env.user.partner_id).ids,
        }
        if on_own_record:
            context |= {"default_parent_id": self.id, LOGGED_EMAIL_REPLY_KEY: self.id}
        return self._logged_email_composer_action(self.env._("Reply"), thread, context)

    def action_forward_logged_email(self, thread_model=None, thread_id=None):
        """Forward a logged email in Odoo's full composer, with its attachments
        (L8). They are copies owned by the composer: sending links them to the
        new message, the original keeps its own."""
        self._check_logged_email()
        thread = self._logged_email_composer_thread(thread_model, thread_id)
        subject = self._logged_email_subject()
        attachments = self.attachment_ids.copy({"res_model": "mail.compose.message", "res_id": 0})
        header = Markup("<br/>").join(Markup("{}: {}").format(label, value) for label, value in (
            (self.env._("From"), self.email_from or self.author_id.email_formatted or ""),
            (self.env._("Date"), format_datetime(self.env, self.date, tz=self.env.user.tz)),
            (self.env._("Subject"), self.subject or ""),
            (self.env._("To"), ", ".join(self.partner_ids.mapped("email_formatted"))),
        ))
        return self._logged_email_composer_action(self.env._("Forward"), thread, {
            "default_subject": subject if FORWARD_SUBJECT.match(subject) else f"Fwd: {subject}",
            "default_body": Markup("<p><br/></p><p>{}<br/>{}</p>{}").format(
                self.env._("---------- Forwarded message ----------"), header, self.body or ""),
            "default_attachment_ids": attachments.ids,
        })

    def action_expand_logged_email(self):
        """Show a logged email with its whole conversation, unabridged (L8)."""
        self._check_logged_email()
        conversation = self.env["mail.message.conversation"].create({"message_id": self.id})
        return {
            "type": "ir.actions.act_window",
            "name": self.subject or self.env._("Conversation"),
            "res_model": "mail.message.conversation",
            "res_id": conversation.id,
            "views": [[False, "form"]],
            "target": "new",
            "context": {"dialog_size": "extra-large"},
        }

    def _check_logged_email(self):
        """The timeline actions work on one logged email the user may read."""
        self.ensure_one()
        if not self.exists():
            raise UserError(self.env._("This email was deleted in the meantime."))
        self.check_access("read")
        if not self.log_email:
            raise UserError(self.env._("This action is only available on logged emails."))

    def _logged_email_subject(self):
        return self.subject or self.record_name or ""

    def _logged_email_composer_thread(self, thread_model, thread_id):
        """Where an answer to this logged email is written: its own record when
        the user may post there, else the timeline the user reads it on, which
        must be one it appears on."""
        candidates = [(self.model, self.res_id)]
        if (thread_model, thread_id) in {(a.model, a.res_id) for a in self._mail_logging_associations()}:
            candidates.append((thread_model, thread_id))
        for model, res_id in candidates:
            if model in self.env and res_id and isinstance(self.env[model], self.pool["mail.thread"]):
                Thread = self.env[model]
                thread = Thread._get_thread_with_access(res_id, mode=post_access_mode(Thread, res_id))
                if thread:
                    return thread
        raise AccessError(self.env._("You are not allowed to write on the records this email appears on."))

    def _logged_email_composer_action(self, name, thread, context):
        return {
            "type": "ir.actions.act_window",
            "name": name,
            "res_model": "mail.compose.message",
            "views": [[False, "form"]],
            "target": "new",
            "context": {
                "default_composition_mode": "comment",
                "default_model": thread._name,
                "default_res_ids": thread.ids,
                "default_subtype_xmlid": "mail.mt_comment",
                "mail_post_autofollow": thread.has_access("write"),
                **context,
            },
        }

    def _logged_email_conversation(self):
        """The messages of this email's conversation the user may read, oldest
        first: the email, its copies on other records (same Message-ID) and,
        on those records, the emails on the same topic once "Re:" and "Fwd:"
        are set aside, as mail clients group them. Odoo threads a record's
        messages flat under its first one: parents say nothing of the
        conversation. Notes and notifications are not part of it."""
        self.ensure_one()
        # sudo: finds the conversation's ids only, the messages are read with the user's rights below
        Message = self.env["mail.message"].sudo()
        copies = self.sudo()
        if self.sudo().message_id:
            copies |= Message.search([("message_id", "=", self.sudo().message_id)])
        conversation = copies
        if topic := conversation_topic(self.sudo().subject):
            on_records = OR([
                [("model", "=", model), ("res_id", "=", res_id)]
                for model, res_id in {(copy.model, copy.res_id) for copy in copies if copy.model}])
            # a loose filter in SQL (spacing, prefixes), the exact one in Python
            pattern = "%" + "%".join(topic.split()) + "%"
            conversation |= Message.search(AND([on_records, [("subject", "=ilike", pattern)]])).filtered(
                lambda message: conversation_topic(message.subject) == topic)
        return self.env["mail.message"].search([
            ("id", "in", (conversation - conversation._filter_empty()).ids),
            "|", ("log_email", "=", True),  # emails logged from a mailbox are stored as notes
            "&", ("message_type", "in", ("email", "comment", "email_outgoing")),
            "|", ("subtype_id", "=", False), ("subtype_id.internal", "=", False),
        ], order="date, id")

    @api.model
    def _mail_logging_left_out_note(self, left_out):
        """The timeline's note on the attachments a logged email lost (L6)."""
        if not left_out:
            return Markup()
        return Markup("<p><em>%s</em></p><ul>%s</ul>") % (
            self.env._("Attachments not logged:"), Markup().join(Markup("<li>%s</li>") % line for line in left_out))

    def _mail_logging_settle_attachments(self):
        """Once a logged email written in Odoo has left, to every recipient,
        drop the attachments the company does not log (L6): they were needed
        only to send it. An email still to send, or failed and to be resent,
        keeps them."""
        pending = self.env["mail.mail"].sudo().search([
            ("mail_message_id", "in", self.ids), ("state", "in", ("outgoing", "exception")),
        ]).mail_message_id | self.env["mail.notification"].sudo().search([
            ("mail_message_id", "in", self.ids), ("notification_type", "=", "email"),
            ("notification_status", "in", ("ready", "process", "exception", "bounce")),
        ]).mail_message_id
        (self - pending)._mail_logging_leave_out_attachments()

    def _mail_logging_leave_out_attachments(self):
        for message in self.sudo():
            company = self.env["res.company"]._mail_rules_company(message, message.author_id.user_ids[:1])
            left_out, dropped = [], self.env["ir.attachment"].sudo()
            for attachment in message.attachment_ids:
                if refusal := company._mail_logging_attachment_refusal(attachment.name, attachment.file_size):
                    left_out.append(refusal)
                    dropped |= attachment
            if not dropped:
                continue
            message.write({
                "attachment_ids": [Command.unlink(attachment.id) for attachment in dropped],
                "body": (message.body or Markup()) + self._mail_logging_left_out_note(left_out),
            })
            self._mail_logging_delete_unshared(dropped)

    @api.model
    def _mail_logging_delete_unshared(self, attachments):
        """Delete ``attachments``, except those another email still carries (a forward)."""
        shared = self.sudo().search([("attachment_ids", "in", attachments.ids)]).attachment_ids
        (attachments.sudo() - shared).unlink()

    @api.model
    def _add_tracked_links(self, links_per_message):
        """Remember the ``{ref: url}`` links rewritten in the emails of
        ``{message id: links}``, in one statement for a whole send batch (X2)."""
        self.env.cr.execute(SQL("""
            UPDATE mail_message m SET tracked_links = COALESCE(m.tracked_links, '{}'::jsonb) || added.links
              FROM (VALUES %s) AS added (id, links) WHERE m.id = added.id
        """, SQL(", ").join(SQL("(%s, %s::jsonb)", message_id, json.dumps(links))
                            for message_id, links in links_per_message.items())))
        self.browse(links_per_message).invalidate_recordset(["tracked_links"])

    def _mail_tracking_status(self, events_per_type=MAIL_TRACKING_EVENTS_SHOWN):
        """Per-recipient engagement of these messages (T6), in three queries
        whatever the number of messages: ``{message_id: [recipient, ...]}``
        where each recipient is a dict ready for the web client, with its
        counts and its latest ``events_per_type`` opens and clicks (oldest
        first). Only the recipients the user may see are listed (P4); the
        author's own opens and clicks are left out (A2)."""
        recipients = self.env["mail.tracked.recipient"].search(
            [("message_id", "in", self.ids)], order="id")
        per_recipient = {recipient.id: {"opens": [], "clicks": [], "open": 0, "click": 0, "privacy_proxy": False}
                         for recipient in recipients}
        if recipients:
            self.env["mail.tracked.event"].flush_model()
            Event = self.env["mail.tracked.event"]
            # a window keeps the latest events in SQL: a much-opened email stays cheap (X3); a
            # machine's events are listed too, greyed with their reason, and never counted (A1)
            self.env.cr.execute("""
                SELECT e.recipient_id, e.event_type, e.id, e.event_date, e.is_inferred, e.url, e.total,
                       e.is_counted, e.source, e.source_rule, e.source_detail, e.delivery_delay, e.privacy_proxy,
                       e.last_counted
                  FROM (SELECT id, recipient_id, event_type, event_date, is_inferred, url, is_counted,
                               source, source_rule, source_detail, delivery_delay,
                               row_number() OVER (PARTITION BY recipient_id, event_type
                                                      ORDER BY event_date DESC, id DESC) AS rank,
                               count(*) FILTER (WHERE is_counted)
                                        OVER (PARTITION BY recipient_id, event_type) AS total,
                               max(source_detail) FILTER (WHERE source = 'privacy_proxy')
                                   OVER (PARTITION BY recipient_id) AS privacy_proxy,
                               max(event_date) FILTER (WHERE is_counted)
                                   OVER (PARTITION BY recipient_id, event_type) AS last_counted
                          FROM mail_tracked_event
                         WHERE recipient_id = ANY(%(ids)s) AND source != 'sender') e
                 WHERE e.rank <= %(limit)s
              ORDER BY e.event_date, e.id
            """, {"ids": recipients.ids, "limit": events_per_type})
            for (recipient_id, event_type, event_id, date, inferred, url, total, counted, source, rule, detail,
                 delay, privacy_proxy, last_counted) in self.env.cr.fetchall():
                history = per_recipient[recipient_id]
                history[event_type] = total
                if event_type == "open":
                    history["last_open"] = last_counted
                history["privacy_proxy"] = privacy_proxy  # the proxy's name, when one fetched its images
                event = {"id": event_id, "date": date, "counted": bool(counted), "source": source,
                         "reason": Event._source_reason(rule, detail, delay) if not counted else ""}
                if event_type == "open":
                    history["opens"].append({**event, "inferred": bool(inferred)})
                else:
                    history["clicks"].append({**event, "url": url})
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
                # only a privacy proxy fetched its images: delivered, nobody knows whether it was read
                "open_unknown": recipient.state == "sent" and bool(history["privacy_proxy"]) and (
                    self.env._("Delivered to Apple Mail (open unknown)")
                    if history["privacy_proxy"].startswith("Apple") else self.env._("Delivered (open unknown)")),
                "sent_date": recipient.sent_date,
                "first_open_date": recipient.first_open_date,
                "last_open_date": history.get("last_open") or False,
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
                # nothing the user may see (P4), or the email left untracked: no icons
                store_add_values(store, message, {"mailTracking": False})
                continue
            store_add_values(store, message, {"mailTracking": {
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
