"""The DKIM signatures of an email that no trusted mail server vouched for (L4, R8).

When the company's own mail server did not write its ``Authentication-Results``
header (mail fetched from a provider whose name is not in Settings, or no name
set at all), the signatures themselves are verified with ``dkimpy``: the
signing domain's public key is read from DNS and the signed headers and body
must match it.

Only signatures that could authenticate the sender are looked up: those whose
domain the caller accepts (aligned with the ``From`` domain), and the caller
asks only for emails whose ``From`` is a user's address, so a stranger's email
never makes Odoo query the DNS of a domain it chose. The lookups of one email
share a few seconds in all, so a slow DNS cannot hold the mail gateway. A
signature counts only if it covers every header logging reads that the email
carries (``RELIED_ON_HEADERS``).
"""
import logging
import time

import dkim
from dkim.util import InvalidTagValueList, parse_tag_value

_logger = logging.getLogger(__name__)

# Seconds all the DNS lookups of one email may take together.
DNS_BUDGET = 4.0
# Aligned signatures verified per email, the first ones from the top.
MAX_VERIFIED = 3
# The headers logging reads (who, about what, which email): a signature that leaves one of
# those the email carries unsigned lets anyone who received a signed email change it and
# send it on as the signer's (a replay). Counting one signed instance per name is enough
# here: authentication_results refuses emails that repeat any of them.
RELIED_ON_HEADERS = ("from", "to", "cc", "subject", "message-id", "date", "reply-to", "in-reply-to", "references")


class _DkimpyLog:
    """dkimpy reports a bad signature as an error: for the gateway, that is an
    ordinary refusal, worth an info line."""

    def debug(self, *args):
        pass

    def info(self, message, *args):
        _logger.info("dkimpy: %s", message % args if args else message)

    warning = error = info


def lookup_txt(name, timeout):
    """The TXT record of ``name`` (bytes), or None: dkimpy's own lookup through
    dnspython, given up after ``timeout`` seconds. The tests replace this one
    function, since DNS cannot be reached where they run."""
    return dkim.dnsplug.get_txt(name, timeout=timeout)


class SignatureCheck:
    """The outcome: ``signer``, the domain of a valid accepted signature, or
    ``problem`` ("none", "unaligned", "invalid", "dns", "partial") with
    ``domains``, the signing domains concerned, and for "partial" the
    ``unsigned`` headers."""

    def __init__(self, signer=None, problem=None, domains=(), unsigned=()):
        self.signer, self.problem, self.domains = signer, problem, list(domains)
        self.unsigned = list(unsigned)

    def __bool__(self):
        return self.problem is None


def _signatures(headers):
    """``(index, domain, error, unsigned)`` of each DKIM-Signature header, top
    first; ``error`` says why a signature cannot authenticate anything,
    ``unsigned`` names the relied-on headers of the email it leaves unsigned."""
    present = {name.strip().lower().decode("ascii", "replace") for name, _value in headers}
    signatures = []
    for index, value in enumerate(value for name, value in headers if name.lower() == b"dkim-signature"):
        try:
            tags = parse_tag_value(value)
        except InvalidTagValueList:
            signatures.append((index, "", "unreadable signature", []))
            continue
        domain = tags.get(b"d", b"").decode("ascii", "replace").strip().lower()
        signed = {header.strip().lower().decode("ascii", "replace") for header in tags.get(b"h", b"").split(b":")}
        unsigned = [name for name in RELIED_ON_HEADERS if name in present and name not in signed]
        if "from" not in signed:
            error = "From is not signed"
        elif b"l" in tags:  # only the first l= bytes of the body are signed: anything may follow
            error = "body length limit (l=)"
        elif unsigned:
            error = f"{', '.join(unsigned)} not signed"
        else:
            error = None
        signatures.append((index, domain, error, unsigned))
    return signatures


def check_signatures(raw, accepts):
    """Verify the DKIM signatures of the email ``raw`` (bytes, as received)
    whose signing domain ``accepts(domain)``; the first valid one authenticates."""
    try:
        verifier = dkim.DKIM(raw, logger=_DkimpyLog(), minkey=1024)
        signatures = _signatures(verifier.headers)
    except (dkim.DKIMException, ValueError, IndexError) as error:
        _logger.info("DKIM: unreadable email: %s", error)
        return SignatureCheck(problem="invalid")
    if not signatures:
        return SignatureCheck(problem="none")
    candidates = [(index, domain, error, unsigned) for index, domain, error, unsigned in signatures
                  if domain and accepts(domain)]
    if not candidates:
        others = dict.fromkeys(domain for _index, domain, _error, _unsigned in signatures if domain)
        return SignatureCheck(problem="unaligned" if others else "invalid", domains=others)
    deadline = time.monotonic() + DNS_BUDGET
    dns_failed = []

    def dnsfunc(name, timeout=None):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            dns_failed.append(name)
            return None
        try:
            return lookup_txt(name, min(timeout or remaining, remaining))
        except Exception:  # noqa: BLE001 - a timeout, or any DNS error: no key
            dns_failed.append(name)
            return None

    partial = []
    for index, domain, error, unsigned in candidates[:MAX_VERIFIED]:
        if error:
            _logger.info("DKIM signature of %s not considered: %s", domain, error)
            partial += [name for name in unsigned if name not in partial]
            continue
        failed_before = len(dns_failed)
        try:
            valid = verifier.verify(idx=index, dnsfunc=dnsfunc)
        except Exception as exception:  # noqa: BLE001 - expired, altered, malformed: never a crash
            _logger.info("DKIM signature of %s not valid: %s", domain, exception)
            valid = False
        if valid:
            return SignatureCheck(signer=domain)
        if len(dns_failed) > failed_before:
            _logger.info("DKIM key of %s not fetched in time", domain)
    domains = dict.fromkeys(domain for _index, domain, _error, _unsigned in candidates)
    if dns_failed:
        return SignatureCheck(problem="dns", domains=domains)
    return SignatureCheck(problem="partial" if partial else "invalid", domains=domains, unsigned=partial)
