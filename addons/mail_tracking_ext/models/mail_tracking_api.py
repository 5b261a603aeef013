import base64
import binascii
import html
import json
import logging
import re
import secrets
from datetime import datetime, timedelta, timezone

import werkzeug.exceptions
from markupsafe import Markup

from odoo import api, fields, models, release, tools
from odoo.exceptions import AccessDenied, AccessError, MissingError, UserError
from odoo.http import SessionExpiredException, request
from odoo.tools import SQL, email_normalize
from odoo.tools.mail import email_split_tuples
from odoo.tools.translate import LazyTranslate

from .mail_logging_request import MAX_ADDRESSES, MAX_SUBJECT, REFUSALS

_logger = logging.getLogger(__name__)
_lt = LazyTranslate(__name__)

API_VERSION = 1
API_PREFIX = "/email-tracking/api/1/"
# The largest body Gmail may ask to track, and the largest request (attachments in base64).
MAX_BODY_MB = 5
MAX_REQUEST_MB = 40
# How long a prepared send waits for its confirmation.
SEND_TTL = timedelta(hours=1)
FEED_LIMIT_DEFAULT = 20
FEED_LIMIT_MAX = 100
# How far back the next poll of the feed looks again: lines committed after this poll but dated before
FEED_OVERLAP = timedelta(minutes=2)
SEARCH_LIMIT_MAX = 50
# The longest address string read: a header line's limit (RFC 5322)
MAX_ADDRESS_CHARS = 998
# The pixel in a body the send path tracked
PIXEL_URL = re.compile(r'[^"\'\s<>]*/email-tracking/open/[A-Za-z0-9_-]+\.gif')
# The personal lists of mail.address.exclusion, by their names in the API (T10, L5).
LISTS = {"never_track": "track", "never_log": "log"}


class MailTrackingApiError(Exception):
    """An answer of the API that is not a success (docs/gmail-api.md, Errors):
    ``status`` (HTTP), ``code`` (a stable key), ``message`` (a sentence in the
    user's language), ``field`` (the request field at fault, if any)."""

    def __init__(self, status, code, message, field=None, headers=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers or {}
        # what Odoo logs of it: one line, no traceback (a client's mistake is no server error)
        self.loglevel = logging.INFO

    def to_json(self):
        error = {"code": self.code, "message": self.message}
        if self.field:
            error["field"] = self.field
        return {"error": error}


def _utc(value):
    """An Odoo datetime as the API writes it: ISO 8601, UTC, with a Z."""
    return value.replace(microsecond=0).isoformat() + "Z" if value else None


class MailTrackingApi(models.AbstractModel):
    """The Gmail extension's API (docs/gmail-api.md): what the thin routes of
    ``controllers/api.py`` call, as the user of the request's API key.

    It decides nothing of its own about tracking and logging: who is tracked
    and how comes from ``mail.mail._mail_tracking_audience`` and
    ``_mail_tracking_copies`` (the send path), what the composers say from
    ``mail.thread._mail_tracking_untracked_notice``, where an email is logged
    from ``mail.message.association`` and ``mail.logging.request``. What is
    its own: one message for all the recipients (Gmail sends one), the
    checking of requests, and the prepared sends (``mail.tracking.api.send``).
    """
    _name = "mail.tracking.api"
    _description = "Gmail Extension API"

    # ------------------------------------------------------------
    # Requests
    # ------------------------------------------------------------

    @api.model
    def _error(self, status, code, message, field=None):
        return MailTrackingApiError(status, code, message, field)

    @api.model
    def _error_answer(self, exception):
        """``(status, JSON, headers)`` of the API's answer to ``exception``,
        raised anywhere in a request: Odoo's authentication included."""
        if isinstance(exception, MailTrackingApiError):
            return exception.status, exception.to_json(), exception.headers
        headers = {}
        if isinstance(exception, werkzeug.exceptions.Unauthorized | SessionExpiredException):
            status, code, message = 401, "unauthorized", _lt("A valid API key is needed: Authorization: Bearer <key>.")
            headers["WWW-Authenticate"] = "Bearer"
        elif isinstance(exception, AccessDenied) and request and not request.httprequest.headers.get("Authorization"):
            # 18.0's bearer authentication refuses a session without a key so; 19.0 answers 401
            status, code, message = 401, "unauthorized", _lt("A valid API key is needed: Authorization: Bearer <key>.")
            headers["WWW-Authenticate"] = "Bearer"
        elif isinstance(exception, AccessDenied | AccessError | werkzeug.exceptions.Forbidden):
            status, code, message = 403, "forbidden", _lt("You are not allowed to do this.")
        elif isinstance(exception, MissingError):
            status, code, message = 404, "record_not_found", _lt("This record does not exist or you cannot read it.")
        elif isinstance(exception, UserError):  # ValidationError too: its message is for the user
            return 400, {"error": {"code": "invalid_field", "message": str(exception.args[0])}}, headers
        elif isinstance(exception, werkzeug.exceptions.NotFound):
            status, code, message = 404, "not_found", _lt("There is no such endpoint.")
        elif isinstance(exception, werkzeug.exceptions.MethodNotAllowed):
            status, code, message = 405, "method_not_allowed", _lt("This endpoint does not take this method.")
        elif isinstance(exception, werkzeug.exceptions.RequestEntityTooLarge):
            status, code, message = 413, "too_large", _lt("The request is too large.")
        elif isinstance(exception, werkzeug.exceptions.HTTPException) and (exception.code or 500) < 500:
            status, code, message = exception.code, "invalid_json", _lt("The request could not be read.")
        else:
            _logger.error("Gmail extension API: %s failed", request and request.httprequest.path, exc_info=exception)
            status, code, message = 500, "server_error", _lt("The server could not answer this request.")
        try:
            text = self.env._(message._source)
        except Exception:  # noqa: BLE001 - a broken transaction must not hide the error behind another
            text = message._source
        return status, {"error": {"code": code, "message": text}}, headers

    @api.model
    def _check_caller(self):
        """The key's user may use the API: an internal user within the rate limit."""
        user = self.env.user
        if not user._is_internal():
            raise self._error(403, "not_internal", self.env._("Only the company's users may use this API."))
        if wait := self.env["mail.tracking.api.usage"]._count_request(user):
            error = self._error(429, "rate_limited", self.env._(
                "Too many requests: try again in %(seconds)s seconds.", seconds=wait))
            error.headers = {"Retry-After": str(wait)}
            raise error

    @api.model
    def _check_method(self, method, allowed):
        if method not in allowed:
            error = self._error(405, "method_not_allowed", self.env._(
                "This endpoint takes %(methods)s requests.", methods=", ".join(allowed)))
            error.headers = {"Allow": ", ".join(allowed)}
            raise error

    @api.model
    def _max_request_bytes(self):
        return MAX_REQUEST_MB * 1024 * 1024

    @api.model
    def _too_large_error(self):
        return self._error(413, "too_large", self.env._(
            "The request is larger than %(limit)s MB.", limit=round(self._max_request_bytes() / 1024 / 1024, 3)))

    @api.model
    def _parse_body(self, data):
        """The JSON object of a request's body (bytes)."""
        if len(data) > self._max_request_bytes():
            raise self._too_large_error()
        try:
            params = json.loads(data)
        except (ValueError, UnicodeDecodeError, RecursionError):
            params = None
        if not isinstance(params, dict):
            raise self._error(400, "invalid_json", self.env._("The request's body must be a JSON object."))
        return params

    @api.model
    def _param(self, params, name, kind, required=False, default=None):
        """``params[name]``, of type ``kind`` (a type or a tuple of types)."""
        value = params.get(name)
        if value is None:
            if required:
                raise self._error(400, "invalid_field", self.env._("“%(field)s” is missing.", field=name), name)
            return default
        # a boolean is an int in Python, never a number here
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
            raise self._error(400, "invalid_field", self.env._(
                "“%(field)s” does not have the right type.", field=name), name)
        return value

    @api.model
    def _param_addresses(self, params, name, required=False):
        """``[(name, normalized email)]`` of a list of address strings."""
        values = self._param(params, name, list, required=required, default=[])
        # what costs is checked before any parsing: the list's length, each string's
        self._check_address_count(values, name)
        addresses = []
        for value in values:
            if not isinstance(value, str):
                raise self._error(400, "invalid_field", self.env._(
                    "“%(field)s” must be a list of email addresses.", field=name), name)
            if len(value) > MAX_ADDRESS_CHARS:
                raise self._error(400, "invalid_email", self.env._(
                    "“%(address)s…” is not an email address.", address=value[:200]), name)
            found = [(display, email_normalize(email)) for display, email in email_split_tuples(value)
                     if email_normalize(email)]
            if not found:
                raise self._error(400, "invalid_email", self.env._(
                    "“%(address)s” is not an email address.", address=value[:200]), name)
            addresses += found
        return addresses

    @api.model
    def _param_switch(self, params, name, default):
        value = self._param(params, name, bool)
        return default if value is None else value

    @api.model
    def _check_address_count(self, addresses, field):
        if len(addresses) > MAX_ADDRESSES:
            raise self._error(400, "too_many_addresses", self.env._(
                "An email may have at most %(limit)s addresses; this one has %(count)s.",
                limit=MAX_ADDRESSES, count=len(addresses)), field)

    @api.model
    def _log_places(self, records):
        """Where an email logged on ``records`` (single records the user may
        read, in the chosen order) goes: ``(home, records)``. Its home is the
        first the user may post on, as Odoo's own posting asks (the email
        becomes one of its messages); the others are associated with it, for
        which reading suffices, as the composers' associations. Without a home
        the email belongs to no record and every one of them is associated.
        ``records`` comes back with the home first."""
        home = next((record for record in records if record.with_env(self.env).has_access(
            getattr(record, "_mail_post_access", "write"))), None)
        if home is None:
            return None, list(records)
        return home, [home, *(record for record in records if record != home)]

    @api.model
    def _no_home_notice(self):
        return self.env._(
            "You may not post on any of the chosen records: the email belongs to none of them and appears on "
            "their timelines as an email of yours.")

    @api.model
    def _param_records(self, params, name):
        """The records of a list of ``{"model", "id"}``, checked: each exists,
        the user can read it (else 404, the same whether it exists or not),
        and it has a timeline. None when the list is absent."""
        refs = self._param(params, name, list)
        if refs is None:
            return None
        records = []
        for ref in refs:
            model = ref.get("model") if isinstance(ref, dict) else None
            res_id = ref.get("id") if isinstance(ref, dict) else None
            if not isinstance(model, str) or not isinstance(res_id, int) or isinstance(res_id, bool) or res_id <= 0:
                raise self._error(400, "invalid_field", self.env._(
                    "“%(field)s” must be a list of {\"model\": …, \"id\": …}.", field=name), name)
            if model not in self._picker_models():
                raise self._error(400, "invalid_record", self.env._(
                    "Emails cannot be logged on records of “%(model)s”.", model=model[:100]), name)
            record = self.env[model].browse(res_id).exists()._filtered_access("read")
            if not record:
                raise self._error(404, "record_not_found", self.env._(
                    "This record does not exist or you cannot read it."), name)
            records.append(record)
        return records

    # ------------------------------------------------------------
    # What the answers say
    # ------------------------------------------------------------

    @api.model
    def _base_url(self):
        return self.env["mail.mail"].get_base_url()

    @api.model
    def _record_url(self, model, res_id):
        return f"{self._base_url()}/odoo/{model}/{res_id}"

    @api.model
    def _record_json(self, record):
        return {
            "model": record._name, "id": record.id, "name": record.display_name,
            "model_name": self.env["ir.model"].sudo()._get(record._name).name,
            "url": self._record_url(record._name, record.id),
        }

    @api.model
    def _records_json(self, records):
        """JSON of a list of recordsets, each record once, in order."""
        seen, result = set(), []
        for recordset in records:
            for record in recordset:
                if (record._name, record.id) not in seen:
                    seen.add((record._name, record.id))
                    result.append(self._record_json(record))
        return result

    @api.model
    def _company(self):
        """The rules an email written in Gmail follows: its author's company
        (it is written on no record)."""
        return self.env["res.company"]._mail_rules_company(user=self.env.user)

    @api.model
    def _switches_json(self, company):
        in_force = self.env.user._mail_switches_in_force(company)
        tracking_enforced = not company.mail_tracking_allowed or company.mail_tracking_enforce_defaults
        return {
            "track_opens": {"available": company.mail_tracking_allowed, "default": in_force["track_opens"],
                            "enforced": tracking_enforced},
            "track_clicks": {"available": company.mail_tracking_allowed, "default": in_force["track_clicks"],
                             "enforced": tracking_enforced},
            "log_email": {"available": True, "default": in_force["log_email"],
                          "enforced": company.mail_logging_enforce_default},
        }

    # ------------------------------------------------------------
    # GET me
    # ------------------------------------------------------------

    @api.model
    def _api_me(self, params):
        user = self.env.user
        company = self._company()
        return {
            "api_version": API_VERSION,
            "odoo_version": release.series,
            "user": {"id": user.id, "name": user.name, "email": user.email_normalized or user.email or None,
                     "lang": user.lang, "tz": user.tz or None,
                     "create_contacts_default": bool(user.mail_logging_create_contacts)},
            "company": {"id": company.id, "name": company.name},
            "tracking_allowed": company.mail_tracking_allowed,
            "switches": self._switches_json(company),
            "privacy": company.mail_tracking_privacy,
            "anonymous_opens": company.mail_tracking_anonymous_opens,
            "logging_attachments": company.mail_logging_attachments_allowed,
            "attachment_max_mb": company.mail_logging_attachment_max_mb,
            "limits": {
                "max_addresses": MAX_ADDRESSES, "max_body_mb": MAX_BODY_MB, "max_request_mb": MAX_REQUEST_MB,
                "rate_limit_per_minute": self.env["mail.tracking.api.usage"]._rate_limit(),
                "send_ttl_seconds": int(SEND_TTL.total_seconds()),
            },
            "feed_url": f"{self._base_url()}/odoo/action-mail_tracking_ext.mail_tracked_engagement_action",
        }

    # ------------------------------------------------------------
    # Recipients: who is tracked, logged, a contact (POST recipients)
    # ------------------------------------------------------------

    @api.model
    def _audience(self, addresses, company):
        """What the rules say of an email of the user to ``addresses``
        ([(name, normalized email)], To, Cc and Bcc together)."""
        user = self.env.user
        own = user._mail_logging_sender_emails()
        emails = list(dict.fromkeys(email for _name, email in addresses))
        names = {}
        for name, email in addresses:
            names.setdefault(email, name)
        colleagues = set(emails) & (own | self._colleague_emails(emails))
        # the oldest contact of an address, as logging picks it; sudo: the rules hold for every contact
        contacts = {}
        for partner in self.env["res.partner"].sudo().search([("email_normalized", "in", emails)], order="id desc"):
            contacts[partner.email_normalized] = partner
        # what may be said of a contact by name: only of one the user can read (P4)
        readable = self.env["res.partner"].union(*contacts.values()).with_env(self.env)._filtered_access("read")
        Exclusion = self.env["mail.address.exclusion"]
        return {
            "emails": emails, "names": names, "colleagues": colleagues, "contacts": contacts,
            "readable": set(readable.mapped("email_normalized")),
            "refusing": self.env["mail.mail"]._mail_tracking_refused_emails(emails),
            "external": [email for email in emails if email not in colleagues],
            # the user's own addresses too: a copy to oneself carries the pixel as well
            "recipients": emails,
            "never_track": Exclusion._excluded_emails(set(emails), user, company),
            "never_log": Exclusion._excluded_emails(set(emails), user, company, scope="log"),
        }

    @api.model
    def _colleague_emails(self, emails):
        """The addresses among ``emails`` internal users send from (L4), in
        one look-up for the request."""
        Users = self.env["res.users"].sudo()
        users = Users.search([("share", "=", False), "|", ("email_normalized", "in", list(emails)),
                              ("mail_logging_sender_emails", "!=", False)])
        return {email for user in users for email in user._mail_logging_sender_emails()} & set(emails)

    @api.model
    def _contact_name(self, audience, email):
        """How the answers name the contact of ``email``: by name if the user
        can read them, else by the address the user typed (P4)."""
        if email in audience["readable"]:
            return audience["contacts"][email].with_env(self.env).display_name
        return email

    @api.model
    def _entries(self, audience, body):
        """The messages that leave, as the send path takes them: Gmail sends one
        message to every recipient. To one recipient only, it is that
        recipient's (their contact's, if any); to several, it is theirs
        together, as Odoo's raw addresses sent together: nobody's own (T7)."""
        external = audience["external"]
        if not external:
            return []
        partner = self.env["res.partner"]
        if len(audience["recipients"]) == 1:
            partner = audience["contacts"].get(external[0], partner)
        return [{"partner_id": partner, "email_to_normalized": external, "body": body, "headers": {}}]

    @api.model
    def _untracked_reason(self, audience, email, company):
        """Why an address is not tracked on its own, as ``(code, sentence)``,
        or ``(None, None)``: whether it is, is the send path's answer
        (``mail.mail._mail_tracking_audience``) for an email to it alone."""
        contact = audience["contacts"].get(email)
        name = self._contact_name(audience, email)
        if email in audience["colleagues"]:
            return "colleague", self.env._("%(email)s is a colleague: colleagues are never tracked.", email=email)
        entry = {"partner_id": contact or self.env["res.partner"], "email_to_normalized": [email],
                 "body": "…", "headers": {}}
        personal, _shared = self.env["mail.mail"]._mail_tracking_audience(
            [entry], self.env.user, company, True, excluded=audience["never_track"], refused=audience["refusing"])
        if personal:
            return None, None
        if email in audience["never_track"]:
            return "never_track", self.env._("%(email)s is on a never-track list.", email=email)
        if email in audience["refusing"]:
            return "do_not_track", self.env._("%(name)s refused tracking (Do Not Track).", name=name)
        if contact:
            return "no_legal_basis", self.env._(
                "%(name)s has no legal basis for processing that allows tracking.", name=name)
        return "not_a_contact", self.env._(
            "%(email)s is not a contact: with data privacy on, only contacts with a legal basis are tracked.",
            email=email)

    @api.model
    def _tracking_json(self, audience, company, track_opens, track_clicks, copies=None, empty_body=False):
        """What a send does (docs/gmail-api.md, Tracking modes): from the
        copies it made, or, before there is a body, from who would get one."""
        none = {"mode": "none", "opens": False, "clicks": False}
        if not company.mail_tracking_allowed:
            return dict(none, message=self.env._("Your company does not allow tracking emails."))
        if not track_opens and not track_clicks:
            return dict(none, message=self.env._("Tracking is switched off for this email."))
        if not audience["recipients"]:
            return dict(none, message=self.env._("Not tracked: the email has no recipient yet."))
        if not audience["external"]:
            return dict(none, message=self.env._("Not tracked: the email goes to colleagues only."))
        if copies is None:
            personal, shared = self.env["mail.mail"]._mail_tracking_audience(
                self._entries(audience, "…"), self.env.user, company, track_opens,
                excluded=audience["never_track"], refused=audience["refusing"])
            aggregate = bool(shared) and not personal
            tracked = bool(personal or shared)
        else:
            aggregate = any(copy["recipient"].get("is_aggregate") for copy in copies)
            tracked = bool(copies)
        if tracked and aggregate:
            return {"mode": "shared", "opens": True, "clicks": False, "message": self.env._(
                "Only the email's opens are counted, anonymously: data privacy allows no personal tracking "
                "of its recipients.")}
        if tracked and len(audience["recipients"]) == 1:
            return {"mode": "personal", "opens": track_opens, "clicks": track_clicks, "message": self.env._(
                "%(name)s gets a pixel and links of their own: their opens and clicks are recorded as theirs.",
                name=self._contact_name(audience, audience["external"][0]))}
        if tracked:
            return {"mode": "shared", "opens": track_opens, "clicks": track_clicks, "message": self.env._(
                "Gmail sends one message to all %(count)s recipients: its opens and clicks are counted for the "
                "email, without knowing who opened or clicked.", count=len(audience["recipients"]))}
        if empty_body:
            return dict(none, message=self.env._("Not tracked: the email is empty."))
        if len(audience["recipients"]) == 1:
            reason = self._untracked_reason(audience, audience["external"][0], company)[1]
            return dict(none, message=self.env._("Not tracked: %(reason)s", reason=reason) if reason
                        else self.env._("Not tracked: there is nothing to track in this email."))
        blocking = [self._contact_name(audience, email) for email in audience["external"]
                    if email in audience["never_track"] or email in audience["refusing"]]
        if blocking:
            return dict(none, message=self.env._(
                "Not tracked: %(names)s may not be tracked, and Gmail sends the same message to every recipient.",
                names=", ".join(blocking)))
        if company.mail_tracking_privacy:
            return dict(none, message=self.env._(
                "Not tracked: with data privacy on, an email to several recipients could only be counted "
                "anonymously, which your company does not do."))
        return dict(none, message=self.env._("Not tracked: there is nothing to track in this email."))

    @api.model
    def _default_log_records(self, audience):
        """The records Log pre-selects (L2), per address."""
        Association = self.env["mail.message.association"]
        return {email: Association._default_records(audience["contacts"][email], self.env.user)
                for email in audience["external"] if email in audience["contacts"]}

    @api.model
    def _api_recipients(self, params):
        company = self._company()
        addresses = self._param_addresses(params, "emails", required=True)
        self._check_address_count(addresses, "emails")
        in_force = self.env.user._mail_switches_in_force(company)
        track_opens = self._param_switch(params, "track_opens", in_force["track_opens"])
        track_clicks = self._param_switch(params, "track_clicks", in_force["track_clicks"])
        audience = self._audience(addresses, company)
        log_records = self._default_log_records(audience)
        recipients = []
        for email in audience["emails"]:
            contact = audience["contacts"].get(email, self.env["res.partner"]).with_env(self.env)
            readable = contact._filtered_access("read")
            records = log_records.get(email) or []
            reason, message = self._untracked_reason(audience, email, company)
            company_partner = readable.commercial_partner_id._filtered_access("read") if readable else readable
            recipients.append({
                "email": email,
                "is_colleague": email in audience["colleagues"],
                "contact": readable and {
                    "id": readable.id, "name": readable.display_name,
                    "url": self._record_url("res.partner", readable.id),
                    "company": company_partner and company_partner != readable and {
                        "id": company_partner.id, "name": company_partner.display_name,
                        "url": self._record_url("res.partner", company_partner.id)} or None,
                } or None,
                "opportunities": self._records_json(
                    [recordset for recordset in records if recordset._name == "crm.lead"]),
                "log_records": self._records_json(records),
                "trackable": reason is None,
                "untracked_reason": reason,
                "untracked_message": message,
                "never_log": email in audience["never_log"],
                "can_create_contact": not contact and email not in audience["colleagues"]
                and email not in audience["never_log"],
            })
        return dict(self._switches_state(audience, company), recipients=recipients,
                    tracking=self._tracking_json(audience, company, track_opens, track_clicks))

    @api.model
    def _switches_state(self, audience, company):
        """The switches for these recipients, and what the composers say of
        them: ``untracked`` and ``untracked_notice`` are the composers' own."""
        switches = self._switches_json(company)
        readable_contacts = self.env["res.partner"].union(*(
            audience["contacts"][email] for email in audience["external"] if email in audience["contacts"]
        )).with_env(self.env)._filtered_access("read")
        notice = self.env["mail.thread"]._mail_tracking_untracked_notice(readable_contacts.sudo(), company)
        tracking_reason = None
        if not company.mail_tracking_allowed:
            tracking_reason = self.env._("Your company does not allow tracking emails.")
        elif not notice["possible"]:
            tracking_reason = notice["notice"]
        elif audience["external"]:
            would = self._tracking_json(audience, company, True, True)
            if would["mode"] == "none":
                tracking_reason = would["message"]
        for switch in ("track_opens", "track_clicks"):
            switches[switch]["available"] = tracking_reason is None
            switches[switch]["disabled_reason"] = tracking_reason
        customers = audience["external"]
        log_reason = None
        if customers and all(email in audience["never_log"] for email in customers):
            refusal = REFUSALS["never_log"]
            log_reason = self.env._(refusal._source)
        switches["log_email"]["available"] = log_reason is None
        switches["log_email"]["disabled_reason"] = log_reason
        return {"switches": switches, "untracked": notice["untracked"], "untracked_notice": notice["notice"] or None}

    # ------------------------------------------------------------
    # Sending (POST send/prepare, send/confirm, send/cancel)
    # ------------------------------------------------------------

    @api.model
    def _api_send_prepare(self, params):
        user = self.env.user
        company = self._company()
        Send = self.env["mail.tracking.api.send"].sudo()
        Send._discard_expired(user)
        subject = self._param(params, "subject", str, default="")[:MAX_SUBJECT]
        body = self._param(params, "body_html", str, required=True)
        if len(body.encode("utf-8", "surrogatepass")) > MAX_BODY_MB * 1024 * 1024:
            raise self._error(413, "too_large", self.env._(
                "The email's body is larger than %(limit)s MB.", limit=MAX_BODY_MB), "body_html")
        addresses = []
        for field in ("to", "cc", "bcc"):
            addresses += self._param_addresses(params, field)
        self._param(params, "from", str)
        self._check_address_count(addresses, "to")
        if not addresses:
            raise self._error(400, "invalid_field", self.env._("The email has no recipient."), "to")
        in_force = user._mail_switches_in_force(company)
        track_opens = self._param_switch(params, "track_opens", in_force["track_opens"]) \
            and company.mail_tracking_allowed
        track_clicks = self._param_switch(params, "track_clicks", in_force["track_clicks"]) \
            and company.mail_tracking_allowed
        log_email = self._param_switch(params, "log_email", in_force["log_email"])
        records = self._param_records(params, "records")
        audience = self._audience(addresses, company)
        to_create = {}
        for email in self._param(params, "create_contacts", list, default=[]):
            normalized = email_normalize(email) if isinstance(email, str) else False
            if not normalized or normalized not in audience["emails"]:
                raise self._error(400, "invalid_field", self.env._(
                    "“create_contacts” must list addresses among the email's recipients."), "create_contacts")
            if normalized not in audience["colleagues"] and normalized not in audience["never_log"]:
                to_create[normalized] = audience["names"].get(normalized) or ""
        loggable = [email for email in audience["external"] if email not in audience["never_log"]]
        log_email = log_email and bool(loggable)
        if log_email and records is None:
            records = [recordset for recordsets in self._default_log_records(audience).values()
                       for recordset in recordsets]
        # what the composer would log on: never-log contacts are dropped (L5)
        records = self.env["mail.message.association"]._chosen_records(
            [(record._name, record.id) for recordset in records or [] for record in recordset]) if log_email else []
        home, records = self._log_places(records)
        notices = [self._no_home_notice()] if records and home is None else []

        if not track_opens and not track_clicks and not log_email:
            return {"send_id": None, "body_html": body, "pixel_url": None, "log_email": False, "records": [],
                    "tracking": self._tracking_json(audience, company, track_opens, track_clicks, copies=[]),
                    "notices": [], "expires_at": None}
        message = self.env["mail.message"].sudo().create({
            "message_type": "email",
            "subtype_id": self.env.ref("mail.mt_note").id,
            "is_internal": True,
            "author_id": user.partner_id.id,
            "email_from": user.email_formatted,
            "subject": subject,
            "body": Markup(tools.html_sanitize(body)),
            "track_opens": track_opens,
            "track_clicks": track_clicks,
            "log_email": False,
        })
        copies, links = [], {}
        entries = self._entries(audience, body)
        if track_opens or track_clicks:
            copies, links = self.env["mail.mail"]._mail_tracking_copies(
                message, user, company, entries, self._base_url())
        tracked_body = entries[0]["body"] if copies else body
        tracking = self._tracking_json(audience, company, track_opens, track_clicks, copies=copies,
                                       empty_body=tools.is_html_empty(message.body))
        if not copies and not log_email:
            message.unlink()
            return {"send_id": None, "body_html": body, "pixel_url": None, "log_email": False, "records": [],
                    "tracking": tracking, "notices": [], "expires_at": None}
        expires_at = fields.Datetime.now() + SEND_TTL
        send = Send.create({
            "name": secrets.token_hex(16),
            "user_id": user.id,
            "message_id": message.id,
            "expires_at": expires_at,
            "tracking_mode": tracking["mode"],
            "copies": [copy["recipient"] for copy in copies],
            "links": links,
            "log_email": log_email,
            "record_refs": [[record._name, record.id] for record in records],
            "log_home": home is not None,
            "contacts_to_create": to_create,
        })
        pixel_url = PIXEL_URL.search(tracked_body) if copies else None
        return {
            "send_id": send.name,
            "body_html": tracked_body,
            "tracking": tracking,
            "pixel_url": pixel_url and html.unescape(pixel_url[0]),
            "log_email": log_email,
            "records": self._records_json(records),
            "notices": notices,
            "expires_at": _utc(expires_at),
        }

    @api.model
    def _prepared_send(self, params):
        send_id = self._param(params, "send_id", str, required=True)
        send = self.env["mail.tracking.api.send"].sudo().search(
            [("name", "=", send_id), ("user_id", "=", self.env.uid)], limit=1)
        if send:
            # two confirmations at once: the second waits, then fails to serialize and is retried by Odoo
            self.env.cr.execute(SQL("SELECT id FROM mail_tracking_api_send WHERE id = %s FOR UPDATE", send.id))
        if not send or (send.state == "prepared" and (
                send.expires_at < fields.Datetime.now() or not send.message_id)):
            raise self._error(404, "send_not_found", self.env._(
                "This send is unknown or expired: prepare it again."), "send_id")
        if send.state != "prepared":
            raise self._error(409, "already_confirmed", self.env._(
                "This send was already confirmed or cancelled."), "send_id")
        return send

    @api.model
    def _param_attachments(self, params):
        """Attachments as Odoo's mail parser gives them: ``(name, bytes, info)``."""
        attachments = []
        for attachment in self._param(params, "attachments", list, default=[]):
            if not isinstance(attachment, dict) or not isinstance(attachment.get("name"), str) \
                    or not isinstance(attachment.get("data"), str) \
                    or not isinstance(attachment.get("mimetype", ""), str):
                raise self._error(400, "invalid_field", self.env._(
                    "Each attachment needs a name and its data in base64."), "attachments")
            try:
                content = base64.b64decode(attachment["data"], validate=True)
            except (binascii.Error, ValueError):
                raise self._error(400, "invalid_field", self.env._(
                    "The data of attachment “%(name)s” is not base64.", name=attachment["name"][:200]),
                    "attachments") from None
            attachments.append((attachment["name"][:MAX_SUBJECT] or "attachment", content, {}))
        return attachments

    @api.model
    def _api_send_confirm(self, params):
        send = self._prepared_send(params)
        message_ref = self._param(params, "message_id", str)
        attachments = self._param_attachments(params)
        message = send.message_id
        if message_ref and len(message_ref) <= 998 and message_ref.strip().startswith("<") \
                and not self.env["mail.message"].sudo().search_count(
                    [("message_id", "=", message_ref.strip()), ("id", "!=", message.id)], limit=1):
            message.message_id = message_ref.strip()

        logged_on, created, left_out, notices = [], self.env["res.partner"], [], []
        if send.log_email:
            # Gmail has sent the email: whatever changed since the preparation, its tracked copies
            # are recorded below, and it is logged where it still may be (never an error now)
            try:
                with self.env.cr.savepoint():
                    logged_on, created, left_out, notices = self._log_sent_email(send, message, attachments)
            except (AccessError, UserError) as error:
                self.env.invalidate_all()
                _logger.info("Gmail extension API: send %s could not be logged: %s", send.id, error)
                logged_on, created, left_out = [], self.env["res.partner"], []
                notices = [self.env._("The email was sent and tracked, but it could not be logged: %(error)s",
                                      error=str(error.args[0]) if error.args else "")]

        if send.copies:
            now = fields.Datetime.now()
            Recipient = self.env["mail.tracked.recipient"].sudo()
            if send.links:
                self.env["mail.message"]._add_tracked_links({message.id: send.links})
            copies = Recipient.create([dict(copy, sent_date=now) for copy in send.copies])
            if set(copies.mapped("model")) - {False, *Recipient._tracked_models()}:
                self.env.registry.clear_cache()
        send.write({"state": "confirmed", "copies": False, "links": False})
        tracked = self.env["mail.tracked.recipient"].sudo().search([("message_id", "=", message.id)])
        url = self._record_url(message.model, message.res_id) if message.model \
            else self._record_url("mail.tracked.recipient", tracked[:1].id) if tracked else None
        return {
            "message": {"id": message.id, "url": url},
            "tracked": [{"email": recipient.email or None, "contact_id": recipient.partner_id.id or None,
                         "mode": send.tracking_mode} for recipient in tracked],
            "logged_on": logged_on,
            "created_contacts": [{"id": partner.id, "name": partner.name, "email": partner.email,
                                  "url": self._record_url("res.partner", partner.id)} for partner in created],
            "attachments_left_out": left_out,
            "notices": notices,
        }

    @api.model
    def _log_sent_email(self, send, message, attachments):
        """Log the email Gmail sent as ``send`` prepared it, as far as the user
        still may: ``(logged_on JSON, created contacts, attachments left out,
        notices)``. A notice says what is not as prepared."""
        user = self.env.user
        Association = self.env["mail.message.association"]
        Request = self.env["mail.logging.request"]
        prepared = [tuple(ref) for ref in send.record_refs or []]
        # read rights and never-log lists may have changed since the preparation (P4, L5)
        records = Association._chosen_records(prepared)
        notices = []
        if len(records) < len(prepared):
            notices.append(self.env._(
                "The email is not logged on some of the records chosen: you may no longer read them, "
                "or their addresses are on a never-log list now."))
        # an address put on a never-log list since the preparation is no contact either (L5)
        never_log = self.env["mail.address.exclusion"]._excluded_emails(
            set(send.contacts_to_create or {}), user, self._company(), scope="log")
        to_create = {email: name for email, name in (send.contacts_to_create or {}).items()
                     if email not in never_log}
        created = self.env["res.partner"]
        if to_create:
            partners, created = Request._contacts_for(to_create, user, True)
            records += Association._chosen_records([("res.partner", partner.id) for partner in partners])
        home, records = self._log_places(records)
        if not records:
            return [], created, [], notices
        if home is None and send.log_home:
            notices.append(self._no_home_notice())
        if home is not None:
            message_values, left_out = Request._logged_message_values(message.body, attachments, home.sudo(), user)
            message.write(dict(message_values, log_email=True))
        else:
            message_values, left_out = self._homeless_message_values(message, attachments)
            message.write(dict(message_values, log_email=True))
        Association._associate(message, records[1:] if home is not None else records)
        return self._records_json(records), created, left_out, notices

    @api.model
    def _homeless_message_values(self, message, attachments):
        """What an email logged on no record of its own keeps: its body, with a
        note of the attachments left out, and the attachments the company logs
        (L6), attached to the email itself."""
        Request = self.env["mail.logging.request"]
        kept, left_out = Request._split_attachments(attachments, self._company())
        body = message.body + self.env["mail.message"]._mail_logging_left_out_note(left_out)
        attachment_ids = self.env["ir.attachment"].sudo().create([{
            "name": name, "raw": content, "res_model": "mail.message", "res_id": message.id,
        } for name, content, *_info in kept]).ids
        return {"body": body, "attachment_ids": [(4, attachment_id) for attachment_id in attachment_ids]}, left_out

    @api.model
    def _api_send_cancel(self, params):
        send = self._prepared_send(params)
        message = send.message_id
        # the send is remembered (a replay is told it was cancelled), its draft is not
        send.write({"state": "cancelled", "copies": False, "links": False, "message_id": False})
        message.unlink()
        return {"cancelled": True}

    # ------------------------------------------------------------
    # Record picker (POST records/search)
    # ------------------------------------------------------------

    @api.model
    def _picker_models(self):
        models_ = ["res.partner", *self.env["res.partner"]._mail_logging_open_records_domains()]
        return [model for model in models_ if model in self.env and self.env[model].has_access("read")]

    @api.model
    def _api_records_search(self, params):
        model = self._param(params, "model", str, required=True)
        query = self._param(params, "query", str, default="")[:200]
        limit = self._param(params, "limit", int, default=10)
        allowed = self._picker_models()
        if model not in allowed:
            raise self._error(400, "invalid_record", self.env._(
                "Emails cannot be logged on records of “%(model)s”.", model=model[:100]), "model")
        if not 1 <= limit <= SEARCH_LIMIT_MAX:
            raise self._error(400, "invalid_field", self.env._(
                "“%(field)s” must be between 1 and %(max)s.", field="limit", max=SEARCH_LIMIT_MAX), "limit")
        records = self.env[model].search([("display_name", "ilike", query)] if query else [], limit=limit)
        return {
            "records": self._records_json([records]),
            "models": [{"model": name, "name": self.env["ir.model"].sudo()._get(name).name} for name in allowed],
        }

    # ------------------------------------------------------------
    # Activity feed (GET feed, N2)
    # ------------------------------------------------------------

    @api.model
    def _api_feed(self, params):
        since = params.get("since")
        limit = params.get("limit", FEED_LIMIT_DEFAULT)
        try:
            limit = int(limit)
        except (TypeError, ValueError):
            limit = 0
        if not 1 <= limit <= FEED_LIMIT_MAX:
            raise self._error(400, "invalid_field", self.env._(
                "“%(field)s” must be between 1 and %(max)s.", field="limit", max=FEED_LIMIT_MAX), "limit")
        domain = [("author_id", "=", self.env.user.partner_id.id), ("is_counted", "=", True)]
        if since:
            try:
                since_date = datetime.fromisoformat(str(since).replace("Z", "+00:00"))
            except ValueError:
                raise self._error(400, "invalid_field", self.env._(
                    "“%(field)s” must be a date in ISO 8601.", field="since"), "since") from None
            if since_date.tzinfo:
                since_date = since_date.astimezone(timezone.utc).replace(tzinfo=None)
            domain.append(("date", ">=", since_date))
        # sudo: the author sees their own emails' engagement (P4), as the feed's counter
        lines = self.env["mail.tracked.engagement"].sudo().search(
            domain, order="date desc, id desc", limit=limit + 1)
        has_more = len(lines) > limit
        entries = []
        for line in lines[:limit]:
            recipient = line.recipient_id
            if line.model and line.res_id:
                url = self._record_url(line.model, line.res_id)
            else:
                url = self._record_url("mail.tracked.recipient", recipient.id)
            entries.append({
                "id": line.id,
                "date": _utc(line.date),
                "kind": line.kind,
                "recipient": {
                    "name": line.partner_id.name or (None if recipient.is_aggregate else line.email) or None,
                    "email": line.email or None,
                    "contact_id": line.partner_id.id or None,
                },
                "subject": line.subject or "",
                "link": line.url or None,
                "inferred": line.is_inferred,
                "message_id": line.message_id.id,
                "url": url,
            })
        now = fields.Datetime.now()
        # an event is dated when it happens and seen when its transaction commits, a moment later
        return {"entries": entries, "has_more": has_more, "now": _utc(now), "next_since": _utc(now - FEED_OVERLAP)}

    # ------------------------------------------------------------
    # Personal never-track and never-log lists (GET/PUT lists, T10, L5)
    # ------------------------------------------------------------

    @api.model
    def _api_lists(self, params):
        Exclusion = self.env["mail.address.exclusion"]
        rules = Exclusion.search([("user_id", "=", self.env.uid)])
        return {name: sorted(rules.filtered(lambda rule, scope=scope: rule.scope == scope).mapped("pattern"))
                for name, scope in LISTS.items()}

    @api.model
    def _api_lists_put(self, params):
        Exclusion = self.env["mail.address.exclusion"]
        replaced = {}
        for name, scope in LISTS.items():
            values = self._param(params, name, list)
            if values is None:
                continue
            patterns = []
            for value in values:
                pattern = Exclusion._normalize_pattern(value) if isinstance(value, str) else False
                if not pattern:
                    raise self._error(400, "invalid_pattern", self.env._(
                        "“%(pattern)s” is neither an email address nor a domain.", pattern=str(value)[:200]), name)
                patterns.append(pattern)
            replaced[scope] = list(dict.fromkeys(patterns))
        for scope, patterns in replaced.items():
            # as the user: their own list is theirs to edit (ir.rule), nobody else's
            Exclusion.search([("user_id", "=", self.env.uid), ("scope", "=", scope)]).unlink()
            Exclusion.create([{"pattern": pattern, "scope": scope, "user_id": self.env.uid,
                               "company_id": self.env.user.company_id.id} for pattern in patterns])
        return self._api_lists(params)
