import logging
import math
from datetime import timedelta

import psycopg2

from odoo import api, fields, models, sql_db
from odoo.tools import SQL

from ..tools.compat import sql_constraints

_logger = logging.getLogger(__name__)

# Requests per user and minute the Gmail extension's API answers (system parameter; 0: no limit).
RATE_LIMIT_PARAMETER = "mail_tracking_ext.api_rate_limit_per_minute"
RATE_LIMIT_DEFAULT = 120
WINDOW = timedelta(minutes=1)


class MailTrackingApiUsage(models.Model):
    """How many requests a user made to the Gmail extension's API in one
    minute: the rate limit's counter (docs/gmail-api.md).

    It lives in PostgreSQL because Odoo's HTTP workers are separate
    processes, possibly on several machines: a counter in memory would give
    each worker its own limit. It is written in a transaction of its own, so
    that refused and failing requests count too.
    """
    _name = "mail.tracking.api.usage"
    _description = "Gmail Extension API Usage"
    _log_access = False

    user_id = fields.Many2one("res.users", required=True, ondelete="cascade", index=True)
    minute = fields.Datetime(required=True, help="The minute the requests were made in (UTC).")
    count = fields.Integer(required=True, default=0)

    sql_constraints(locals(), ("user_minute_unique", "unique(user_id, minute)",
                               "One counter per user and minute."))

    @api.model
    def _rate_limit(self):
        parameter = self.env["ir.config_parameter"].sudo().get_param(RATE_LIMIT_PARAMETER, RATE_LIMIT_DEFAULT)
        try:
            return max(int(parameter), 0)
        except ValueError:
            return RATE_LIMIT_DEFAULT

    @api.model
    def _count_request(self, user, now=None):
        """Count a request of ``user`` made ``now``; return None when it is
        within the limit, else the seconds to wait before the next one.

        A sliding minute, approximated as Cloudflare does: this minute's count
        plus the previous minute's, weighted by the share of it still in the
        window."""
        limit = self._rate_limit()
        if not limit:
            return None
        now = now or fields.Datetime.now()
        minute = now.replace(second=0, microsecond=0)
        elapsed = (now - minute).total_seconds() / WINDOW.total_seconds()
        try:
            with self.env.registry.cursor() as cr:
                if isinstance(cr, sql_db.Cursor):  # not a test's cursor, a savepoint in the test's transaction
                    # Odoo's REPEATABLE READ would fail the second of two requests counted at once; read
                    # committed makes it wait for the first and count on top of it
                    cr.execute(SQL("SET TRANSACTION ISOLATION LEVEL READ COMMITTED"))
                cr.execute(SQL("""
                    INSERT INTO mail_tracking_api_usage (user_id, minute, count) VALUES (%(user)s, %(minute)s, 1)
                    ON CONFLICT (user_id, minute) DO UPDATE SET count = mail_tracking_api_usage.count + 1
                    RETURNING count, (SELECT count FROM mail_tracking_api_usage
                                       WHERE user_id = %(user)s AND minute = %(previous)s)
                """, user=user.id, minute=minute, previous=minute - WINDOW))
                current, previous = cr.fetchone()
        except psycopg2.Error:
            # fail closed: a request that could not be counted is not answered
            _logger.warning("Gmail extension API: the request of user %s could not be counted", user.id,
                            exc_info=True)
            return 1
        estimate = (previous or 0) * (1 - elapsed) + current
        if estimate <= limit:
            return None
        # when the previous minute's weight has fallen enough, or at the next minute
        if previous and current <= limit:
            wait = (1 - (limit - current) / previous - elapsed) * WINDOW.total_seconds()
        else:
            wait = (1 - elapsed) * WINDOW.total_seconds()
        _logger.info("Gmail extension API: user %s over %s requests a minute", user.id, limit)
        return max(1, math.ceil(wait))

    @api.autovacuum
    def _gc_usage(self):
        """Counters older than the window are of no use."""
        self.env.cr.execute(SQL(
            "DELETE FROM mail_tracking_api_usage WHERE minute < %s", fields.Datetime.now() - 2 * WINDOW))
