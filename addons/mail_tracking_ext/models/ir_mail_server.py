from odoo import models

from .mail_mail import COPY_HEADER


class IrMailServer(models.Model):
    _inherit = "ir.mail_server"

    def send_email(self, message, *args, **kwargs):
        """Take the tracked copy's name off the message before it leaves (T11),
        and note that the SMTP server accepted the copy once it did (R5)."""
        copy_key = message[COPY_HEADER]
        if copy_key:
            del message[COPY_HEADER]
        message_id = super().send_email(message, *args, **kwargs)
        if copy_key:
            self.env["mail.mail"]._copy_accepted(str(copy_key))
        return message_id
