from odoo import fields, models


class MailComposeMessage(models.TransientModel):
    _inherit = "mail.compose.message"

    track_opens = fields.Boolean(
        "Track Opens", default=lambda self: self.env["res.users"]._mail_tracking_defaults()["track_opens"])
    track_clicks = fields.Boolean(
        "Track Clicks", default=lambda self: self.env["res.users"]._mail_tracking_defaults()["track_clicks"])
    mail_tracking_allowed = fields.Boolean(
        default=lambda self: self.env.company.mail_tracking_allowed)

    def _prepare_mail_values_static(self):
        values = super()._prepare_mail_values_static()
        # only message_post() honours the switches; generic notifications are never tracked
        if (self.composition_mode == "comment" and self.mail_tracking_allowed
                and self.model and hasattr(self.env[self.model], "message_post")):
            values.update(track_opens=self.track_opens, track_clicks=self.track_clicks)
        return values
