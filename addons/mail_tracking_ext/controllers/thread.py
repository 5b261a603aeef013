from odoo import http
from odoo.addons.mail.controllers.thread import ThreadController
from odoo.http import request


class LoggedEmailThreadController(ThreadController):
    """A record's chatter also lists the logged emails associated with it (L2);
    contacts the chatter creates for the recipients of a logged email are
    logging contacts (L3)."""

    @http.route()
    def mail_thread_messages(self, thread_model, thread_id, **kwargs):
        request.update_context(mail_logging_thread=(thread_model, int(thread_id)))
        return super().mail_thread_messages(thread_model, thread_id, **kwargs)

    @http.route()
    def mail_thread_partner_from_email(self, emails, additional_values=None):
        # the full composer creates its recipients before the user sends: the Log default decides
        if request.env["res.users"]._mail_log_default():
            request.update_context(mail_log_new_contact=True)
        return super().mail_thread_partner_from_email(emails, additional_values=additional_values)

    def _prepare_post_data(self, post_data, thread, **kwargs):
        if "partner_emails" in kwargs and post_data.get("subtype_xmlid", "mail.mt_comment") != "mail.mt_note":
            log_email = post_data.get("log_email")
            if log_email or (log_email is None and request.env["res.users"]._mail_log_default()):
                request.update_context(mail_log_new_contact=True)
        return super()._prepare_post_data(post_data, thread, **kwargs)
