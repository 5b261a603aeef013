import base64
import email
import mailbox
import os
import tempfile
from email import policy

from odoo import _, fields, models
from odoo.exceptions import UserError


class MailLoggingImport(models.TransientModel):
    """Log past emails retroactively from ``.eml`` files and ``.mbox``
    archives (L7), with the same rules as the logging address; an email whose
    Message-ID is already in the CRM is skipped, so importing twice is safe."""
    _name = "mail.logging.import"
    _description = "Import Emails to Log"

    attachment_ids = fields.Many2many(
        "ir.attachment", string="Files", help=".eml files and .mbox archives")
    create_contacts = fields.Boolean(
        "Create Contacts", default=lambda self: self.env.user.mail_log_create_contacts,
        help="Create a non-marketing contact for each address that is not a contact yet.")
    state = fields.Selection([("draft", "Draft"), ("done", "Done")], default="draft")
    request_ids = fields.Many2many("mail.logging.request", string="Results", readonly=True)
    logged_count = fields.Integer("Logged", compute="_compute_counts")
    duplicate_count = fields.Integer("Already Logged", compute="_compute_counts")
    refused_count = fields.Integer("Refused", compute="_compute_counts")

    def _compute_counts(self):
        for wizard in self:
            states = wizard.request_ids.mapped("state")
            wizard.logged_count = states.count("logged")
            wizard.duplicate_count = states.count("duplicate")
            wizard.refused_count = states.count("refused")

    def action_import(self):
        self.ensure_one()
        if not self.attachment_ids:
            raise UserError(_("Add at least one .eml or .mbox file."))
        Request = self.env["mail.logging.request"]
        requests = Request
        for attachment in self.attachment_ids:
            for message in self._read_emails(attachment.name, base64.b64decode(attachment.datas or b"")):
                requests |= Request._log_email(
                    message, source="import", user=self.env.user, create_contacts=self.create_contacts)
        self.attachment_ids.unlink()
        self.write({"state": "done", "request_ids": [fields.Command.set(requests.ids)]})
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
        }

    def _read_emails(self, filename, data):
        """The emails of one file: an mbox archive (by extension or its
        ``From `` first line) or a single RFC 5322 message."""
        if (filename or "").lower().endswith(".mbox") or data.startswith(b"From "):
            with tempfile.NamedTemporaryFile(suffix=".mbox", delete=False) as archive:
                archive.write(data)
            try:
                box = mailbox.mbox(archive.name, create=False)
                for key in box.iterkeys():
                    yield email.message_from_bytes(box.get_bytes(key), policy=policy.SMTP)
                box.close()
            finally:
                os.unlink(archive.name)
        elif data.strip():
            yield email.message_from_bytes(data, policy=policy.SMTP)
