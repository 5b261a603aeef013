import base64
import os
import resource
import time
import traceback
import tracemalloc
from collections import Counter, defaultdict
from unittest.mock import patch

from odoo import fields
from odoo.tests import tagged
from odoo.tools import mute_logger

from ..models.mail_logging_request import MAX_EMAIL_MB_PARAMETER, REFUSALS
from . import hostile_mail
from .common import TrackingCase

TRUSTED_MTA = "mx.mycompany.example"
SARA = "Sara Sales <sara@mycompany.example>"
CARLA = "Carla Contact <carla@acme.example>"
AUTHENTICATED = f"{TRUSTED_MTA}; spf=pass smtp.mailfrom=mycompany.example; dmarc=pass header.from=mycompany.example"
SEED = 16
# what Python's email package and the gateway say about broken mail is not news here
QUIET = ("odoo.addons.mail.models.mail_thread", "odoo.addons.mail_tracking_ext.models.mail_logging_request",
         "odoo.addons.mail_tracking_ext.models.mail_logging_import", "odoo.addons.mail_tracking_ext.tools.dkim_check",
         "odoo.addons.base.models.ir_attachment", "odoo.tools.mail")


def show(figures):
    """The figures of R8, for whoever runs the test (``pytest -s``)."""
    print(figures)  # noqa: T201 pylint: disable=print-used


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@tagged("post_install", "-at_install")
class TestHostileMail(TrackingCase):
    """R8: malformed and hostile emails and files, generated from a seed, through
    the logging address (Odoo's mail gateway, ``message_process``, as fetchmail
    and the mailgate script call it) and through the import: each one is logged
    or refused with a reason, nothing crashes, nothing is half logged, and the
    memory they take is measured."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env.company.write({
            "mail_logging_trusted_servers": TRUSTED_MTA,
            "mail_logging_attachments_allowed": True,
            "mail_logging_attachment_max_mb": 50,
            "mail_logging_notify_refusal": True,  # answers are where header injection would bite
        })
        cls.acme, cls.carla = cls.create_customer_company(email="info@acme.example")
        cls.alias = cls.env.ref("mail_tracking_ext.mail_logging_alias")
        if not cls.alias.alias_domain_id:
            cls.alias.alias_domain_id = cls.env["mail.alias.domain"].create({"name": "crm.mycompany.example"})
        cls.logging_address = cls.alias.alias_full_name

    def setUp(self):
        super().setUp()
        self.unrouted = 0
        # answers are deleted once sent (auto_delete): kept here, to see who was answered what
        self.startPatcher(patch.object(type(self.env["mail.mail"]), "unlink", lambda mails: True))
        self.start = {model: self.env[model].sudo().search([("id", ">", 0)], order="id desc", limit=1).id
                      for model in ("mail.logging.request", "mail.message", "ir.attachment", "res.partner",
                                    "mail.mail")}

    def generated(self, count):
        return hostile_mail.generate(count, SEED, SARA, CARLA, self.logging_address, trusted_header=AUTHENTICATED)

    def new(self, model):
        return self.env[model].sudo().search([("id", ">", self.start[model])])

    def gateway(self, raw, model=False):
        """``raw`` through Odoo's mail gateway, in its own savepoint as fetchmail
        gives each email its own transaction: the new requests, or the traceback."""
        last = self.env["mail.logging.request"].sudo().search([], order="id desc", limit=1).id
        try:
            with self.env.cr.savepoint(), mute_logger(*QUIET):
                self.env["mail.thread"].message_process(model, raw)
        except ValueError as error:
            if model or "No possible route found" not in str(error):
                return None, traceback.format_exc(limit=-3)
            # no recipient Odoo can read, so no alias: Odoo's own answer to any such email. A
            # mailbox dedicated to the logging address is fetched with the logging model as
            # fallback (the server's "Create a New Record"): that way, it is a request too.
            self.unrouted += 1
            return self.gateway(raw, model="mail.logging.request")
        except Exception:  # noqa: BLE001 - what the test looks for
            return None, traceback.format_exc(limit=-3)
        return self.env["mail.logging.request"].sudo().search([("id", ">", last)]), None

    def assert_nothing_half_logged(self):
        """Every email kept in the CRM has its request, every attachment its
        email, every new contact the request that created it; no answer went to
        an unauthenticated sender."""
        requests = self.new("mail.logging.request")
        logged = self.new("mail.message").filtered("log_email")
        self.assertEqual(logged, requests.logged_message_id.filtered(lambda m: m.id > self.start["mail.message"]),
                         "no logged email without its request")
        for request in requests:
            self.assertEqual(bool(request.logged_message_id), request.state in ("logged", "duplicate"),
                             f"{request.state} {request.refusal}")
            if request.state == "refused":
                self.assertIn(request.refusal, REFUSALS, "a refusal has a reason")
                self.assertTrue(request.reason)
        # the files of emails; not the images of fields (a new contact's avatar) nor the import's own files
        attachments = self.new("ir.attachment").filtered(
            lambda a: not a.res_field and a.res_model != "mail.logging.import")
        self.assertEqual(attachments - self.new("mail.message").attachment_ids, attachments.browse(),
                         "no attachment without its email")
        self.assertEqual(self.new("res.partner") - requests.created_partner_ids, self.env["res.partner"],
                         "no contact without the request that created it")
        answered = set(self.new("mail.mail").mapped("references"))
        authenticated = set(requests.filtered(lambda r: r.sender_authenticated and r.state == "refused")
                            .mapped("message_ref"))
        self.assertLessEqual(answered, authenticated, "answers only to refused emails of authenticated senders")

    def report(self, title, outcomes, elapsed):
        by_outcome = Counter(outcome for kind_outcomes in outcomes.values() for outcome in kind_outcomes)
        lines = [f"{title}: {sum(by_outcome.values())} inputs in {elapsed:.1f}s, peak RSS {peak_rss_mb():.0f} MB"]
        lines += [f"  {outcome}: {count}" for outcome, count in sorted(by_outcome.items())]
        show("\n".join(lines))
        return by_outcome

    def test_r8_a_thousand_malformed_emails_through_the_logging_address(self):
        started = time.monotonic()
        outcomes, crashes, seconds = defaultdict(list), [], Counter()
        emails = self.generated(int(os.environ.get("HOSTILE_COUNT", 1000)))
        for kind, raw in emails:
            one = time.monotonic()
            requests, crash = self.gateway(raw)
            seconds[kind] += time.monotonic() - one
            if crash:
                crashes.append((kind, crash))
                continue
            self.assertEqual(len(requests), 1, f"{kind}: one request per email, not {len(requests)}")
            outcomes[kind].append(requests.state if requests.state != "refused" else f"refused: {requests.refusal}")
        by_outcome = self.report("R8 logging address", outcomes, time.monotonic() - started)
        slowest = [(kind, round(value, 1)) for kind, value in seconds.most_common(5)]
        show(f"  of which without a readable recipient (fetched with the logging model as fallback): "
             f"{self.unrouted}\n  slowest kinds (s): {slowest}")
        self.assertFalse(crashes, "\n\n".join(f"{kind}:\n{crash}" for kind, crash in crashes[:5]))
        self.assertEqual(len(emails), 1000)
        self.assertFalse(by_outcome["refused: failed"], "every refusal says why; no email made the gateway fail")
        self.assertGreater(by_outcome["logged"], 300, "broken is not refused: what can be read is logged")
        self.assertGreater(by_outcome["refused: unauthenticated"], 50)
        self.assert_nothing_half_logged()

    def test_r8_malformed_emails_and_files_through_the_import(self):
        started = time.monotonic()
        # every other one of the 1,000 (each kind 25 times), to keep the test within minutes
        emails = self.generated(1000)[::2]
        separator = b"From MAILER-DAEMON Thu Jan  1 00:00:00 2025\n"
        archives = [(f"archive{index}.mbox", b"".join(separator + raw.replace(b"\nFrom ", b"\n>From ") + b"\n"
                                                      for _kind, raw in emails[index::4])) for index in range(4)]
        files = archives + [(f"single{index}.eml", raw) for index, (_kind, raw) in enumerate(emails[:40])] + [
            ("garbage.eml", bytes(range(256)) * 40), ("empty.mbox", b""), ("blank.eml", b"\r\n \r\n"),
            ("zip.mbox", hostile_mail.zip_bomb(1)),
            # an unescaped "From " line in a body: the archive splits there, the piece is no email
            ("unescaped.mbox", separator + emails[0][1] + b"\nFrom here on, prices rise.\nReally.\n"),
        ]
        batch = self.env["mail.logging.import"].with_user(self.salesperson).create({
            "attachment_ids": [fields.Command.create({
                "name": name, "datas": base64.b64encode(data), "res_model": "mail.logging.import"})
                for name, data in files]})
        with mute_logger(*QUIET):
            batch.action_import()
            while batch.state == "running":
                self.env["mail.logging.import"]._cron_import()
        outcomes = {"import": [request.state if request.state != "refused" else f"refused: {request.refusal}"
                               for request in batch.request_ids]}
        by_outcome = self.report("R8 import", outcomes, time.monotonic() - started)
        self.assertEqual((batch.state, batch.processed_count), ("done", batch.email_count))
        self.assertEqual(len(batch.request_ids), batch.email_count, "one result per email of the files")
        self.assertGreaterEqual(batch.email_count, 540)
        self.assertFalse(by_outcome["refused: failed"], "every refusal says why")
        self.assertTrue(by_outcome["refused: not_an_email"])
        self.assertGreater(by_outcome["logged"], 150)
        self.assertFalse(batch.attachment_ids.exists(), "the files go when the import is done")
        self.assert_nothing_half_logged()

    def test_r8_defects_found_by_the_generator_stay_fixed(self):
        """Each email below once stopped the gateway (a traceback, and fetchmail
        fetching it again at every run), or was half handled."""
        def email(subject, sender=SARA, content_type="text/plain; charset=utf-8", body=b"Buongiorno.",
                  to=CARLA, extra=b""):
            return (f"Authentication-Results: {AUTHENTICATED}\r\nFrom: {sender}\r\nTo: {to}\r\n"
                    f"Delivered-To: {self.logging_address}\r\nMessage-ID: <{subject.split()[0]}@hostile.example>\r\n"
                    f"Subject: {subject}\r\nContent-Type: {content_type}\r\n").encode() + extra + b"\r\n" + body

        cases = {  # subject: (raw email, state, refusal)
            "nul": (email("nul in\x00 the subject", body=b"<p>a\x00b</p>",
                          content_type="text/html; charset=utf-8"), "logged", False),
            "charset": (email("charset unknown", content_type="text/plain; charset=utf-99"), "logged", False),
            "charset-nul": (email("charset-nul", content_type="text/plain; charset=\x00"), "logged", False),
            "from": (email("from unparsable", sender="sara@"), "refused", "from_count"),
            "type": (email("type impossible", content_type="/"), "logged", False),
            "huge": (email("huge " + "x" * 200_000), "logged", False),
        }
        for name, (raw, state, refusal) in cases.items():
            with self.subTest(case=name):
                requests, crash = self.gateway(raw)
                self.assertFalse(crash, crash)
                self.assertEqual((requests.state, requests.refusal), (state, refusal))
        logged = self.new("mail.logging.request").filtered(lambda r: r.state == "logged")
        self.assertIn("nul in the subject", logged.logged_message_id.mapped("subject"), "NUL left out")
        self.assertEqual(max(len(subject) for subject in logged.mapped("name")), 1000, "a subject, not a megabyte")
        # an answer to a subject with a line break in it: one line, sent (it once failed in the SMTP layer)
        self.gateway(email("=?utf-8?q?Hello=0D=0ABcc:_victim@evil.example?=", to=self.logging_address))
        answer = self.new("mail.mail").filtered(lambda mail: "victim" in (mail.subject or ""))
        self.assertEqual(answer.subject, "Re: Hello Bcc: victim@evil.example")
        self.assertNotEqual(answer.state, "exception", answer.failure_reason)
        # the import reads the same emails
        batch = self.env["mail.logging.import"].with_user(self.salesperson).create({
            "attachment_ids": [fields.Command.create({
                "name": f"{name}.eml", "datas": base64.b64encode(raw.replace(b"@hostile", b"@imported")),
                "res_model": "mail.logging.import"}) for name, (raw, _state, _refusal) in cases.items()]})
        batch.action_import()
        self.assertEqual(sorted(batch.request_ids.mapped("state")), sorted(state for _r, state, _f in cases.values()))
        self.assert_nothing_half_logged()

    def test_r8_big_emails_sixty_megabytes_ten_thousand_recipients_a_zip_bomb(self):
        """The worst cases, once each, with the memory they take."""
        base = hostile_mail.generate(1, SEED, SARA, CARLA, self.logging_address, trusted_header=AUTHENTICATED)[0][1]
        base = b"\r\n".join(line for line in base.split(b"\r\n") if not line.startswith(b"Authentication-Results"))
        base = b"Authentication-Results: " + AUTHENTICATED.encode() + b"\r\n" + base

        def variant(raw, subject):
            return raw.replace(b"Message-ID: <", f"Message-ID: <{subject}.".encode(), 1).replace(
                b"Subject: ", f"Subject: {subject} ".encode(), 1)

        figures = {}
        sixty = hostile_mail.with_attachment(variant(base, "sixty"), "catalogue.bin", b"\x07" * (60 * 1024 * 1024))
        tracemalloc.start()
        started = time.monotonic()
        requests, crash = self.gateway(sixty)
        figures["60 MB attachment"] = (time.monotonic() - started, tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        del sixty
        self.assertFalse(crash, crash)
        self.assertEqual(requests.state, "logged")
        self.assertIn("catalogue.bin (larger than 50 MB)", requests.logged_message_id.body)
        self.assertFalse(requests.logged_message_id.attachment_ids.filtered(lambda a: a.name == "catalogue.bin"))

        crowd = ", ".join(f"person{index}@crowd.example" for index in range(10_000))
        many = variant(base, "crowd").replace(f"To: {CARLA}".encode(), f"To: {crowd}".encode(), 1)
        started = time.monotonic()
        requests, crash = self.gateway(many)
        figures["10,000 recipients (untraced: peak RSS so far)"] = (
            time.monotonic() - started, peak_rss_mb() * 1024 * 1024)
        self.assertFalse(crash, crash)
        self.assertEqual((requests.state, requests.refusal), ("refused", "too_many_recipients"))
        self.assertIn("10001 addresses", requests.reason)
        self.assertFalse(self.env["res.partner"].search_count([("email", "=like", "%@crowd.example")]),
                         "not one contact of a mass email")

        bomb = hostile_mail.zip_bomb(1024)
        tracemalloc.start()
        started = time.monotonic()
        requests, crash = self.gateway(hostile_mail.with_attachment(variant(base, "bomb"), "prices.docx", bomb))
        figures["zip bomb (1 GB in %d KB)" % (len(bomb) // 1024)] = (
            time.monotonic() - started, tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        self.assertFalse(crash, crash)
        self.assertEqual(requests.state, "logged")
        self.assertIn("prices.docx", requests.logged_message_id.attachment_ids.mapped("name"),
                      "kept as the file it is: never unpacked")

        # above the size limit of a logged email (lowered here from its 100 MB): refused whole, both ways in
        self.env["ir.config_parameter"].sudo().set_param(MAX_EMAIL_MB_PARAMETER, 5)
        large = hostile_mail.with_attachment(variant(base, "large"), "big.bin", b"\x01" * (6 * 1024 * 1024))
        requests, crash = self.gateway(large)
        self.assertFalse(crash, crash)
        self.assertEqual((requests.state, requests.refusal), ("refused", "too_large"))
        self.assertIn("larger than 5 MB", requests.reason)
        batch = self.env["mail.logging.import"].with_user(self.salesperson).create({
            "attachment_ids": [fields.Command.create({
                "name": "large.eml", "datas": base64.b64encode(large.replace(b"large", b"large2")),
                "res_model": "mail.logging.import"})]})
        batch.action_import()
        self.assertEqual(batch.request_ids.mapped("refusal"), ["too_large"])

        show("R8 worst cases (time, peak traced memory):\n" + "\n".join(
            f"  {case}: {seconds:.1f}s, {peak / 1024 / 1024:.0f} MB" for case, (seconds, peak) in figures.items())
            + f"\n  peak RSS of the test process: {peak_rss_mb():.0f} MB")
        self.assertLess(figures["60 MB attachment"][1], 1024 * 1024 * 1024, "under 1 GB for a 60 MB email")
        self.assertLess(figures["10,000 recipients (untraced: peak RSS so far)"][0], 60)
        self.assert_nothing_half_logged()
