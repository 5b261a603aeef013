from odoo import http
from odoo.addons.mail.controllers.thread import ThreadController
from odoo.http import request


class LoggedEmailThreadController(ThreadController):
    """A record's chatter also lists the logged emails associated with it (L2)."""

    @http.route()
    def mail_thread_messages(self, thread_model, thread_id, **kwargs):
        request.update_context(mail_logging_thread=(thread_model, int(thread_id)))
        return super().mail_thread_messages(thread_model, thread_id, **kwargs)
