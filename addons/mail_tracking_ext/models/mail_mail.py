import ast
import logging
import secrets

import psycopg2
from markupsafe import Markup

from odoo import api, fields, models, tools

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
# The cursor's record of the tracked copies being sent, until they are settled (X2):
# {"copies": {copy key: values of its mail.tracked.recipient}, "mails": {mail id: [copy
# keys]}, "links": {mail id: (message id, {ref: url})}, "accepted": {copy key: when the
# SMTP server accepted it}, "untracked": {mail id: message id}}; nothing outlives the cursor.
COPIES_CACHE_KEY = "mail_tracking_ext.copies"
# The send batch's rules companies, {message id: company}, found together (X2)
RULES_COMPANIES_CACHE_KEY = "mail_tracking_ext.rules_companies"


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

    def _send(self, auto_commit=False, raise_exception=False, smtp_session=None, alias_domain_id=False,
              mail_server=False, post_send_callback=None):
        """Send a batch as Odoo does; the tracking of its copies is written
        together, once the SMTP server answered (X2, R5): Odoo calls back before
        each commit (``auto_commit``) and at the end of the batch, so what was
        committed as sent has its tracking with it."""
        tracked = self.filtered(lambda mail: mail.track_opens or mail.track_clicks)
        if not tracked:
            return super()._send(
                auto_commit=auto_commit, raise_exception=raise_exception, smtp_session=smtp_session,
                alias_domain_id=alias_domain_id, mail_server=mail_server, post_send_callback=post_send_callback)
        tracked._find_rules_companies()

        def settle_then_callback(mail_ids):
            self.browse(mail_ids)._settle_tracked_copies()
            if post_send_callback:
                post_send_callback(mail_ids)

        try:
            return super()._send(
                auto_commit=auto_commit, raise_exception=raise_exception, smtp_session=smtp_session,
                alias_domain_id=alias_domain_id, mail_server=mail_server, post_send_callback=settle_then_callback)
        except psycopg2.Error:
            raise  # the transaction is lost, and its tracking with it
        except Exception:
            # the copies that left before the error keep their tracking, if the caller keeps the transaction
            try:
                with self.env.cr.savepoint():
                    self._settle_tracked_copies()
            except Exception:  # noqa: BLE001 - never hide the sending error behind ours
                _logger.exception("Mails %s: could not record the tracking of the copies sent", self.ids)
            raise
        finally:
            self.env.cr.cache.pop(RULES_COMPANIES_CACHE_KEY, None)

    def _find_rules_companies(self):
        """Find the rules companies of these mails' emails together, for their
        copies to come (X2)."""
        fallbacks = {}
        for message in self.mail_message_id:
            author_user = message.author_id.user_ids.filtered(lambda user: not user.share)[:1]
            fallbacks[message.id] = author_user.company_id if author_user else self.env.company
        companies = self.env["res.company"]._mail_rules_companies(self.mail_message_id, fallbacks)
        self.env.cr.cache.setdefault(RULES_COMPANIES_CACHE_KEY, {}).update(companies)

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
        token, pixel and click links (``_mail_tracking_copies``). The copies are
        recorded once sent (``_settle_tracked_copies``)."""
        self.ensure_one()
        copies_state = self._copies_state()
        message = self.mail_message_id
        author_user = message.author_id.user_ids.filtered(lambda user: not user.share)[:1]
        copies, links = [], {}
        if author_user:
            company = self.env.cr.cache.get(RULES_COMPANIES_CACHE_KEY, {}).get(message.id) \
                or self.env["res.company"]._mail_rules_company(message, author_user)
            copies, links = self._mail_tracking_copies(message, author_user, company, email_list, self.get_base_url())
        if not copies:
            copies_state["untracked"][self.id] = message.id
            return email_list
        copy_keys = copies_state["mails"].setdefault(self.id, [])
        for copy in copies:
            copy_key = secrets.token_hex(8)
            copies_state["copies"][copy_key] = dict(copy["recipient"], mail_id_int=self.id)
            copy_keys.append(copy_key)
            for values in copy["entries"]:
                values["headers"] = {**values["headers"], COPY_HEADER: copy_key}
        if links:
            previous = copies_state["links"].get(self.id, (message.id, {}))[1]
            copies_state["links"][self.id] = (message.id, previous | links)
        return email_list

    @api.model
    def _mail_tracking_copies(self, message, author_user, company, entries, base_url):
        """What the copies of ``message``, a tracked email of ``author_user``
        under ``company``'s rules, carry: the one home of these decisions, for
        Odoo's sending and for the Gmail extension's (``mail.tracking.api``).

        ``entries`` are the messages about to leave, dicts with ``partner_id``
        (a contact, or an empty recordset for raw addresses sent together),
        ``email_to_normalized`` and ``body``. Each trackable one gets its
        ``body`` rewritten in place: a token, pixel and click links of its own
        (T1, T2), the hidden link only programs follow (A3), the opt-out link;
        who is tracked is ``_mail_tracking_audience``'s answer. With the
        company's data privacy on (P1), only contacts with a legal basis are
        tracked individually; the others get nothing or, if the company
        measures opens anonymously, one pixel shared by all. An empty body
        leaves untouched (T9).

        Returns ``(copies, links)``: per copy ``{"recipient": values of its
        mail.tracked.recipient, "entries": [the entries it went into]}``, and
        ``{ref: url}`` of the links rewritten."""
        if tools.is_html_empty(message.body):
            return [], {}
        personal, shared = self._mail_tracking_audience(entries, author_user, company, message.track_opens)

        # bodies are rewritten once, then each recipient's token is put in
        placeholder = f"mtxtoken{secrets.token_hex(8)}"
        pixel_url = f"{base_url}/email-tracking/open/{placeholder}.gif"
        rewritten, links = {}, {}
        # the link no person sees: whoever follows it follows every link, a program (A3)
        hidden_ref = secrets.token_hex(LINK_REF_LENGTH // 2)
        for body in {values["body"] for values in personal}:
            new_body, body_links = body, {}
            if message.track_clicks:
                new_body, body_links = rewrite_links(
                    body, base_url, lambda ref: f"{base_url}/email-tracking/click/{placeholder}/{ref}")
            if not body_links and tools.is_html_empty(body):
                continue  # nothing to read (T9): it leaves as it is
            if body_links:
                links.update(body_links)
                new_body = add_hidden_link(new_body, f"{base_url}/email-tracking/click/{placeholder}/{hidden_ref}")
                links[hidden_ref] = ""
            if message.track_opens:
                new_body = add_open_pixel(new_body, pixel_url)
            rewritten[body] = new_body
        personal = [values for values in personal if values["body"] in rewritten]
        shared = [values for values in shared if not tools.is_html_empty(values["body"])]
        if not personal and not shared:
            return [], {}

        key = message_key(message.id, self.env["mail.tracked.recipient"]._token_secret())
        copies = []
        for values in personal:
            token = new_token(key)
            copies.append({"recipient": {
                "message_id": message.id,
                "partner_id": values["partner_id"].id if values["partner_id"] else False,
                "email": ", ".join(values["email_to_normalized"]),
                "token_digest": token_digest(token),
            }, "entries": [values]})
            new_body = rewritten[values["body"]]
            if company.mail_tracking_optout_link and values["partner_id"]:
                new_body = append_to_body(new_body, self._optout_link_html(
                    values["partner_id"], f"{base_url}/email-tracking/optout/{placeholder}"))
            values["body"] = new_body.replace(placeholder, token)
        if shared:
            token = new_token(key)
            copies.append({"recipient": {
                "message_id": message.id, "is_aggregate": True, "token_digest": token_digest(token),
            }, "entries": shared})
            for values in shared:
                values["body"] = add_open_pixel(values["body"], pixel_url.replace(placeholder, token))
        return copies, links

    @api.model
    def _mail_tracking_audience(self, entries, author_user, company, track_opens, *, excluded=None, refused=None):
        """Which of ``entries`` (as ``_mail_tracking_copies`` takes them) a
        tracked email of ``author_user`` under ``company``'s rules tracks:
        ``(personal, shared)``, the entries that get a copy of their own, and
        those that share one anonymous pixel (P1, with anonymous opens).
        Never: an address on a never-track list (T10), an address a contact
        refused tracking for, whichever contact or raw address it is sent as
        (P2, ``_mail_tracking_refused_emails``), users.

        ``excluded`` and ``refused``: those two sets, when the caller already
        looked them up for these addresses (one look-up for many calls)."""
        all_emails = {email for values in entries for email in values["email_to_normalized"]}
        if excluded is None:
            excluded = self.env["mail.address.exclusion"]._excluded_emails(all_emails, author_user, company)
        if refused is None:
            refused = self._mail_tracking_refused_emails(all_emails)
        personal, shared = [], []
        for values in entries:
            partner = values["partner_id"]
            if (not values["email_to_normalized"] or not values["body"]
                    or excluded.intersection(values["email_to_normalized"])
                    or (partner and (not partner.partner_share or partner.do_not_track))
                    or refused.intersection(values["email_to_normalized"])):
                continue
            if partner._is_individually_trackable(company) if partner else not company.mail_tracking_privacy:
                personal.append(values)
            elif company.mail_tracking_anonymous_opens and track_opens:
                shared.append(values)
        return personal, shared

    @api.model
    def _mail_tracking_refused_emails(self, emails):
        """The addresses among ``emails`` (normalized) a contact refused
        tracking for (P2). A refusal holds whoever writes to the address: for
        every contact of it and for it typed as a raw address, archived
        contacts' refusals included."""
        if not emails:
            return set()
        # sudo: also the refusals of contacts the author cannot read
        return set(self.env["res.partner"].sudo().with_context(active_test=False).search_fetch(
            [("email_normalized", "in", list(emails)), ("do_not_track", "=", True)], ["email_normalized"],
        ).mapped("email_normalized"))

    def _optout_link_html(self, partner, url):
        label = self.with_context(lang=partner.lang).env._("Stop tracking my activity on these emails")
        return str(Markup(
            '<p style="font-size:11px;color:#888888;margin-top:16px;">'
            '<a href="%s" style="color:#888888;" data-no-track="1">%s</a></p>'
        ) % (url, label))

    def _copies_state(self):
        return self.env.cr.cache.setdefault(COPIES_CACHE_KEY, {
            "copies": {}, "mails": {}, "links": {}, "accepted": {}, "untracked": {}})

    @api.model
    def _copy_accepted(self, copy_key):
        """The SMTP server accepted the message of tracked copy ``copy_key``
        now: the copy's delivery, which tells machines from people (A3)."""
        copies_state = self.env.cr.cache.get(COPIES_CACHE_KEY)
        if copies_state and copy_key in copies_state["copies"]:
            copies_state["accepted"].setdefault(copy_key, fields.Datetime.now())

    def _settle_tracked_copies(self):
        """After Odoo tried to send these mails: record the tracked copies the
        SMTP server accepted, in one statement for the batch, with their emails'
        link maps (R5, X2); forget the others. And tell the chatters of the
        emails that left with no tracked copy at all (every recipient on a
        never-track list, or not trackable) to drop their tracking icons (N4).

        Odoo sends one copy per contact and stops at the first refusal, so the
        other copies of one email may well have left: each copy is judged by its
        own SMTP answer."""
        copies_state = self.env.cr.cache.get(COPIES_CACHE_KEY)
        if not copies_state:
            return
        # read first, forget once written: if writing fails, a later settle of the batch retries
        accepted_values, message_links, settled_keys = [], {}, []
        for mail_id in self.ids:
            copy_keys = copies_state["mails"].get(mail_id, [])
            settled_keys += copy_keys
            values_list = [dict(copies_state["copies"][copy_key], sent_date=copies_state["accepted"][copy_key])
                           for copy_key in copy_keys if copy_key in copies_state["accepted"]]
            message_id, links = copies_state["links"].get(mail_id, (None, {}))
            if values_list:
                accepted_values += values_list
                if links:
                    message_links[message_id] = message_links.get(message_id, {}) | links
        Recipient = self.env["mail.tracked.recipient"].sudo()
        if message_links:
            self.env["mail.message"]._add_tracked_links(message_links)
        if accepted_values:
            copies = Recipient.create(accepted_values)
            if set(copies.mapped("model")) - {False, *Recipient._tracked_models()}:
                self.env.registry.clear_cache()
        for copy_key in settled_keys:
            copies_state["copies"].pop(copy_key, None)
            copies_state["accepted"].pop(copy_key, None)
        for mail_id in self.ids:
            copies_state["mails"].pop(mail_id, None)
            copies_state["links"].pop(mail_id, None)
        untracked = {copies_state["untracked"].pop(mail_id) for mail_id in self.ids
                     if mail_id in copies_state["untracked"]}
        if untracked:
            tracked = set(Recipient.search([("message_id", "in", list(untracked))]).message_id.ids)
            for message in self.env["mail.message"].sudo().browse(untracked - tracked):
                if message.model:
                    Recipient._push_refresh(message.model, message.res_id, message.id)

    def _prepare_as_delivered(self):
        """``{mail id: its SMTP messages}`` as if an SMTP server had accepted
        every copy of these mails, with their tracking recorded (demo data)."""
        email_lists = {}
        for mail in self:
            email_lists[mail.id] = mail._prepare_outgoing_list()
            for values in email_lists[mail.id]:
                if copy_key := values["headers"].get(COPY_HEADER):
                    self._copy_accepted(copy_key)
        self._settle_tracked_copies()
        return email_lists

    def _postprocess_sent_message(self, success_pids, *args, **kwargs):
        # (19.0 adds success_emails after success_pids)
        logged = self.mail_message_id.filtered("log_email")  # before the mails may be deleted
        result = super()._postprocess_sent_message(success_pids, *args, **kwargs)
        if logged:
            try:
                with self.env.cr.savepoint():
                    logged._mail_logging_settle_attachments()
            except Exception:  # noqa: BLE001 - the email left: never report it failed (and resend it)
                _logger.exception("Logged emails %s: could not drop the attachments not logged", logged.ids)
        return result
