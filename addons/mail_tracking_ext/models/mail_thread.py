import logging
from email import errors

from odoo import api, models
from odoo.exceptions import AccessError

from ..tools import email_repair, event_source

_logger = logging.getLogger(__name__)

TRACKING_SWITCHES = ("track_opens", "track_clicks")
LOGGING_SWITCH = "log_email"
# Records a composer chose to log an email on, as [(model, id)] (L2).
LOGGED_RECORDS_PARAM = "logged_record_refs"


class MailThread(models.AbstractModel):
    _inherit = "mail.thread"

    def _get_allowed_message_post_params(self):
        # 18.0 (19.0: _get_allowed_message_params)
        return super()._get_allowed_message_post_params() | set(TRACKING_SWITCHES) | {LOGGING_SWITCH}

    def _get_allowed_message_params(self):
        # 19.0 (18.0: _get_allowed_message_post_params)
        return super()._get_allowed_message_params() | set(TRACKING_SWITCHES) | {LOGGING_SWITCH}

    def _clean_empty_message(self, message):
        # 19.0 (18.0: mail.message's _cleanup_side_records)
        result = super()._clean_empty_message(message)
        message._mail_tracking_forget_emptied()
        return result

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
        if message.sudo().log_email:  # sudo: the switch is for the company's users, a portal user may post
            self.env["mail.message.association"]._associate_posted_email(message, logged_records)
        return message

    def mail_tracking_composer_state(self, partner_ids=()):
        """What the chatter composer of this record shows, under the rules of
        the record's company (those message_post applies): whether tracking is
        allowed, the switches a new email starts from, and the names of the
        contacts, among ``partner_ids`` and the record's followers, whom the
        email would reach untracked (no legal basis in data-privacy mode, or Do
        Not Track: P1, P2), as the full composer names them."""
        self.ensure_one()
        self.check_access("read")
        if not self.env.user._is_internal():  # who is tracked is for the company's users only (P4)
            raise AccessError(self.env._("Only the company's users write tracked emails."))
        company = self.env["res.company"]._mail_rules_company(self)
        # sudo: followers of another company are named by the chatter's follower list anyway
        partners = (self.env["res.partner"].browse(partner_ids)._filtered_access("read")
                    | self.sudo().message_partner_ids).sudo()
        return {
            "allowed": company.mail_tracking_allowed,
            **self.env.user._mail_switches_in_force(company),
            "untracked": self._mail_tracking_untracked_notice(partners, company)["untracked"],
        }

    @api.model
    def _mail_tracking_untracked_notice(self, partners, company):
        """What the composers (the chatter's, the full one, the Gmail
        extension's) say of the contacts among ``partners`` whom a tracked email
        under ``company``'s rules reaches untracked (P1, P2): ``{"untracked":
        their names, "possible": whether tracking reaches anyone (no contact, or
        one tracked), "notice": the sentence naming them, or False}``."""
        contacts = partners.filtered("partner_share")
        untracked = contacts._mail_tracking_untracked(company)
        names = untracked.mapped("display_name")
        return {
            "untracked": names,
            "possible": not contacts or bool(contacts - untracked),
            "notice": self.env._("Not tracked (no legal basis for processing, or tracking refused): %(names)s",
                                 names=", ".join(names)) if names else False,
        }

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

    def message_parse(self, message, save_original=False):
        """An email Python's email package cannot read as it is (an address it
        cannot parse, an unknown character set, an impossible content type:
        R8) is mended and read again, instead of stopping the gateway on it
        at every fetch."""
        try:
            return super().message_parse(message, save_original=save_original)
        except (LookupError, ValueError, IndexError, KeyError, TypeError, errors.MessageError) as error:
            if not email_repair.repair(message):
                raise
            _logger.info("Incoming email %s mended to be read: %s", message.get("Message-Id"), error)
            return super().message_parse(message, save_original=save_original)

    def _message_route_process(self, message, message_dict, routes):
        """Incoming email: an email to the company logging address is logged
        from the raw email, which a forward's original is read from (L4), in
        its place among the routes Odoo found; every email marks the tracked
        emails it replies to (L9)."""
        # as Odoo does for every route: XML-like attachments of incoming email are kept as text
        self = self.with_context(attachments_mime_plainxml=True)
        thread_id, others = False, []
        for route in routes or ():
            if route[0] != "mail.logging.request":
                others.append(route)
                continue
            if others:  # the routes before, in their order
                thread_id = super()._message_route_process(message, message_dict, others)
                others = []
            thread_id = self._log_routed_email(message, message_dict, route)
        if others or not routes:
            thread_id = super()._message_route_process(message, message_dict, others)
        if not event_source.is_automatic(message):  # an out-of-office answer is no reply (L9)
            self.env["mail.tracked.recipient"].sudo()._record_reply(message_dict)
        return thread_id

    def _log_routed_email(self, message, message_dict, route):
        """Run the logging address's route as Odoo's gateway runs a route: as
        its user with superuser rights, silently; an email that cannot be
        processed is bounced and the alias marked invalid, as Odoo does."""
        _model, _thread_id, _custom_values, user_id, alias = route
        Request = self.env["mail.logging.request"].with_context(
            mail_create_nosubscribe=True, mail_create_nolog=True).with_user(user_id).sudo()
        try:
            logging_request = Request._log_received_email(message, message_dict)
        except Exception:
            if alias:
                with self.pool.cursor() as new_cr:
                    self.env(cr=new_cr)["mail.alias"].browse(alias.id)._alias_bounce_incoming_email(
                        message, message_dict, set_invalid=True)
            raise
        if alias and alias.alias_status != "valid":
            alias.sudo().alias_status = "valid"
        return logging_request.id
