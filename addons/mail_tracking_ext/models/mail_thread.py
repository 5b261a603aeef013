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
        """Settle the switches of an email a user writes to contacts (T3, L1):
        the composer's values, else the defaults in force for the user under
        the rules of the record's company. Anything else (notes, system
        notifications, portal posts) is never tracked nor logged."""
        switches = (*TRACKING_SWITCHES, LOGGING_SWITCH)
        if self._is_email_to_contacts(kwargs):
            company = self.env["res.company"]._mail_rules_company(self[:1])
            in_force = self.env.user._mail_switches_in_force(company)
            for switch in switches:
                value = kwargs.get(switch)
                kwargs[switch] = in_force[switch] if value is None else bool(value)
                if switch in TRACKING_SWITCHES:
                    kwargs[switch] = kwargs[switch] and company.mail_tracking_allowed
        else:
            for switch in switches:
                kwargs.pop(switch, None)
        logged_records = kwargs.pop(LOGGED_RECORDS_PARAM, None)
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
        company = self.env["res.company"]._mail_rules_company(self)
        return partners._mail_tracking_untracked(company).mapped("display_name")

    def unlink(self):
        self.env["mail.message.association"]._forget_records(self)
        return super().unlink()

    def _is_email_to_contacts(self, post_values):
        """Whether a post is an email a user writes to contacts, the only kind
        that is tracked and logged: a comment of an internal user, in a subtype
        that notifies the record's followers (not a note)."""
        if post_values.get("message_type", "notification") != "comment" or not self.env.user._is_internal():
            return False
        if post_values.get("subtype_xmlid"):
            subtype = self.env.ref(post_values["subtype_xmlid"], raise_if_not_found=False)
        else:
            subtype = self.env["mail.message.subtype"].browse(post_values.get("subtype_id"))
        return bool(subtype) and not subtype.internal

    def _message_route_process(self, message, message_dict, routes):
        """Incoming email: an email to the company logging address is logged
        from the raw email, which a forward's original is read from (L4);
        every email marks the tracked emails it replies to (L9)."""
        logging_routes = [route for route in routes or () if route[0] == "mail.logging.request"]
        other_routes = [route for route in routes or () if route[0] != "mail.logging.request"]
        thread_id = False
        for _model, _thread_id, _custom_values, user_id, alias in logging_routes[:1]:
            # as Odoo's gateway runs a route: as its user, with superuser rights, silently
            Request = self.env["mail.logging.request"].with_context(
                mail_create_nosubscribe=True, mail_create_nolog=True).with_user(user_id).sudo()
            logging_request = Request._log_received_email(message, message_dict)
            thread_id = logging_request.id
            if alias and alias.alias_status != "valid":
                alias.sudo().alias_status = "valid"
        if other_routes or not logging_routes:
            thread_id = super()._message_route_process(message, message_dict, other_routes)
        self.env["mail.tracked.recipient"].sudo()._record_reply(message_dict)
        return thread_id
