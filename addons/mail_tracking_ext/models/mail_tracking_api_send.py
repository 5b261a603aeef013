from odoo import api, fields, models

from ..tools.compat import sql_constraints

# How long after their confirmation or cancellation sends are remembered: a replayed
# confirmation is then answered "already confirmed" rather than "unknown".
SETTLED_KEPT_DAYS = 1


class MailTrackingApiSend(models.Model):
    """An email the Gmail extension prepared for sending (docs/gmail-api.md):
    its draft ``mail.message`` (the tokens name it) and, until Gmail sent it
    and the extension confirmed it, its tracked copies and links, kept aside
    as Odoo's own sending keeps them until the SMTP server answered. Nothing
    of it is recorded, and none of its tokens works, before the confirmation;
    a send never confirmed is discarded with its draft.
    """
    _name = "mail.tracking.api.send"
    _description = "Email Prepared in Gmail"
    _order = "id desc"

    name = fields.Char("Send ID", required=True, readonly=True, index=True,
                       help="The random reference the extension confirms the send with.")
    user_id = fields.Many2one("res.users", required=True, readonly=True, ondelete="cascade", index=True)
    # the draft email, deleted with a send cancelled or never confirmed
    message_id = fields.Many2one("mail.message", "Email", readonly=True, ondelete="set null")
    state = fields.Selection(
        [("prepared", "Prepared"), ("confirmed", "Sent"), ("cancelled", "Cancelled")],
        required=True, default="prepared", readonly=True)
    expires_at = fields.Datetime(required=True, readonly=True)
    tracking_mode = fields.Selection(
        [("personal", "Personal"), ("shared", "Shared"), ("none", "Not Tracked")], required=True, readonly=True)
    # values of the mail.tracked.recipient rows to create once sent, and the links rewritten
    copies = fields.Json(readonly=True)
    links = fields.Json(readonly=True)
    log_email = fields.Boolean(readonly=True)
    # [[model, id]] to log on; {normalized email: name} to create as contacts (L2, L3)
    record_refs = fields.Json(readonly=True)
    contacts_to_create = fields.Json(readonly=True)
    # the first of record_refs is the email's home (the user could post on it), else it has none
    log_home = fields.Boolean(readonly=True)

    sql_constraints(locals(), ("name_unique", "unique(name)", "A send ID is unique."))

    @api.model
    def _discard_expired(self, user=None):
        """Delete the drafts of sends never confirmed in time (with them their
        sends), and forget settled sends after a while; only ``user``'s, if
        given."""
        now = fields.Datetime.now()
        domain = [("user_id", "=", user.id)] if user else []
        expired = self.sudo().search(domain + [("state", "=", "prepared"), ("expires_at", "<", now)])
        expired.message_id.unlink()
        expired.unlink()
        self.sudo().search(domain + [
            ("state", "!=", "prepared"), ("write_date", "<", fields.Datetime.subtract(now, days=SETTLED_KEPT_DAYS)),
        ]).unlink()

    @api.autovacuum
    def _gc_expired_sends(self):
        self._discard_expired()
