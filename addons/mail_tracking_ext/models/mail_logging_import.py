import base64
import email
import itertools
import mailbox
import os
import tempfile
from email import policy

from odoo import _, api, fields, models
from odoo.exceptions import UserError

# Emails logged per transaction: an import of thousands commits (and shows its
# progress) every batch; one of at most this many is logged while the user waits.
IMPORT_BATCH_SIZE = 100


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
    file_names = fields.Char("File Names", readonly=True)
    create_contacts = fields.Boolean(
        "Create Contacts", default=lambda self: self.env.user.mail_log_create_contacts,
        help="Create a non-marketing contact for each address that is not a contact yet.")
    state = fields.Selection([
        ("draft", "Draft"), ("running", "In Progress"), ("done", "Done"),
    ], default="draft", required=True, readonly=True)
    email_count = fields.Integer("Emails", readonly=True)
    processed_count = fields.Integer("Processed", readonly=True)
    progress = fields.Float("Progress", compute="_compute_counts")
    request_ids = fields.Many2many("mail.logging.request", string="Results", readonly=True)
    logged_count = fields.Integer("Logged", compute="_compute_counts")
    duplicate_count = fields.Integer("Already Logged", compute="_compute_counts")
    refused_count = fields.Integer("Refused", compute="_compute_counts")

    @api.depends("file_names", "attachment_ids")
    def _compute_name(self):
        for batch in self:
            batch.name = batch.file_names or ", ".join(batch.attachment_ids.mapped("name")) or _("New Import")

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
            raise UserError(_("This import has already started."))
        if not self.attachment_ids:
            raise UserError(_("Add at least one .eml or .mbox file."))
        count = sum(1 for _raw in self._raw_emails())
        if not count:
            raise UserError(_("These files hold no email: choose .eml files or .mbox archives."))
        self.write({
            "state": "running", "email_count": count,
            "file_names": ", ".join(self.attachment_ids.mapped("name")),
        })
        if count <= IMPORT_BATCH_SIZE:
            self._import_batch(count)
        else:
            self.env.ref("mail_tracking_ext.ir_cron_mail_logging_import")._trigger()
        return self._action_open()

    def action_refresh(self):
        return self._action_open()

    def _action_open(self):
        return {
            "type": "ir.actions.act_window",
            "name": _("Import Emails to Log"),
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
        }

    def _import_batch(self, size=IMPORT_BATCH_SIZE):
        """Log the next ``size`` emails of this import, as its user."""
        self.ensure_one()
        Request = self.env["mail.logging.request"].with_user(self.user_id)
        requests = Request
        for raw in itertools.islice(self._raw_emails(), self.processed_count, self.processed_count + size):
            message = email.message_from_bytes(raw, policy=policy.SMTP)
            requests |= Request._log_email(
                message, source="import", user=self.user_id, create_contacts=self.create_contacts)
        processed = min(self.processed_count + size, self.email_count)
        values = {"processed_count": processed, "request_ids": [fields.Command.link(r.id) for r in requests]}
        if processed >= self.email_count:
            values["state"] = "done"
        self.write(values)
        if self.state == "done":
            self.attachment_ids.unlink()
            self.user_id._bus_send("simple_notification", {
                "type": "success",
                "title": _("Emails imported"),
                "message": _("%(files)s: %(logged)s logged, %(duplicates)s already logged, %(refused)s refused.",
                             files=self.name, logged=self.logged_count, duplicates=self.duplicate_count,
                             refused=self.refused_count),
            })

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

    def _raw_emails(self):
        """The bytes of every email of the files, in a stable order: only the
        emails of the current batch are parsed."""
        for attachment in self.attachment_ids.sorted("id"):
            yield from self._read_raw_emails(attachment.name, base64.b64decode(attachment.datas or b""))

    @api.model
    def _read_raw_emails(self, filename, data):
        """The emails of one file: an mbox archive (by extension or its
        ``From `` first line) or a single RFC 5322 message."""
        if (filename or "").lower().endswith(".mbox") or data.startswith(b"From "):
            with tempfile.NamedTemporaryFile(suffix=".mbox", delete=False) as archive:
                archive.write(data)
            try:
                box = mailbox.mbox(archive.name, create=False)
                for key in box.iterkeys():
                    yield box.get_bytes(key)
                box.close()
            finally:
                os.unlink(archive.name)
        elif data.strip():
            yield data
