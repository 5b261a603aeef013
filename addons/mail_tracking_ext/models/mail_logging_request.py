import email
import hashlib
import logging
from email import policy

import dateutil.parser
import psycopg2
import pytz
from markupsafe import Markup

from odoo import api, fields, models, tools
from odoo.tools import email_normalize, html2plaintext, plaintext2html
from odoo.tools.mail import decode_message_header, email_split_tuples
from odoo.tools.translate import LazyTranslate

from ..tools import event_source
from ..tools.authentication_results import check_sender
from ..tools.forwarded_email import attached_original, parse_inline_forward, strip_forward_prefix

_logger = logging.getLogger(__name__)
_lt = LazyTranslate(__name__)

# Why an email was not logged, by code: the reason is written in the language of
# whoever reads it, with the details kept beside the code (L4, L7).
REFUSALS = {
    "unreadable": _lt("The email could not be read."),
    "not_an_email": _lt("This is not an email that can be read: it has no sender, no recipient and no Message-ID."),
    "failed": _lt("This email could not be read or logged."),
    "from_count": _lt("The From header must hold exactly one address; it holds: %(from)s."),
    "neutralized": _lt("This database is a neutralized copy (staging or a restored backup): "
                       "it logs no email that reaches the logging address."),
    "unconfigured": _lt("No trusted mail server is set in Settings and the email has no DKIM signature, "
                        "so its sender cannot be authenticated."),
    "unauthenticated": _lt("Neither a trusted mail server nor a DKIM signature authenticated the sender's "
                           "domain %(domain)s (DMARC or aligned DKIM)."),
    "dmarc": _lt("The sender's domain %(domain)s failed DMARC: the email may be forged."),
    "dkim_unaligned": _lt("The email is signed (DKIM) by %(signers)s, not by the sender's domain %(domain)s: "
                          "it may be forged."),
    "dkim_invalid": _lt("The DKIM signature of the sender's domain %(domain)s is not valid: the email was "
                        "altered after it was signed, its signature has expired, or its key is not published."),
    "dkim_dns": _lt("The DKIM key of %(signers)s could not be read from the DNS in time, so the sender's "
                    "domain %(domain)s could not be authenticated."),
    "dkim_partial": _lt("The DKIM signature of %(signers)s does not cover the headers %(headers)s of this email: "
                        "anyone who received the signed email could have changed them."),
    "repeated_header": _lt("This email has its %(header)s header more than once, which a genuine email never "
                           "has: it may have been altered after it was signed."),
    "too_large": _lt("This email is larger than %(limit)s MB: it is not logged."),
    "too_many_recipients": _lt("This email has %(count)s addresses, more than the %(limit)s of a logged email: "
                               "mass emails are not logged."),
    "sender_unknown": _lt("The sender %(sender)s is neither a user nor one of a user's declared addresses."),
    "logging_address_only": _lt("This email was sent to the logging address only and holds no forwarded email."),
    "not_a_party": _lt("The importing user is neither the sender nor a recipient of this email."),
    "duplicate": _lt("This email is already in the CRM."),
    "never_log": _lt("Every customer address of this email is on a never-log list."),
    "no_customer": _lt("This email has no customer address: nothing to log."),
    "no_contact": _lt("No address of this email is a contact, and creating contacts is switched off."),
}


# The largest email logged, in MB (the system parameter below may change it): the
# body and attachments as Odoo decodes them, or the email's bytes in an import.
MAX_EMAIL_MB = 100
MAX_EMAIL_MB_PARAMETER = "mail_tracking_ext.mail_logging_max_email_mb"
# Addresses (From, To, Cc) of a logged email: more is a mass email, not a conversation.
MAX_ADDRESSES = 100


# Characters kept of a subject: a header line of a megabyte is an attack, not a subject.
MAX_SUBJECT = 1000


def storable(values):
    """``values`` of an email as PostgreSQL stores them: without NUL characters,
    which no text column accepts, and with a subject of a sensible length."""
    if isinstance(values, str):
        return values.replace("\x00", "")
    if isinstance(values, dict):
        cleaned = {key: storable(value) for key, value in values.items()}
        if isinstance(cleaned.get("subject"), str):
            cleaned["subject"] = cleaned["subject"][:MAX_SUBJECT]
        if isinstance(cleaned.get("name"), str):
            cleaned["name"] = cleaned["name"][:MAX_SUBJECT]
        return cleaned
    if isinstance(values, tuple) and hasattr(values, "_fields"):  # an attachment of Odoo's parser
        return type(values)(*map(storable, values))
    if isinstance(values, list | tuple):
        return type(values)(map(storable, values))
    return values


class MailLoggingRequest(models.Model):
    """One email that reached the company logging address (Bcc or forward) or
    an import, with its outcome: logged on which records, or refused and why
    (L4, L7).

    The email's content is kept once, as a ``mail.message`` on the first
    contact's timeline, associated with the other records (L2); this record
    only says what happened, so that users and administrators can check why an
    email is missing.
    """
    _name = "mail.logging.request"
    _inherit = ["mail.thread"]
    _description = "Email Logging Request"
    _order = "id desc"

    name = fields.Char("Subject", readonly=True)
    source = fields.Selection(
        [("address", "Logging Address"), ("import", "File Import")], required=True, default="address", readonly=True)
    state = fields.Selection(
        [("logged", "Logged"), ("duplicate", "Already Logged"), ("refused", "Refused")],
        required=True, default="refused", readonly=True, index=True)
    refusal = fields.Char("Refusal Code", readonly=True, help="Why the email was not logged, as a code.")
    refusal_details = fields.Json(readonly=True)
    reason = fields.Char(compute="_compute_reason", help="Why the email was not logged.")
    legacy_reason = fields.Char(readonly=True, help="The reason, as written before refusals had codes (18.0.1.1).")
    email_from = fields.Char("From", readonly=True)
    user_id = fields.Many2one(
        "res.users", "Logged For", readonly=True, index=True,
        help="The user the email was accepted for: its sender, or who imported it.")
    message_ref = fields.Char("Message-ID", readonly=True, index=True)
    email_date = fields.Datetime(readonly=True)
    is_forward = fields.Boolean("Forwarded", readonly=True,
                                help="The email was forwarded to the logging address; its original was logged.")
    logged_message_id = fields.Many2one("mail.message", "Logged Email", readonly=True, ondelete="set null")
    partner_ids = fields.Many2many(
        "res.partner", "mail_logging_request_partner_rel", "request_id", "partner_id",
        string="Contacts", readonly=True)
    created_partner_ids = fields.Many2many(
        "res.partner", "mail_logging_request_created_partner_rel", "request_id", "partner_id",
        string="Created Contacts", readonly=True)
    excluded_attachments = fields.Text("Attachments Left Out", readonly=True)
    company_id = fields.Many2one("res.company", default=lambda self: self.env.company, readonly=True)
    sender_authenticated = fields.Boolean(
        readonly=True,
        help="A trusted mail server, or a valid DKIM signature, authenticated the domain of the sender's address.")

    @api.depends("refusal", "refusal_details", "legacy_reason")
    @api.depends_context("lang")
    def _compute_reason(self):
        for request in self:
            template = REFUSALS.get(request.refusal)
            # the lazy term's source: translated here, in the reader's language, with its details
            request.reason = self.env._(template._source, **(request.refusal_details or {})) \
                if template else request.legacy_reason

    # ------------------------------------------------------------
    # Mail gateway (L4)
    # ------------------------------------------------------------

    @api.model
    def _log_received_email(self, message, msg_dict):
        """Log an email that reached the logging address: ``message`` is the raw
        :class:`email.message.Message` Odoo's gateway received, ``msg_dict``
        what it parsed of it. A refusal is answered when the company wants it
        (to authenticated senders only); an email that cannot be logged is
        refused as a whole, and nothing of it is kept but the refusal."""
        try:
            with self.env.cr.savepoint():
                request = self._log_email(message, msg_dict=msg_dict)
        except psycopg2.OperationalError:
            raise  # the database, not the email: the gateway tries again later
        except Exception:  # noqa: BLE001 - a hostile email must not stop the gateway, nor be half logged
            _logger.exception("Email %s to the logging address could not be logged", msg_dict.get("message_id"))
            request = self._refuse({
                "source": "address", "name": msg_dict.get("subject") or "",
                "email_from": msg_dict.get("email_from") or "", "message_ref": msg_dict.get("message_id") or "",
            }, "failed")
        if request.state == "refused" and request.company_id.mail_logging_notify_refusal:
            request._tell_sender(message)
        return request

    def _tell_sender(self, message):
        """Answer a refused email with the reason (L4), the way Odoo's gateway
        answers an email it cannot route: never an automatic, bulk or mailing-list
        email (loops, backscatter)."""
        self.ensure_one()
        automatic = event_source.is_automatic(message)
        # a sender who could not be authenticated may be forged: answering would write to a stranger
        if automatic or not self.sender_authenticated or not email_normalize(self.email_from or ""):
            return
        body = Markup("<p>%s</p><p>%s</p>") % (
            self.env._("Your email “%(subject)s” was not logged in the CRM.",
                       subject=self.name or self.env._("(no subject)")),
            self.reason)
        # the subject as one line: a line break in it would end the answer's headers (R8)
        subject = " ".join(self.env._("Re: %(subject)s", subject=self.name or "").split())
        # to the From that was authenticated, never to the Return-Path the envelope chose
        self.env["mail.thread"].with_company(self.company_id)._routing_create_bounce_email(
            self.email_from, body, message, references=self.message_ref, subject=subject, email_to=self.email_from)

    @api.model
    def _detect_loop_sender_domain(self, email_from_normalized):
        # a salesperson logs many emails an hour: that is not a mail loop
        return False

    # ------------------------------------------------------------
    # Logging one email
    # ------------------------------------------------------------

    @api.model
    def _log_email(self, message, msg_dict=None, source="address", user=None, create_contacts=None):
        """Log ``message`` (an :class:`email.message.EmailMessage`) on the CRM
        and return the request that records the outcome.

        ``source`` "address": the sender must be a user or one of their other
        addresses; a forward logs the forwarded original. ``source`` "import":
        ``user`` imports it and one of its parties must be a user.
        """
        Users = self.env["res.users"]
        outer = msg_dict or self.env["mail.thread"].message_parse(message)
        values = self._email_values(message, outer)
        request_values = {
            "source": source, "name": values["subject"], "email_from": values["email_from"],
            "message_ref": values["message_id"], "email_date": values["date"],
        }
        if limit := self._too_large(self._email_size(values)):
            return self._refuse(request_values, "too_large", limit=limit)
        if count := self._too_many_addresses(values):
            return self._refuse(request_values, "too_many_recipients", count=count, limit=MAX_ADDRESSES)
        if source == "address":
            # a copy of production must not take production's mail into its CRM (R9)
            if self.env["ir.config_parameter"].sudo().get_param("database.is_neutralized"):
                return self._refuse(request_values, "neutralized")
            company = self.env["res.company"]._mail_rules_company()
            user = Users._find_by_sender_email(values["email_from"])
            # a stranger's email never makes Odoo look up the DNS of a domain of its choosing
            check = check_sender(message, company._mail_logging_trusted_authserv_ids(), verify_dkim=bool(user))
            if not check:
                return self._refuse(request_values, check.problem, **check.details)
            request_values["sender_authenticated"] = True
            if not user:
                return self._refuse(request_values, "sender_unknown", sender=values["email_from"] or "?")
            if not self._external_parties(values["to"], values["cc"]):
                original = self._forwarded_original(message, values)
                if not original:
                    return self._refuse(dict(request_values, user_id=user.id), "logging_address_only")
                values = original
                request_values.update(
                    is_forward=True, name=values["subject"], email_from=values["email_from"],
                    message_ref=values["message_id"], email_date=values["date"])
        else:
            user = user or self.env.user
            # one logs one's own correspondence only: no email "from" a colleague
            if not any(Users._find_by_sender_email(email) == user
                       for email in self._emails(values["email_from"], values["to"], values["cc"])):
                return self._refuse(dict(request_values, user_id=user.id), "not_a_party")
        request_values["user_id"] = user.id
        if request_values.get("is_forward") and (count := self._too_many_addresses(values)):
            return self._refuse(request_values, "too_many_recipients", count=count, limit=MAX_ADDRESSES)

        existing = self.env["mail.message"].sudo().search([("message_id", "=", values["message_id"])], limit=1)
        if existing:
            return self.sudo().create(dict(
                request_values, state="duplicate", logged_message_id=existing.id, refusal="duplicate"))

        parties = self._external_parties(values["email_from"], values["to"], values["cc"])
        excluded = self.env["mail.address.exclusion"]._excluded_emails(set(parties), user, scope="log")
        parties = {email: name for email, name in parties.items() if email not in excluded}
        if not parties:
            return self._refuse(request_values, "never_log" if excluded else "no_customer")

        if create_contacts is None:
            create_contacts = user.mail_logging_create_contacts
        partners, created = self._contacts_for(parties, user, create_contacts)
        if not partners:
            return self._refuse(request_values, "no_contact")

        message_values = self._create_logged_message(values, partners[0], user)
        logged = message_values["message"]
        records = self.env["mail.message.association"]._default_records(partners, user)
        self.env["mail.message.association"]._associate(logged, records)
        self.env["mail.tracked.recipient"].sudo()._record_reply(values)
        return self.sudo().create(dict(
            request_values, state="logged", logged_message_id=logged.id,
            partner_ids=[fields.Command.set(partners.ids)], created_partner_ids=[fields.Command.set(created.ids)],
            excluded_attachments="\n".join(message_values["left_out"]) or False))

    @api.model
    def _refuse(self, request_values, refusal, **details):
        """Record that an email was not logged, and why: ``refusal``, a key of
        :data:`REFUSALS`, with the ``details`` its sentence names."""
        _logger.info("Email %s not logged: %s %s", request_values.get("message_ref"), refusal, details)
        return self.sudo().create(storable(dict(request_values, state="refused", refusal=refusal,
                                                refusal_details=details or False)))

    @api.model
    def _too_large(self, size):
        """The size limit in MB of a logged email when ``size`` (bytes) is over it, else None."""
        limit = int(self.env["ir.config_parameter"].sudo().get_param(MAX_EMAIL_MB_PARAMETER, MAX_EMAIL_MB) or 0)
        return limit if limit > 0 and size > limit * 1024 * 1024 else None

    @api.model
    def _too_many_addresses(self, values):
        """How many addresses the email has, when more than a logged email may have."""
        count = len(self._emails(values["email_from"], values["to"], values["cc"]))
        return count if count > MAX_ADDRESSES else 0

    @api.model
    def _email_size(self, values):
        """Bytes of what logging would keep of an email: its body and attachments."""
        attachments = values["attachments"]
        return len(values["body"] or "") + sum(
            len(attachment[1]) for attachment in attachments if isinstance(attachment[1], str | bytes))

    @api.model
    def _email_values(self, message, parsed):
        """What is logged of an email, from Odoo's parsed dict: a stable
        Message-ID even when the email has none (so it is never logged twice)."""
        values = {
            "message_id": parsed.get("message_id"),
            "subject": parsed.get("subject") or "",
            "email_from": parsed.get("email_from") or "",
            "to": decode_message_header(message, "To", separator=","),
            "cc": parsed.get("cc") or "",
            "date": parsed.get("date") or fields.Datetime.now(),
            "body": parsed.get("body") or "",
            "attachments": parsed.get("attachments") or [],
            "references": parsed.get("references") or "",
            "in_reply_to": parsed.get("in_reply_to") or "",
        }
        if not message.get("Message-Id"):
            values["message_id"] = self._stable_message_id(values)
        if message.get_body(("html",)) is None and (plain := message.get_body(("plain",))) is not None:
            # Odoo keeps a text-only email as preformatted text: paragraphs and clickable links read better
            try:
                values["body"] = plaintext2html(plain.get_content())
            except (LookupError, ValueError):  # an unknown charset: Odoo's own rendering stays
                _logger.info("Email %s: its text could not be decoded", values["message_id"])
        return storable(values)

    @api.model
    def _stable_message_id(self, values):
        digest = hashlib.sha256("\x1f".join([
            values["email_from"], str(values["date"]), values["subject"], html2plaintext(values["body"] or ""),
        ]).encode()).hexdigest()[:40]
        return f"<logged-{digest}@mail-logging.invalid>"

    @api.model
    def _forwarded_original(self, message, values):
        """The email a user forwarded to the logging address, or None: either
        attached as message/rfc822, or inline below a "Forwarded message" line."""
        inner = attached_original(message)
        if inner is not None:
            try:
                inner = email.message_from_bytes(inner.as_bytes(), policy=policy.SMTP)
            except (TypeError, ValueError, LookupError):
                _logger.info("Unreadable forwarded email in %s", values["message_id"])
                return None
            return self._email_values(inner, self.env["mail.thread"].message_parse(inner))

        text = next((part.get_content() for part in message.walk()
                     if part.get_content_type() == "text/plain" and not part.get_filename()), None)
        quoted = parse_inline_forward(text if text is not None else html2plaintext(values["body"]))
        if not quoted:
            return None
        original = {
            "subject": quoted["subject"] or strip_forward_prefix(values["subject"]),
            "email_from": quoted["from"],
            "to": quoted["to"],
            "cc": quoted["cc"],
            "date": self._quoted_date(quoted["date"]) or values["date"],
            "body": plaintext2html(quoted["body"]),
            "attachments": values["attachments"],
            "references": "",
            "in_reply_to": "",
        }
        original["message_id"] = self._stable_message_id(original)
        return storable(original)

    @api.model
    def _quoted_date(self, text):
        try:
            date = dateutil.parser.parse(text, fuzzy=True) if text else None
        except (ValueError, OverflowError):
            return None
        if date and date.tzinfo:
            date = date.astimezone(pytz.utc).replace(tzinfo=None)
        return date and fields.Datetime.to_string(date)

    @api.model
    def _emails(self, *address_values):
        return [email for value in address_values for _name, email in email_split_tuples(value or "")
                if email_normalize(email)]

    @api.model
    def _external_parties(self, *address_values):
        """``{normalized email: display name}`` of the customers in these
        address headers: not a user's address, not one of Odoo's aliases."""
        odoo_addresses = self._odoo_addresses()
        parties = {}
        for value in address_values:
            for name, address in email_split_tuples(value or ""):
                normalized = email_normalize(address)
                if (normalized and normalized not in parties and normalized not in odoo_addresses
                        and not self.env["res.users"]._find_by_sender_email(normalized)):
                    parties[normalized] = name
        return parties

    @api.model
    def _odoo_addresses(self):
        aliases = self.env["mail.alias"].sudo().search([("alias_full_name", "!=", False)])
        # a handful of alias domains
        domains = self.env["mail.alias.domain"].sudo().search([])  # pylint: disable=no-search-all
        return {
            email_normalize(address)
            for address in aliases.mapped("alias_full_name") + domains.mapped("catchall_email")
            + domains.mapped("bounce_email") if address
        }

    @api.model
    def _contacts_for(self, parties, user, create_contacts):
        """Existing contacts of these addresses, and new ones for the others when
        ``create_contacts`` (L3): non-marketing, with ``user`` as salesperson."""
        Partner = self.env["res.partner"].sudo()
        existing = {}
        for partner in Partner.search([("email_normalized", "in", list(parties))], order="id desc"):
            existing[partner.email_normalized] = partner  # the oldest contact of an address wins
        partners, created = Partner, Partner
        for email_normalized, name in parties.items():
            partner = existing.get(email_normalized, Partner)
            if not partner and create_contacts:
                partner = Partner.create({
                    "name": name or email_normalized,
                    "email": email_normalized,
                    "is_non_marketing": True,
                    "user_id": user.id,
                })
                created |= partner
            partners |= partner
        return partners, created

    @api.model
    def _create_logged_message(self, values, record, user):
        """The one ``mail.message`` of a logged email, on ``record``'s timeline,
        without the attachments the company does not log (L6)."""
        message_values, left_out = self._logged_message_values(values["body"], values["attachments"], record, user)
        author = self.env["res.users"]._find_by_sender_email(values["email_from"]).partner_id or \
            self.env["res.partner"].sudo().search(
                [("email_normalized", "=", email_normalize(values["email_from"]) or False)], limit=1)
        message = self.env["mail.message"].sudo().create(dict(
            message_values,
            subject=values["subject"],
            message_type="email",
            subtype_id=self.env.ref("mail.mt_note").id,
            is_internal=True,
            author_id=author.id,
            email_from=values["email_from"],
            date=values["date"],
            message_id=values["message_id"],
            log_email=True,
        ))
        return {"message": message, "left_out": left_out}

    @api.model
    def _logged_message_values(self, body, attachments, record, user):
        """What a logged email of ``user`` keeps on ``record``'s timeline: its
        body, with a note of the attachments left out, and the attachments the
        company logs (L6). Returns ``(mail.message values, lines left out)``."""
        kept, left_out = self._split_attachments(attachments, self.env["res.company"]._mail_rules_company(user=user))
        if not isinstance(body, Markup):
            body = Markup(tools.html_sanitize(body or ""))
        body += self.env["mail.message"]._mail_logging_left_out_note(left_out)
        message_values = {"model": record._name, "res_id": record.id, "body": body}
        message_values.update(record.sudo()._process_attachments_for_post(kept, [], message_values))
        return message_values, left_out

    @api.model
    def _split_attachments(self, attachments, company):
        """Attachments that may be logged, and a line for each one left out."""
        kept, left_out = [], []
        for attachment in attachments:
            name, content = attachment[0], attachment[1]
            info = attachment[2] if len(attachment) > 2 else {}
            if isinstance(content, str):
                size = len(content.encode("utf-8"))
            elif isinstance(content, bytes):
                size = len(content)
            else:
                size = len(content.as_bytes()) if hasattr(content, "as_bytes") else 0
            refusal = company._mail_logging_attachment_refusal(name, size, inline=bool((info or {}).get("cid")))
            if refusal:
                left_out.append(refusal)
            else:
                kept.append(attachment)
        return kept, left_out
