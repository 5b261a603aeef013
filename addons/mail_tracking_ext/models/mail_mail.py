import ast
import logging

from odoo import api, models

from .mail_message import LOGGED_EMAIL_REPLY_KEY

_logger = logging.getLogger(__name__)


class MailMail(models.Model):
    _inherit = "mail.mail"

    @api.model_create_multi
    def create(self, vals_list):
        """The emails of an answer to a logged email (L8) answer that email in
        their headers: Odoo threads its records one level deep, so the
        message's parent is the record's first message, not the email."""
        if replied_id := self.env.context.get(LOGGED_EMAIL_REPLY_KEY):
            replied = self.env["mail.message"].sudo(False).browse(replied_id).exists()._filtered_access("read")
            if replied.message_id:
                for values in vals_list:
                    message = self.env["mail.message"].sudo().browse(values.get("mail_message_id"))
                    on_replied_record = (message.model, message.res_id) == (replied.model, replied.res_id)
                    if message and message.parent_id and on_replied_record:
                        references = (values.get("references") or "").split()
                        if replied.message_id not in references:
                            references.insert(max(len(references) - 1, 0), replied.message_id)
                        values["references"] = " ".join(references)
                        headers = ast.literal_eval(values["headers"]) if values.get("headers") else {}
                        values["headers"] = repr(headers | {"In-Reply-To": replied.message_id})
        return super().create(vals_list)

    def _prepare_outgoing_list(self, mail_server=False, recipients_follower_status=None):
        email_list = super()._prepare_outgoing_list(mail_server, recipients_follower_status)
        message = self.mail_message_id
        if message.track_opens or message.track_clicks:
            email_list = self.env["mail.tracked.recipient"]._track_outgoing(self, email_list)
        return email_list

    def _postprocess_sent_message(self, success_pids, failure_reason=False, failure_type=None):
        if tracked := self.filtered(lambda mail: mail.track_opens or mail.track_clicks):
            self.env["mail.tracked.recipient"]._settle_sent(tracked)
        logged = self.mail_message_id.filtered("log_email")  # before the mails may be deleted
        result = super()._postprocess_sent_message(
            success_pids, failure_reason=failure_reason, failure_type=failure_type)
        if logged:
            try:
                with self.env.cr.savepoint():
                    logged._mail_log_settle_attachments()
            except Exception:  # noqa: BLE001 - the email left: never report it failed (and resend it)
                _logger.exception("Logged emails %s: could not drop the attachments not logged", logged.ids)
        return result
