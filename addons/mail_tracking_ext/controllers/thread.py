from odoo import http
from odoo.addons.mail.controllers.thread import ThreadController
from odoo.http import request

from ..models.mail_message import TIMELINE_THREAD_KEY
from ..models.res_partner import LOGGING_NEW_CONTACT_KEY


class LoggedEmailThreadController(ThreadController):
    """A record's chatter also lists the logged emails associated with it (L2);
    contacts the chatter creates for the recipients of a logged email are
    logging contacts (L3)."""

    @http.route()
    def mail_thread_messages(self, thread_model, thread_id, **kwargs):
        request.update_context(**{TIMELINE_THREAD_KEY: (thread_model, int(thread_id))})
        return super().mail_thread_messages(thread_model, thread_id, **kwargs)

    @http.route()
    def mail_thread_partner_from_email(self, *args, **kwargs):
        # (18.0: emails, additional_values; 19.0: thread_model, thread_id, emails)
        # the full composer creates its recipients before the user sends: the Log default decides
        company = request.env["res.company"]._mail_rules_company()
        if request.env.user._mail_switches_in_force(company)["log_email"]:
            request.update_context(**{LOGGING_NEW_CONTACT_KEY: True})
        return super().mail_thread_partner_from_email(*args, **kwargs)

    def _prepare_post_data(self, post_data, thread, **kwargs):
        # 18.0 (19.0: _prepare_message_data); the new addresses come beside post_data
        if "partner_emails" in kwargs:
            self._mail_logging_new_contacts(post_data, thread)
        return super()._prepare_post_data(post_data, thread, **kwargs)

    def _prepare_message_data(self, post_data, *, thread, **kwargs):
        # 19.0 (18.0: _prepare_post_data); the new addresses come in post_data
        if "partner_emails" in post_data and self._mail_logging_new_contacts(post_data, thread):
            # 19.0 creates them through the thread it was given, not request.env
            thread = thread.with_context(**{LOGGING_NEW_CONTACT_KEY: True})
        return super()._prepare_message_data(post_data, thread=thread, **kwargs)

    def _mail_logging_new_contacts(self, post_data, thread):
        """The contacts created for the new addresses of an email that is logged are logging
        contacts (L3): whether they are."""
        if post_data.get("subtype_xmlid", "mail.mt_comment") != "mail.mt_note":
            log_email = post_data.get("log_email")
            company = request.env["res.company"]._mail_rules_company(thread)
            if log_email or (log_email is None and request.env.user._mail_switches_in_force(company)["log_email"]):
                request.update_context(**{LOGGING_NEW_CONTACT_KEY: True})
                return True
        return False
