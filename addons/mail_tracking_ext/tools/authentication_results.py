"""Who really sent an email that reached the logging address (L4, R8).

The ``From`` header is whatever the sender typed. What a receiving mail server
verified (SPF, DKIM, DMARC) it writes in an ``Authentication-Results`` header
(RFC 8601) under its own name, the *authserv-id*, after deleting any header
claiming that name that arrived from outside. So only the topmost header of the
company's own mail server says anything; the others may be forged.

An email is taken as sent from the domain of its ``From`` address when that
header reports ``dmarc=pass`` for that domain, or ``dkim=pass`` with a signing
domain aligned with it (the same domain, or a parent of it).

When no such header is there (or no server is named), the email's own DKIM
signatures are verified instead (:mod:`.dkim_check`), with the same alignment.
A trusted header, when present, is final: the company's server already checked
the signatures on arrival, before anything could alter the email.
"""
import re

from odoo.tools import email_normalize, email_split

from .dkim_check import check_signatures

# Headers an email carries at most once (RFC 5322 3.6) that logging reads
ONCE_ONLY_HEADERS = ("To", "Cc", "Subject", "Message-ID", "Date", "Reply-To", "In-Reply-To", "References", "Sender")
_COMMENT = re.compile(r"\([^()]*\)")


class SenderCheck:
    """The outcome: ``domain`` authenticated (``by`` "header" or "dkim"), or
    ``problem`` (a refusal code: "from_count", "unconfigured",
    "unauthenticated", "dmarc", "dkim_unaligned", "dkim_invalid", "dkim_dns")
    with the ``details`` its message names."""

    def __init__(self, domain=None, by=None, problem=None, details=None):
        self.domain, self.by, self.problem, self.details = domain, by, problem, details or {}

    def __bool__(self):
        return self.problem is None


def parse_authentication_results(value):
    """``(authserv-id, [(method, result, {property: value})])`` of one header value."""
    previous = None
    while previous != value:  # comments nest: strip the innermost until none is left
        previous, value = value, _COMMENT.sub(" ", value)
    parts = [part.strip() for part in value.split(";")]
    authserv_id = parts[0].split()[0].lower() if parts and parts[0].split() else ""
    results = []
    for part in parts[1:]:
        tokens = part.split()
        if not tokens or "=" not in tokens[0]:
            continue
        method, _sep, result = tokens[0].partition("=")
        properties = {}
        for token in tokens[1:]:
            key, sep, prop_value = token.partition("=")
            if sep:
                properties.setdefault(key.lower(), prop_value.strip('"').lower())
        results.append((method.lower().split("/")[0], result.lower(), properties))
    return authserv_id, results


def _aligned(signing_domain, from_domain):
    signing_domain = signing_domain.lstrip("@").rsplit("@", 1)[-1]
    return bool(signing_domain) and (from_domain == signing_domain or from_domain.endswith("." + signing_domain))


def check_sender(message, trusted_authserv_ids, verify_dkim=True):
    """Whether ``message`` (an :class:`email.message.Message`) comes from the
    domain of its single ``From`` address: per the topmost
    ``Authentication-Results`` header of one of ``trusted_authserv_ids``, else
    per its own DKIM signatures (unless not ``verify_dkim``)."""
    from_values = message.get_all("From") or []
    addresses = [address for value in from_values for address in email_split(str(value))]
    if len(from_values) != 1 or len(addresses) != 1 or not email_normalize(addresses[0]):
        return SenderCheck(problem="from_count", details={"from": ", ".join(str(value) for value in from_values)})
    from_domain = email_normalize(addresses[0]).rsplit("@", 1)[1]
    # a genuine email has each of these once (RFC 5322 3.6); a second one added above a signed
    # email is what a reader sees, not what its signer signed (a replay)
    for name in ONCE_ONLY_HEADERS:
        if len(message.get_all(name) or []) > 1:
            return SenderCheck(problem="repeated_header", details={"header": name})
    trusted = {authserv_id.strip().lower() for authserv_id in trusted_authserv_ids if authserv_id.strip()}
    header = next((
        parsed for parsed in (parse_authentication_results(str(value))
                              for value in message.get_all("Authentication-Results") or [])
        if parsed[0] in trusted), None)
    if header is None:
        if not verify_dkim:
            return SenderCheck(problem="unauthenticated" if trusted else "unconfigured",
                               details={"domain": from_domain})
        return _check_dkim(message, from_domain, configured=bool(trusted))
    results = header[1]
    for method, result, properties in results:
        if method == "dmarc" and result == "pass" and properties.get("header.from") == from_domain:
            return SenderCheck(domain=from_domain, by="header")
    if any(method == "dmarc" and result in ("fail", "permerror") for method, result, _props in results):
        return SenderCheck(problem="dmarc", details={"domain": from_domain})
    for method, result, properties in results:
        signing_domain = properties.get("header.d") or properties.get("header.i") or ""
        if method == "dkim" and result == "pass" and _aligned(signing_domain, from_domain):
            return SenderCheck(domain=from_domain, by="header")
    return SenderCheck(problem="unauthenticated", details={"domain": from_domain})


def _check_dkim(message, from_domain, configured):
    """The verdict of the email's own DKIM signatures on ``from_domain``."""
    try:
        # the bytes as received: headers written back as they came, not refolded
        raw = message.as_bytes(policy=message.policy.clone(refold_source="none", linesep="\r\n"))
    except (TypeError, ValueError, LookupError, AttributeError):
        raw = b""
    check = check_signatures(raw, lambda signing_domain: _aligned(signing_domain, from_domain))
    if check:
        return SenderCheck(domain=from_domain, by="dkim")
    if check.problem == "none":
        return SenderCheck(problem="unauthenticated" if configured else "unconfigured",
                           details={"domain": from_domain})
    return SenderCheck(problem=f"dkim_{check.problem}", details={
        "domain": from_domain, "signers": ", ".join(check.domains), "headers": ", ".join(check.unsigned)})
