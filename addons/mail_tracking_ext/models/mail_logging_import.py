import email
import logging
import re
from email import policy

import psycopg2

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError

from ..tools import email_repair

_logger = logging.getLogger(__name__)

# Emails logged per transaction: an import of thousands commits (and shows its
# progress) every batch; one of at most this many is logged while the user waits.
IMPORT_BATCH_SIZE = 100
# An mbox archive: each email starts with a line "From <sender> <date>"; the
# same words inside an email are written ">From ".
MBOX_SEPARATOR = re.compile(rb"^From ", re.MULTILINE)
# What only the import itself writes: over RPC, a user could otherwise run
# someone else's import or make one never end.
IMPORT_PROTECTED_FIELDS = {"user_id", "state", "email_count", "processed_count", "request_ids",
                           "file_names", "email_offsets"}


class MailLoggingImport(models.Model):
    """Log past emails retroactively from ``.eml`` files and ``.mbox``
    archives (L7), with the same rules as the logging address. Large imports
    run in the background, a batch per transaction, so that the user sees their
    progress and a failure loses no batch already logged; an email whose
    Message-ID is already in the CRM is skipped, so importing twice is safe."""
    _name = "mail.logging.import"
    _description = "Email Import"
    _order = "id desc"

    name = fields.Char("Files", compute="_compute_name")
    user_id = fields.Many2one(
        "res.users", "Imported By", required=True, readonly=True, index=True, ondelete="cascade",
        default=lambda self: self.env.user)
    attachment_ids = fields.Many2many(
        "ir.attachment", string="Files (.eml, .mbox)", help=".eml files and .mbox archives")
    file_names = fields.Char(readonly=True)
    create_contacts = fields.Boolean(
        default=lambda self: self.env.user.mail_logging_create_contacts,
        help="Create a non-marketing contact for each address that is not a contact yet.")
    state = fields.Selection([
        ("draft", "Draft"), ("running", "In Progress"), ("done", "Done"),
    ], default="draft", required=True, readonly=True)
    email_count = fields.Integer("Emails", readonly=True)
    email_offsets = fields.Json(
        readonly=True, copy=False, help="Where each email is in the files: [attachment id, start, end].")
    processed_count = fields.Integer("Processed", readonly=True)
    progress = fields.Float(compute="_compute_counts")
    request_ids = fields.Many2many("mail.logging.request", string="Results", readonly=True)
    logged_count = fields.Integer("Logged", compute="_compute_counts")
    duplicate_count = fields.Integer("Already Logged", compute="_compute_counts")
    refused_count = fields.Integer("Refused", compute="_compute_counts")

    @api.model_create_multi
    def create(self, vals_list):
        if not self.env.su:
            for vals in vals_list:
                if IMPORT_PROTECTED_FIELDS.intersection(vals):
                    raise AccessError(self.env._("An import is started from its form, by the user it belongs to."))
        return super().create(vals_list)

    def write(self, vals):
        if not self.env.su and (IMPORT_PROTECTED_FIELDS.intersection(vals) or (
                "attachment_ids" in vals and any(batch.state != "draft" for batch in self))):
            raise AccessError(self.env._("An import is started from its form, by the user it belongs to."))
        return super().write(vals)

    @api.depends("file_names", "attachment_ids")
    def _compute_name(self):
        for batch in self:
            batch.name = batch.file_names or ", ".join(batch.attachment_ids.mapped("name")) or self.env._("New Import")

    @api.depends("request_ids", "processed_count", "email_count")
    def _compute_counts(self):
        for batch in self:
            states = batch.request_ids.mapped("state")
            batch.logged_count = states.count("logged")
            batch.duplicate_count = states.count("duplicate")
            batch.refused_count = states.count("refused")
            batch.progress = 100.0 * batch.processed_count / batch.email_count if batch.email_count else 0.0

    def action_import(self):
        """Count the emails of the files, then log them: at once when there are
        few, else in the background (the form shows the progress)."""
        self.ensure_one()
        if self.state != "draft":
            raise UserError(self.env._("This import has already started."))
        if not self.attachment_ids:
            raise UserError(self.env._("Add at least one .eml or .mbox file."))
        # only files uploaded here by the importer; they become the import's, deleted with it
        if self.attachment_ids.filtered(lambda attachment: attachment.res_model != self._name
                                        or attachment.res_id not in (0, self.id)
                                        or attachment.create_uid != self.env.user):
            raise UserError(self.env._("Upload the files to import in this form."))
        self.attachment_ids.sudo().write({"res_id": self.id})
        offsets = [[attachment.id, start, end] for attachment in self.attachment_ids.sorted("id")
                   for start, end in self._email_offsets(attachment.name, attachment.raw or b"")]
        if not offsets:
            raise UserError(self.env._("These files hold no email: choose .eml files or .mbox archives."))
        self.sudo().write({
            "state": "running", "email_count": len(offsets), "email_offsets": offsets,
            "file_names": ", ".join(self.attachment_ids.mapped("name")),
        })
        if len(offsets) <= IMPORT_BATCH_SIZE:
            self.sudo()._import_batch(len(offsets))
        else:
            self.env.ref("mail_tracking_ext.ir_cron_mail_logging_import")._trigger()
        return self._action_open()

    def action_refresh(self):
        return self._action_open()

    def _action_open(self):
        """The import again, in the dialog it was started from; a page reloads by itself."""
        if self.env.context.get("mail_logging_import_page"):
            return True
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Import Emails to Log"),
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
            "context": {"dialog_size": "extra-large"},
        }

    def _import_batch(self, size=IMPORT_BATCH_SIZE):
        """Log the next ``size`` emails of this import, as its user. An email
        that cannot be logged is refused with the reason, never stops the rest."""
        self.ensure_one()
        user = self.user_id
        Request = self.env["mail.logging.request"].with_user(user)
        requests = Request
        contents, names = {}, {}
        for attachment_id, start, end in self.email_offsets[self.processed_count:self.processed_count + size]:
            if attachment_id not in contents:
                attachment = self.env["ir.attachment"].browse(attachment_id)
                contents[attachment_id], names[attachment_id] = attachment.raw or b"", attachment.name
            raw = self._strip_mbox_separator(contents[attachment_id][start:end])
            requests |= self._import_email(Request, raw, names[attachment_id])
        processed = min(self.processed_count + size, self.email_count)
        values = {"processed_count": processed, "request_ids": [fields.Command.link(r.id) for r in requests]}
        if processed >= self.email_count:
            values.update(state="done", email_offsets=False)
        self.write(values)
        if self.state == "done":
            self.attachment_ids.unlink()
            self.with_context(lang=user.lang).user_id._bus_send("simple_notification", {
                "type": "success",
                "title": self.with_context(lang=user.lang).env._("Emails imported"),
                "message": self.with_context(lang=user.lang).env._(
                    "%(files)s: %(logged)s logged, %(duplicates)s already logged, %(refused)s refused.",
                    files=self.name, logged=self.logged_count, duplicates=self.duplicate_count,
                    refused=self.refused_count),
            })

    def _import_email(self, Request, raw, file_name):
        """Log one email of the files (``raw``, its bytes): the request that says
        what became of it. Nothing of an email that fails is kept but its refusal."""
        user = self.user_id
        refused = {"source": "import", "user_id": user.id, "name": file_name}
        if limit := Request._too_large(len(raw)):
            return Request._refuse(refused, "too_large", limit=limit)
        message = email.message_from_bytes(raw, policy=policy.SMTP)
        headers = self._headers_of(message)
        if headers is None:
            _logger.info("Import %s: unreadable headers in %s", self.id, file_name)
            return Request._refuse(refused, "unreadable")
        if not (headers["From"] or headers["To"] or headers["Message-ID"]):
            # anything parses as an email without headers: say what is wrong, and with which file
            return Request._refuse(refused, "not_an_email")
        try:
            with self.env.cr.savepoint():
                return Request._log_email(message, source="import", user=user, create_contacts=self.create_contacts)
        except psycopg2.OperationalError:
            raise  # the database, not the email: the batch is tried again
        except Exception:  # noqa: BLE001 - one odd email among thousands must not stop the import
            _logger.exception("Import %s: email %s could not be logged", self.id, headers["Message-ID"])
            return Request._refuse(dict(refused, name=headers["Subject"], email_from=headers["From"],
                                        message_ref=headers["Message-ID"]), "failed")

    @api.model
    def _headers_of(self, message):
        """The headers an email of the import is named by, or None when Python
        cannot read them even once the email is mended."""
        for _attempt in range(2):
            try:
                return {name: str(message.get(name) or "") for name in ("From", "To", "Message-ID", "Subject")}
            except Exception:  # noqa: BLE001 - whatever the header parser raises on
                if not email_repair.repair(message):
                    return None
        return None

    @api.model
    def _cron_import(self):
        """Log the running imports, one batch per call: Odoo's cron commits and
        calls again while emails remain."""
        running = self.search([("state", "=", "running")], order="id")
        done = 0
        if running:
            before = running[0].processed_count
            running[0]._import_batch()
            done = running[0].processed_count - before
        remaining = sum(batch.email_count - batch.processed_count for batch in running)
        self.env["ir.cron"]._notify_progress(done=done, remaining=remaining)

    @api.autovacuum
    def _gc_abandoned_imports(self):
        """Drafts nobody started, a day later, with their files."""
        drafts = self.search([("state", "=", "draft"), ("create_date", "<", fields.Datetime.subtract(
            fields.Datetime.now(), days=1))])
        drafts.attachment_ids.unlink()
        drafts.unlink()

    @api.model
    def _email_offsets(self, filename, data):
        """``(start, end)`` of each email of one file, found once: an mbox archive
        (by extension or its ``From `` first line), whose emails each start with a
        ``From `` line, or a single RFC 5322 message."""
        if (filename or "").lower().endswith(".mbox") or data.startswith(b"From "):
            starts = [match.start() for match in MBOX_SEPARATOR.finditer(data)]
            return [(start, end) for start, end in zip(starts, [*starts[1:], len(data)][:len(starts)], strict=True)
                    if data[start:end].strip()]
        return [(0, len(data))] if data.strip() else []

    @api.model
    def _strip_mbox_separator(self, raw):
        """An mbox entry starts with its ``From `` separator line, not part of the email."""
        if raw.startswith(b"From "):
            return raw.split(b"\n", 1)[1] if b"\n" in raw else b""
        return raw
