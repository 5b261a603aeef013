"""The tracking routes answered in front of Odoo's request handling (X1).

A tracked email's pixel and links are requested by every recipient, their
mail clients and the machines that check mail, in bursts: Odoo's request
machinery (session, registry signalling, environment, routing) costs several
times the recording itself. ``handle`` takes the well-formed GET and HEAD
requests of ``/email-tracking/open`` and ``/email-tracking/click`` before it:
it picks the database as Odoo does (``-d``, ``--db-filter``, one database per
host) and records with the shared recorder (tools/recorder.py) as the
standalone edge does (``tools.edge.TrackingDatabase``): on connections of its
own, opened with Odoo's connection settings and kept between requests (a few
per process), because Odoo's pool resets a connection's prepared statements
on every borrow and planning the recorder's statement costs more than running
it. The bus messages are the ones Odoo's routes send. In Odoo's test mode it
records in the test's transaction instead. Whenever it cannot decide, it answers nothing and Odoo's routes
(controllers/tracking.py) take the request as before: no single database,
the registry not loaded in this process or without the addon, a visitor
logged in to Odoo (the author's own opens), a link whose email is gone, any
database error before the commit.

It is installed by the addon's ``post_load`` hook, in every process that
loads the addon, around ``odoo.http.Application.__call__``.
"""
import logging
import os
import threading
import time

import psycopg2

import odoo
from odoo import http
from odoo.modules.registry import Registry

from ..models.mail_tracked_event import OdooHost
from ..tools import tracking_http
from ..tools.compat import registry_in_test_mode
from ..tools.edge import CONNECT_TIMEOUT_SECONDS, TrackingDatabase, session_options
from ..tools.recorder import Recorder

_logger = logging.getLogger(__name__)

# Databases are listed (a connection to PostgreSQL's maintenance database with
# --db-filter) at most this often per process: a new database reaches the fast
# path within seconds, Odoo's routes serve it meanwhile.
DATABASE_LIST_SECONDS = 10
_databases = {"until": 0.0, "names": ()}
_recorders = {}  # database name -> TrackingDatabase


def _connect(dbname):
    """A connection with Odoo's settings, named after Odoo's with "-tracking"
    (``pg_stat_activity`` tells them apart), in the recording session
    (``tools.edge.SESSION_OPTIONS``)."""
    info = dict(odoo.sql_db.connection_info_for(dbname)[1])
    info["application_name"] = f"{info.get('application_name') or 'odoo'}-tracking"[:63]
    return psycopg2.connect(**info, connect_timeout=CONNECT_TIMEOUT_SECONDS, options=session_options())


def tracking_database(dbname):
    if dbname not in _recorders:
        _recorders[dbname] = TrackingDatabase(
            dbname, _connect, notify_function=os.getenv("ODOO_NOTIFY_FUNCTION", "pg_notify"))
    return _recorders[dbname]


def database(environ):
    """The database Odoo would serve this request from, without a session:
    the only one its filters leave for the request's host; None otherwise."""
    now = time.monotonic()
    if now >= _databases["until"]:
        try:
            names = odoo.service.db.list_dbs(True)
        except psycopg2.Error:
            return None
        _databases.update(until=now + DATABASE_LIST_SECONDS, names=tuple(names))
    names = http.db_filter(_databases["names"], host=environ.get("HTTP_HOST", ""))
    return names[0] if len(names) == 1 else None


def client_environ(environ):
    """The request as Odoo sees it: in proxy mode, with the address and host
    that the proxy forwarded (the same ProxyFix, on a copy)."""
    if odoo.tools.config["proxy_mode"] and environ.get("HTTP_X_FORWARDED_HOST"):
        environ = dict(environ)
        http.ProxyFix(lambda _environ, _start_response: [])(environ, lambda _status, _headers: None)
    return environ


def handle(environ, start_response):
    """Answer a tracking request, or return None to leave it to Odoo."""
    if not (environ.get("PATH_INFO") or "").startswith(tracking_http.PREFIX):
        return None
    asked = tracking_http.tracking_request(environ)
    if not asked or tracking_http.has_odoo_session(environ):
        return None
    client = client_environ(environ)
    dbname = database(client)
    registry = dbname and Registry.registries.get(dbname)
    if not registry or not registry.ready or "mail.tracked.event" not in registry:
        return None
    # the thread's request attributes, as Odoo's __call__ sets them (its log lines read them)
    current_thread = threading.current_thread()
    current_thread.query_count = 0
    current_thread.query_time = 0
    current_thread.perf_t0 = time.time()
    current_thread.cursor_mode = None
    current_thread.dbname = dbname
    for attribute in ("uid", "url"):
        if hasattr(current_thread, attribute):
            delattr(current_thread, attribute)
    try:
        if registry_in_test_mode(registry):
            with registry.cursor() as cr:
                response = tracking_http.answer(Recorder(cr, OdooHost(cr)), *asked, environ, client.get("REMOTE_ADDR"))
        else:
            response = tracking_database(dbname).record(asked, environ, client.get("REMOTE_ADDR"))
    except psycopg2.Error as error:
        # nothing was committed: Odoo's route tries again, and reports what fails
        _logger.warning("Email tracking fast path: %s; leaving the request to Odoo", error)
        return None
    except Exception:  # noqa: BLE001 - whatever it is, Odoo's route answers the request
        _logger.exception("Email tracking fast path failed; leaving the request to Odoo")
        return None
    if response is None:
        return None
    return response(environ, start_response)


def enabled():
    """``mail_tracking_fast_path = False`` in Odoo's configuration file turns it off."""
    value = odoo.tools.config.get("mail_tracking_fast_path", True)
    return str(value).strip().lower() not in ("0", "false", "no", "off")


def install():
    """Put ``handle`` in front of Odoo's WSGI application (once per process)."""
    application = http.Application
    if getattr(application.__call__, "mail_tracking_fast_path", False) or not enabled():
        return
    odoo_call = application.__call__

    def __call__(self, environ, start_response):  # noqa: N807 - the WSGI entry point it wraps
        response = handle(environ, start_response)
        if response is None:
            return odoo_call(self, environ, start_response)
        return response

    __call__.mail_tracking_fast_path = True
    application.__call__ = __call__
