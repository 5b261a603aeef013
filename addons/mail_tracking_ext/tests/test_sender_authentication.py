import base64
import socket
import time
from email.utils import format_datetime, make_msgid
from unittest.mock import patch

import dkim
import dns.resolver
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from dkim.canonicalization import CanonicalizationPolicy
from dkim.crypto import parse_pem_private_key

from odoo import fields
from odoo.tests import tagged
from odoo.tools import mute_logger

from ..tools import dkim_check
from .common import TrackingCase

TRUSTED_MTA = "mx.mycompany.example"
REAL_LOOKUP = dkim_check.lookup_txt
SARA = "Sara Sales <sara@mycompany.example>"


class DkimZone:
    """The DKIM keys of the test's domains, and the TXT records the DNS would
    answer for them. DNS cannot be reached where the tests run: serving these
    records in place of :func:`dkim_check.lookup_txt` (dkimpy's ``dnsfunc``
    hook) is the only stand-in of these tests; the signatures, keys and
    verification are real."""

    def __init__(self):
        self.keys, self.records, self.lookups = {}, {}, []

    def add_key(self, domain, selector="mail"):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.keys[domain] = (selector.encode(), key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption()))
        public = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        self.records[f"{selector}._domainkey.{domain}.".encode()] = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)

    def lookup(self, name, timeout):
        self.lookups.append(name)
        return self.records.get(name)

    def sign(self, raw, domain, length=False):
        """``raw`` with the DKIM-Signature of ``domain`` on top, as its mail server signs it."""
        selector, private = self.keys[domain]
        return dkim.sign(raw, selector, domain.encode(), private, length=length) + raw

    def sign_expiring(self, raw, domain, expires):
        """``raw`` signed by ``domain`` with an expiry (``x=``, a Unix time), which
        dkimpy's ``sign`` does not write: the same steps, with that one tag more."""
        selector, private = self.keys[domain]
        signer = dkim.DKIM(raw)
        policy = CanonicalizationPolicy.from_c_value(b"relaxed/simple")
        include = tuple(name.lower() for name in signer.default_sign_headers())
        signer.hasher = dkim.HASH_ALGORITHMS[b"rsa-sha256"]
        body_hash = base64.b64encode(signer.hasher(policy.canonicalize_body(signer.body)).digest())
        now = int(time.time())
        tags = [(b"v", b"1"), (b"a", b"rsa-sha256"), (b"c", b"relaxed/simple"), (b"d", domain.encode()),
                (b"s", selector), (b"t", str(min(now, expires) - 3600).encode()), (b"x", str(expires).encode()),
                (b"h", b" : ".join(include)), (b"bh", body_hash), (b"b", b"0" * 60)]
        header = signer.gen_header(tags, include, policy, b"DKIM-Signature", parse_pem_private_key(private))
        return b"DKIM-Signature: " + header + raw


@tagged("post_install", "-at_install")
class TestSenderAuthentication(TrackingCase):
    """L4, R8: an email reaching the logging address is logged only when its
    sender is who its From says: the company's mail server said so in its
    Authentication-Results header, or, when no such header is there, a valid
    DKIM signature of the From domain (or a parent of it) says so."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.acme, cls.carla = cls.create_customer_company(email="info@acme.example")
        cls.alias = cls.env.ref("mail_tracking_ext.mail_logging_alias")
        if not cls.alias.alias_domain_id:
            cls.alias.alias_domain_id = cls.env["mail.alias.domain"].create({"name": "crm.mycompany.example"})
        cls.env.company.mail_logging_trusted_servers = TRUSTED_MTA
        cls.zone = DkimZone()
        for domain in ("mycompany.example", "evil.example"):
            cls.zone.add_key(domain)

    def setUp(self):
        super().setUp()
        self.zone.lookups.clear()
        self.startPatcher(patch.object(dkim_check, "lookup_txt", self.zone.lookup))

    def email_bytes(self, sender=SARA, subject="Offerta caffè", text="Buongiorno, ecco l'offerta.\n", extra=""):
        """An email as Sara's mail client writes it: CRLF lines, 8-bit UTF-8 text."""
        return (f"From: {sender}\r\nTo: Carla Contact <carla@acme.example>\r\n"
                f"Delivered-To: {self.alias.alias_full_name}\r\nSubject: {subject}\r\n"
                f"Date: {format_datetime(fields.Datetime.now().astimezone())}\r\n"
                f"Message-ID: {make_msgid(domain='mailbox.example')}\r\nMIME-Version: 1.0\r\n{extra}"
                "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
                + text.replace("\n", "\r\n")).encode()

    def gateway(self, raw):
        """``raw`` through Odoo's mail gateway; the request it made."""
        count = self.env["mail.logging.request"].search_count([])
        self.env["mail.thread"].message_process(False, raw)
        self.assertEqual(self.env["mail.logging.request"].search_count([]), count + 1, "one request per email")
        return self.env["mail.logging.request"].search([], limit=1)

    def assert_refused(self, request, refusal, *words):
        self.assertEqual((request.state, request.refusal), ("refused", refusal))
        self.assertFalse(request.logged_message_id)
        self.assertFalse(request.sender_authenticated)
        for word in words:
            self.assertIn(word, request.reason)

    def test_l4_r8_a_valid_dkim_signature_of_the_from_domain_authenticates(self):
        request = self.gateway(self.zone.sign(self.email_bytes(), "mycompany.example"))
        self.assertEqual((request.state, request.user_id), ("logged", self.salesperson))
        self.assertTrue(request.sender_authenticated)
        self.assertEqual(request.logged_message_id.subject, "Offerta caffè")
        self.assertEqual(self.zone.lookups, [b"mail._domainkey.mycompany.example."])
        # with no trusted mail server set at all, the signature alone still authenticates
        self.env.company.mail_logging_trusted_servers = False
        request = self.gateway(self.zone.sign(self.email_bytes(subject="Secondo"), "mycompany.example"))
        self.assertEqual(request.state, "logged")

    def test_l4_r8_a_body_altered_after_signing_is_refused(self):
        signed = self.zone.sign(self.email_bytes(text="Il prezzo è 100 EUR.\n"), "mycompany.example")
        request = self.gateway(signed.replace(b"100 EUR", b"900 EUR"))
        self.assert_refused(request, "dkim_invalid", "mycompany.example", "altered")
        # and a signed email replayed with another subject
        signed = self.zone.sign(self.email_bytes(subject="Hello"), "mycompany.example")
        self.assert_refused(self.gateway(signed.replace(b"Subject: Hello", b"Subject: Pay now")), "dkim_invalid")

    def test_l4_r8_a_signed_email_replayed_with_headers_added_is_refused(self):
        """Whoever received a signed email from Sara can add headers above the
        signed ones (readers see the top one, the signature still holds) or add
        one the signature left out, and send it to the logging address: neither
        is taken for Sara's."""
        signed = self.zone.sign(self.email_bytes(subject="Hello"), "mycompany.example")
        replayed = b"To: Mallory <mallory@evil.example>\r\nSubject: Pay now\r\n" + signed
        self.assert_refused(self.gateway(replayed), "repeated_header", "To")
        selector, private = self.zone.keys["mycompany.example"]
        raw = self.email_bytes(subject="Only some headers")
        partly = dkim.sign(raw, selector, b"mycompany.example", private,
                           include_headers=[b"from", b"subject", b"date", b"message-id"]) + raw
        self.assert_refused(self.gateway(partly), "dkim_partial", "to", "mycompany.example")

    def test_l4_r8_a_strangers_email_never_makes_odoo_ask_the_dns(self):
        """The DNS of a domain the sender chose is only asked for a user's address."""
        self.zone.add_key("stranger.example")
        request = self.gateway(self.zone.sign(self.email_bytes(sender="x@stranger.example"), "stranger.example"))
        self.assert_refused(request, "unauthenticated")
        self.assertEqual(self.zone.lookups, [])

    def test_l4_r8_a_signature_of_another_domain_is_refused_without_asking_its_dns(self):
        """The attacker signs with their own domain: valid, but not the sender's.
        Odoo does not even look up the key of a domain the email chose."""
        request = self.gateway(self.zone.sign(self.email_bytes(), "evil.example"))
        self.assert_refused(request, "dkim_unaligned", "evil.example", "mycompany.example")
        self.assertEqual(self.zone.lookups, [])

    def test_l4_r8_spoofed_from_with_an_untrusted_server_header_is_refused(self):
        """A valid-looking Authentication-Results written by the attacker's own
        server (or by the attacker) counts for nothing; the email has no signature."""
        forged = self.email_bytes(extra="Authentication-Results: mx.evil.example; spf=pass; dkim=pass "
                                        "header.d=mycompany.example; dmarc=pass header.from=mycompany.example\r\n")
        self.assert_refused(self.gateway(forged), "unauthenticated", "mycompany.example")
        self.env.company.mail_logging_trusted_servers = False
        self.assert_refused(self.gateway(forged.replace(b"Message-ID: <", b"Message-ID: <2")), "unconfigured",
                            "No trusted mail server is set")

    def test_l4_r8_an_expired_signature_is_refused(self):
        raw = self.email_bytes()
        self.assert_refused(
            self.gateway(self.zone.sign_expiring(raw, "mycompany.example", expires=int(time.time()) - 86400 * 2)),
            "dkim_invalid")
        # the same signature, not expired yet, is valid: the expiry alone made the difference
        request = self.gateway(self.zone.sign_expiring(self.email_bytes(), "mycompany.example",
                                                       expires=int(time.time()) + 86400))
        self.assertEqual(request.state, "logged")

    def test_l4_r8_a_signature_of_part_of_the_body_only_is_refused(self):
        """``l=``: only the first bytes of the body are signed, anything may be added below."""
        signed = self.zone.sign(self.email_bytes(text="Buongiorno.\n"), "mycompany.example", length=True)
        self.assertTrue(dkim.verify(signed, dnsfunc=lambda name, timeout=5: self.zone.records.get(name)))
        request = self.gateway(signed + b"Bonifico urgente su IT00X000.\r\n")
        self.assert_refused(request, "dkim_invalid")

    def test_l4_r8_the_trusted_server_has_the_last_word(self):
        """With the company's own header present, its verdict stands: a signature
        it found failing does not authenticate on a second look."""
        raw = self.zone.sign(self.email_bytes(extra=f"Authentication-Results: {TRUSTED_MTA}; dkim=fail "
                                                    "header.d=mycompany.example; dmarc=fail "
                                                    "header.from=mycompany.example\r\n"), "mycompany.example")
        self.assert_refused(self.gateway(raw), "dmarc")
        self.assertEqual(self.zone.lookups, [], "no DNS lookup when the company's server already checked")

    def test_l4_r8_a_slow_dns_does_not_hold_the_gateway(self):
        """The real lookup (dkimpy through dnspython), against a name server that
        never answers (a UDP socket nobody reads): the email is refused within
        the DNS budget, for that reason."""
        silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        silent.bind(("127.0.0.1", 0))
        self.addCleanup(silent.close)
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = ["127.0.0.1"]
        resolver.port = silent.getsockname()[1]
        signed = self.zone.sign(self.email_bytes(), "mycompany.example")
        started = time.monotonic()
        with patch.object(dkim_check, "lookup_txt", REAL_LOOKUP), \
                patch.object(dns.resolver, "default_resolver", resolver), patch.object(dkim_check, "DNS_BUDGET", 1.5):
            request = self.gateway(signed)
        elapsed = time.monotonic() - started
        self.assert_refused(request, "dkim_dns", "mycompany.example", "DNS")
        self.assertLess(elapsed, 1.5 + 2, f"the gateway waited {elapsed:.1f}s")

    def test_l4_r8_forged_sender_gets_no_answer_and_the_admin_sees_why(self):
        """A refused email whose sender nobody authenticated is never answered (it
        would go to whoever was impersonated): the refusal, with its reason, is for
        the administrators, in the list of refused emails; the impersonated
        salesperson does not see it as theirs."""
        self.env.company.mail_logging_notify_refusal = True
        mails = self.env["mail.mail"].sudo()
        with patch.object(type(mails), "unlink", lambda records: True):  # keep sent mails countable
            before = mails.search([]).ids
            request = self.gateway(self.zone.sign(self.email_bytes(subject="Spoofed"), "evil.example"))
            self.assert_refused(request, "dkim_unaligned")
            # the same for an email the gateway fails on: refused as a whole, no bounce to the sender
            with patch.object(type(request), "_log_email", side_effect=ValueError("nobody foresaw this")), \
                    mute_logger("odoo.addons.mail_tracking_ext.models.mail_logging_request"):
                failed = self.gateway(self.email_bytes(subject="Breaks"))
            self.assertEqual((failed.state, failed.refusal, failed.name), ("refused", "failed", "Breaks"))
            self.assertEqual(self.alias.alias_status, "valid", "the logging address keeps working")
            self.assertFalse(mails.search([("id", "not in", before)]), "no email to the forged sender")
            # an authenticated sender refused for another reason is answered, as the company wants
            # ... to its authenticated From, whatever Return-Path the envelope gave
            self.gateway(self.zone.sign(self.email_bytes(
                subject="Note", extra="Return-Path: <victim@elsewhere.example>\r\n").replace(
                b"To: Carla Contact <carla@acme.example>", f"To: {self.alias.alias_full_name}".encode()),
                "mycompany.example"))
            answers = mails.search([("id", "not in", before)])
            self.assertEqual(answers.mapped("email_to"), ['"Sara Sales" <sara@mycompany.example>'])
        admin = self.env.ref("base.user_admin")
        refused = self.env["mail.logging.request"].with_user(admin).search(
            [("state", "=", "refused"), ("sender_authenticated", "=", False)])
        self.assertIn(request, refused)
        self.assertIn("evil.example", refused.filtered(lambda r: r == request).reason)
        self.assertNotIn(request, self.env["mail.logging.request"].with_user(self.salesperson).search([]))
        action = self.env.ref("mail_tracking_ext.mail_logging_request_action_refused")
        self.assertIn("search_default_unauthenticated", action.context)
