from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    mail_tracking_allowed = fields.Boolean(
        related="company_id.mail_tracking_allowed", readonly=False)
    mail_tracking_enforce_defaults = fields.Boolean(
        related="company_id.mail_tracking_enforce_defaults", readonly=False)
    mail_tracking_default_opens = fields.Boolean(
        related="company_id.mail_tracking_default_opens", readonly=False)
    mail_tracking_default_clicks = fields.Boolean(
        related="company_id.mail_tracking_default_clicks", readonly=False)
