from odoo import api, fields, models


class ResUsers(models.Model):
    _inherit = "res.users"

    mail_track_opens_default = fields.Boolean(
        "Track Opens by Default", default=True,
        help="New emails you write start with 'Track opens' switched on.")
    mail_track_clicks_default = fields.Boolean(
        "Track Clicks by Default", default=True,
        help="New emails you write start with 'Track clicks' switched on.")
    mail_tracking_notify = fields.Boolean(
        "Tracking Notifications", default=True,
        help="Be notified when a recipient opens your email or clicks one of its links.")
    mail_tracking_exclusion_ids = fields.One2many(
        "mail.tracking.exclusion", "user_id", string="Never Track")
    mail_tracking_defaults_enforced = fields.Boolean(
        related="company_id.mail_tracking_enforce_defaults")

    @property
    def SELF_READABLE_FIELDS(self):
        return super().SELF_READABLE_FIELDS + [
            "mail_track_opens_default", "mail_track_clicks_default", "mail_tracking_notify",
            "mail_tracking_exclusion_ids", "mail_tracking_defaults_enforced",
        ]

    @property
    def SELF_WRITEABLE_FIELDS(self):
        return super().SELF_WRITEABLE_FIELDS + [
            "mail_track_opens_default", "mail_track_clicks_default", "mail_tracking_notify",
            "mail_tracking_exclusion_ids",
        ]

    @api.model
    def _mail_tracking_defaults(self):
        """Switch values a new email of the current user starts from (T3-T5)."""
        company = self.env.company
        if not company.mail_tracking_allowed:
            return {"track_opens": False, "track_clicks": False}
        if company.mail_tracking_enforce_defaults:
            return {
                "track_opens": company.mail_tracking_default_opens,
                "track_clicks": company.mail_tracking_default_clicks,
            }
        return {
            "track_opens": self.env.user.mail_track_opens_default,
            "track_clicks": self.env.user.mail_track_clicks_default,
        }
