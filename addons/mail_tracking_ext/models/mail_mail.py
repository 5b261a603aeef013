from odoo import models


class MailMail(models.Model):
    _inherit = "mail.mail"

    def _prepare_outgoing_list(self, mail_server=False, recipients_follower_status=None):
        email_list = super()._prepare_outgoing_list(mail_server, recipients_follower_status)
        message = self.mail_message_id
        if message.track_opens or message.track_clicks:
            email_list = self.env["mail.tracked.recipient"]._track_outgoing(self, email_list)
        return email_list

    def _postprocess_sent_message(self, success_pids, failure_reason=False, failure_type=None):
        if tracked := self.filtered(lambda mail: mail.track_opens or mail.track_clicks):
            self.env["mail.tracked.recipient"]._discard_unsent(tracked, success_pids, failure_type)
        return super()._postprocess_sent_message(
            success_pids, failure_reason=failure_reason, failure_type=failure_type)
