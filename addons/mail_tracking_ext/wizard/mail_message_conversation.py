from odoo import api, fields, models


class MailMessageConversation(models.TransientModel):
    """A logged email with its whole conversation, oldest first and unabridged
    (L8): a timeline shows each email on its own, and only part of a long one."""
    _name = "mail.message.conversation"
    _description = "Logged Email Conversation"

    message_id = fields.Many2one("mail.message", "Email", required=True, readonly=True, ondelete="cascade")
    conversation_message_ids = fields.Many2many(
        "mail.message", string="Conversation", compute="_compute_conversation_message_ids")

    @api.constrains("message_id")
    def _check_message_access(self):
        # only on an email the user may read: its name and subject are shown as superuser (P4)
        # sudo(False): 19.0 runs constraints as superuser, the check is the user's
        self.message_id.sudo(False).check_access("read")

    @api.depends("message_id")
    def _compute_conversation_message_ids(self):
        for conversation in self:
            # an onchange may name any email, which the constraint above does not see (P4)
            message = conversation.message_id._origin._filtered_access("read")
            conversation.conversation_message_ids = message._logged_email_conversation() if message else False
