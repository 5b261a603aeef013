from odoo import models

TRACKING_SWITCHES = ("track_opens", "track_clicks")


class MailThread(models.AbstractModel):
    _inherit = "mail.thread"

    def _get_allowed_message_post_params(self):
        return super()._get_allowed_message_post_params() | set(TRACKING_SWITCHES)

    def _get_message_create_valid_field_names(self):
        return super()._get_message_create_valid_field_names() | set(TRACKING_SWITCHES)

    def message_post(self, **kwargs):
        """Settle the tracking switches of an email a user writes to contacts
        (T3): the values given by the composer, else the user's defaults.
        Anything else (notes, system notifications, portal posts) is never
        tracked."""
        if self._is_tracked_email_post(kwargs):
            defaults = self.env["res.users"]._mail_tracking_defaults()
            allowed = self.env.company.mail_tracking_allowed
            for switch in TRACKING_SWITCHES:
                value = kwargs.get(switch)
                kwargs[switch] = allowed and (defaults[switch] if value is None else bool(value))
        else:
            for switch in TRACKING_SWITCHES:
                kwargs.pop(switch, None)
        return super().message_post(**kwargs)

    def _is_tracked_email_post(self, post_values):
        if post_values.get("message_type", "notification") != "comment" or not self.env.user._is_internal():
            return False
        if post_values.get("subtype_xmlid"):
            subtype = self.env.ref(post_values["subtype_xmlid"], raise_if_not_found=False)
        else:
            subtype = self.env["mail.message.subtype"].browse(post_values.get("subtype_id"))
        return bool(subtype) and not subtype.internal
