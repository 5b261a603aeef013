import ast
import logging
import secrets

from markupsafe import Markup

from odoo import api, fields, models, tools
from odoo.tools import SQL

from ..tools import (
    add_hidden_link,
    add_open_pixel,
    append_to_body,
    message_key,
    new_token,
    rewrite_links,
    token_digest,
)
from ..tools.html import LINK_REF_LENGTH
from .mail_message import LOGGED_EMAIL_REPLY_KEY

_logger = logging.getLogger(__name__)

# Names, inside Odoo only, the tracked copy an outgoing message is: ir.mail_server takes it
# off before the message leaves (T11) and so learns which copies the SMTP server accepted.
COPY_HEADER = "X-Mail-Tracking-Ext-Copy"
# The cursor's record of this transaction's copies: {"prepared": {mail id: {recipient ids}},
# "accepted": {recipient id: when the SMTP server accepted it}}; nothing outlives the cursor.
COPIES_CACHE_KEY = "mail_tracking_ext.copies"


class MailMail(models.Model):
    """Sending a tracked email: Odoo sends one SMTP message per contact (and one
    for the raw addresses together); each becomes a tracked copy with its own
    token, pixel and links, judged by its own SMTP answer."""
    _inherit = "mail.mail"

    @api.model_create_multi
    def create(self, vals_list):
        """The emails of an answer to a logged email (L8) answer that email in
        their headers: Odoo threads its records one level deep, so the
        message's parent is the record's first message, not the email."""
        if replied_id := self.env.context.get(LOGGED_EMAIL_REPLY_KEY):
            replied = self.env["mail.message"].sudo(False).browse(replied_id).exists()._filtered_access("read")
            if replied.message_id:
                for values in vals_list:
                    message = self.env["mail.message"].sudo().browse(values.get("mail_message_id"))
                    on_replied_record = (message.model, message.res_id) == (replied.model, replied.res_id)
                    if message and message.parent_id and on_replied_record:
                        references = (values.get("references") or "").split()
                        if replied.message_id not in references:
                            references.insert(max(len(references) - 1, 0), replied.message_id)
                        values["references"] = " ".join(references)
                        headers = ast.literal_eval(values["headers"]) if values.get("headers") else {}
                        values["headers"] = repr(headers | {"In-Reply-To": replied.message_id})
        return super().create(vals_list)

    # ------------------------------------------------------------
    # Tracked copies (T1, T2, T7, T10, T11, P1, P2)
    # ------------------------------------------------------------

    def _prepare_outgoing_list(self, *args, **kwargs):
        """Odoo's list of the SMTP messages of this mail, one per contact: the
        place where each copy's body can differ, so where the tracked ones get
        their token. (``_prepare_outgoing_body`` prepares one body for all the
        copies, tracked or not.)"""
        # (mail_server, then 18.0's recipients_follower_status or 19.0's doc_to_followers)
        email_list = super()._prepare_outgoing_list(*args, **kwargs)
        if self.mail_message_id.track_opens or self.mail_message_id.track_clicks:
            email_list = self._track_copies(email_list)
        return email_list

    def _track_copies(self, email_list):
        """Give each trackable entry of ``email_list`` its own tracked copy:
        token, pixel and click links. With the company's data privacy on (P1),
        only contacts with a legal basis are tracked individually; the others
        get nothing or, if the company measures opens anonymously, one pixel
        shared by all of them."""
        self.ensure_one()
        message = self.mail_message_id
        author_user = message.author_id.user_ids.filtered(lambda user: not user.share)[:1]
        if not author_user or tools.is_html_empty(message.body):
            return email_list
        company = self.env["res.company"]._mail_rules_company(message, author_user)
        excluded = self.env["mail.address.exclusion"]._excluded_emails(
            {email for values in email_list for email in values["email_to_normalized"]}, author_user, company)
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

        Recipient = self.env["mail.tracked.recipient"].sudo()
        key = message_key(message.id, Recipient._token_secret())
        tokens = [new_token(key) for _values in personal]
        shared_token = new_token(key)
        copies = Recipient.create([{
            "message_id": message.id,
            "mail_id_int": self.id,
            "partner_id": values["partner_id"].id if values["partner_id"] else False,
            "email": ", ".join(values["email_to_normalized"]),
            "token_digest": token_digest(token),
        } for values, token in zip(personal, tokens, strict=True)] + ([{
            "message_id": message.id,
            "mail_id_int": self.id,
            "is_aggregate": True,
            "token_digest": token_digest(shared_token),
        }] if shared else []))
        self._copies_prepared(copies)
        personal_copies, aggregate = copies[:len(personal)], copies[len(personal):]
        for values, copy in [*zip(personal, personal_copies, strict=True), *((values, aggregate) for values in shared)]:
            values["headers"] = {**values["headers"], COPY_HEADER: str(copy.id)}
        if message.model and message.model not in Recipient._tracked_models():
            self.env.registry.clear_cache()

        base_url = self.get_base_url()
        # bodies are rewritten once, then each recipient's token is put in
        placeholder = f"mtxtoken{secrets.token_hex(8)}"
        pixel_url = f"{base_url}/email-tracking/open/{placeholder}.gif"
        rewritten, links = {}, {}
        # the link no person sees: whoever follows it follows every link, a program (A3)
        hidden_ref = secrets.token_hex(LINK_REF_LENGTH // 2)
        for values, token in zip(personal, tokens, strict=True):
            body = values["body"]
            if body not in rewritten:
                new_body = body
                if message.track_clicks:
                    new_body, body_links = rewrite_links(
                        body, base_url, lambda ref: f"{base_url}/email-tracking/click/{placeholder}/{ref}")
                    links.update(body_links)
                    if body_links:
                        new_body = add_hidden_link(
                            new_body, f"{base_url}/email-tracking/click/{placeholder}/{hidden_ref}")
                        links[hidden_ref] = ""
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

    def _copies_prepared(self, copies):
        copies_state = self.env.cr.cache.setdefault(COPIES_CACHE_KEY, {"prepared": {}, "accepted": {}})
        copies_state["prepared"].setdefault(self.id, set()).update(copies.ids)

    @api.model
    def _copy_accepted(self, copy_id):
        """The SMTP server accepted the message of tracked copy ``copy_id``
        now: the copy's delivery, which tells machines from people (A3)."""
        copies_state = self.env.cr.cache.get(COPIES_CACHE_KEY)
        if copies_state:
            copies_state["accepted"][copy_id] = fields.Datetime.now()

    def _settle_tracked_copies(self):
        """After Odoo tried to send these mails: forget the tracked copies the
        SMTP server did not accept (R5), and tell the chatters of the emails that
        left with no tracked copy at all (every recipient on a never-track list,
        or not trackable) to drop their tracking icons (N4).

        Odoo sends one copy per contact and stops at the first refusal, so the
        other copies of one email may well have left: each copy is judged by its
        own SMTP answer."""
        copies_state = self.env.cr.cache.get(COPIES_CACHE_KEY) or {"prepared": {}, "accepted": {}}
        prepared = {mail_id: copies_state["prepared"].pop(mail_id, set()) for mail_id in self.ids}
        all_prepared = set().union(*prepared.values())
        accepted = {copy_id: copies_state["accepted"].pop(copy_id) for copy_id in all_prepared
                    if copy_id in copies_state["accepted"]}
        Recipient = self.env["mail.tracked.recipient"].sudo()
        if unaccepted := all_prepared - set(accepted):
            Recipient.browse(unaccepted).exists().unlink()
        if accepted:
            Recipient.flush_model(["sent_date"])
            self.env.cr.execute(SQL("""
                UPDATE mail_tracked_recipient r SET sent_date = accepted.date
                  FROM (VALUES %s) AS accepted (id, date) WHERE r.id = accepted.id
            """, SQL(", ").join(SQL("(%s, %s::timestamp)", copy_id, date) for copy_id, date in accepted.items())))
            Recipient.browse(accepted).invalidate_recordset(["sent_date"])
        untracked = self.filtered(lambda mail: not prepared[mail.id]).mail_message_id
        if untracked:
            tracked = set(Recipient.search([("message_id", "in", untracked.ids)]).message_id.ids)
            for message in untracked.filtered(lambda message: message.id not in tracked and message.model):
                Recipient._push_refresh(message.model, message.res_id, message.id)

    def _postprocess_sent_message(self, success_pids, *args, **kwargs):
        # (19.0 adds success_emails after success_pids)
        if tracked := self.filtered(lambda mail: mail.track_opens or mail.track_clicks):
            tracked._settle_tracked_copies()
        logged = self.mail_message_id.filtered("log_email")  # before the mails may be deleted
        result = super()._postprocess_sent_message(success_pids, *args, **kwargs)
        if logged:
            try:
                with self.env.cr.savepoint():
                    logged._mail_logging_settle_attachments()
            except Exception:  # noqa: BLE001 - the email left: never report it failed (and resend it)
                _logger.exception("Logged emails %s: could not drop the attachments not logged", logged.ids)
        return result
