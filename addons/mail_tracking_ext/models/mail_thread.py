from odoo import models

TRACKING_SWITCHES = ("track_opens", "track_clicks")
LOGGING_SWITCH = "log_email"
# Records a composer chose to log an email on, as [(model, id)] (L2).
LOGGED_RECORDS_PARAM = "logged_record_refs"


class MailThread(models.AbstractModel):
    _inherit = "mail.thread"

    def _get_allowed_message_post_params(self):
        return super()._get_allowed_message_post_params() | set(TRACKING_SWITCHES) | {LOGGING_SWITCH}

    def _get_message_create_valid_field_names(self):
        return super()._get_message_create_valid_field_names() | set(TRACKING_SWITCHES) | {LOGGING_SWITCH}

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
        logged_records = kwargs.pop(LOGGED_RECORDS_PARAM, None)
        self._settle_log_switch(kwargs)
        message = super().message_post(**kwargs)
        if message.log_email:
            self.env["mail.message.association"]._associate_posted_email(message, logged_records)
        return message

    def mail_tracking_untracked_recipients(self, partner_ids=()):
        """Names of the contacts, among ``partner_ids`` and this record's
        followers, whom an email from its chatter would reach untracked: no
        legal basis in data-privacy mode, or Do Not Track (P1, P2). The chatter
        shows them beside the tracking switches, as the full composer does."""
        self.ensure_one()
        self.check_access("read")
        # sudo: followers of another company are named by the chatter's follower list anyway
        partners = (self.env["res.partner"].browse(partner_ids)._filtered_access("read")
                    | self.sudo().message_partner_ids).sudo()
        # the company whose rules the email will follow: the record's (as message_post decides)
        company = self._mail_get_companies(default=self.env.company)[self.id]
        return partners._mail_tracking_untracked(company).mapped("display_name")

    def _settle_log_switch(self, post_values):
        """The Log switch of an email a user writes to contacts (L1): the
        composer's value, else the user's (or the enforced company) default."""
        if self._is_tracked_email_post(post_values):
            value = post_values.get(LOGGING_SWITCH)
            post_values[LOGGING_SWITCH] = (
                self.env["res.users"]._mail_log_default() if value is None else bool(value))
        else:
            post_values.pop(LOGGING_SWITCH, None)

    def unlink(self):
        self.env["mail.message.association"]._forget_records(self)
        return super().unlink()

    def _is_tracked_email_post(self, post_values):
        if post_values.get("message_type", "notification") != "comment" or not self.env.user._is_internal():
            return False
        if post_values.get("subtype_xmlid"):
            subtype = self.env.ref(post_values["subtype_xmlid"], raise_if_not_found=False)
        else:
            subtype = self.env["mail.message.subtype"].browse(post_values.get("subtype_id"))
        return bool(subtype) and not subtype.internal

    def _message_route_process(self, message, message_dict, routes):
        """Hand the raw email to the logging model, which needs it to find a
        forwarded original (L4), and mark tracked emails replied to (L9)."""
        if any(route[0] == "mail.logging.request" for route in routes or ()):
            self = self.with_context(mail_logging_raw_email=message)
        thread_id = super()._message_route_process(message, message_dict, routes)
        self.env["mail.tracked.recipient"].sudo()._record_reply(message_dict)
        return thread_id
