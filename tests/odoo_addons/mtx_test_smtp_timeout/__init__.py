"""For the end-to-end tests only: the server that loads this module (``--load
base,web,mtx_test_smtp_timeout``) waits ``MTX_SMTP_TIMEOUT`` seconds (default 2)
for an SMTP server's answer instead of Odoo's 60 (``SMTP_TIMEOUT``, a constant
of ir_mail_server that no setting changes), so that a test of a stalled SMTP
server takes seconds. Odoo's code path is the production one; only the number
differs."""
import os

from odoo.addons.base.models import ir_mail_server

ir_mail_server.SMTP_TIMEOUT = float(os.environ.get("MTX_SMTP_TIMEOUT", "2"))
