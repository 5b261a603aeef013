from odoo import fields, models


class ResCompany(models.Model):
    _inherit = "res.company"

    mail_tracking_allowed = fields.Boolean(
        "Allow Email Tracking", default=True,
        help="Users may track opens and clicks of the emails they send to contacts.")
    mail_tracking_enforce_defaults = fields.Boolean(
        "Enforce Tracking Defaults",
        help="Every user starts from the company defaults below and cannot change "
             "their personal defaults.")
    mail_tracking_default_opens = fields.Boolean("Track Opens by Default", default=True)
    mail_tracking_default_clicks = fields.Boolean("Track Clicks by Default", default=True)
