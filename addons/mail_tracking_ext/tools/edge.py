"""The standalone tracking edge: the tracking routes as a plain WSGI
application (werkzeug and psycopg2, no Odoo), for sites whose opens and
clicks outgrow one Odoo server.

It records with the same recorder as Odoo (tools/recorder.py), in the same
PostgreSQL database, and tells Odoo's web clients through Odoo's bus (rows of
``bus_bus`` and a NOTIFY on the ``imbus`` channel of the ``postgres``
database, as ``bus.bus`` does). It keeps nothing between requests but its
connections: any number of edges run behind an ordinary load balancer, and
a reverse proxy sends ``/email-tracking/open/`` and ``/email-tracking/click/``
to them (README, "Tracking edge").

Started with ``make edge`` (gunicorn, from this addon's directory:
``gunicorn --chdir <addon> tools.edge:application``), configured through the
environment:

``MAIL_TRACKING_EDGE_DATABASE``  the Odoo database (required); the server and the
                                 credentials come from libpq's variables (PGHOST,
                                 PGPORT, PGUSER, PGPASSWORD, ...)
``MAIL_TRACKING_EDGE_PROXIES``   how many proxies in front of the edge add
                                 X-Forwarded-For (default 0: the peer is the client)
``MAIL_TRACKING_EDGE_NOTIFY_DATABASE``  where Odoo's bus listens (default "postgres")
``ODOO_NOTIFY_FUNCTION``         as for Odoo (default pg_notify)

What it does not do: it cannot see whose Odoo session a browser holds, so the
author's own opens from a browser logged in to Odoo on the same host count as
anybody's (Odoo's routes tell them apart).
"""
import glob
import html
import json
import logging
import os
import re
import threading

import psycopg2
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response
from werkzeug.wsgi import ClosingIterator

from . import tracking_http
from .recorder import Recorder, execute_prepared

_logger = logging.getLogger(__name__)

ADDON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# A database that does not answer within this time fails the request, fast (R4).
CONNECT_TIMEOUT_SECONDS = 3
STATEMENT_TIMEOUT_MS = 5000
# The recording connections' session: PostgreSQL answers a commit without waiting for its
# WAL to reach the disk (the transaction stays atomic; a restart loses nothing, a crash of the
# server itself may lose the last fraction of a second of opens and clicks), and no statement
# holds a request for long. Only these connections, never Odoo's own. The environment's
# PGOPTIONS come after, so ``PGOPTIONS="-c synchronous_commit=on"`` trades speed for those.
SESSION_OPTIONS = f"-c synchronous_commit=off -c statement_timeout={STATEMENT_TIMEOUT_MS}"


def session_options():
    """``SESSION_OPTIONS``, then what the environment's PGOPTIONS sets (which wins)."""
    return f"{SESSION_OPTIONS} {os.environ.get('PGOPTIONS', '')}".strip()


EXPIRED_TITLE = "This link has expired"
EXPIRED_TEXT = ("The email that contained it was deleted by its sender, so we no longer know where it led. "
                "If you still need it, please ask the sender.")


def json_dump(value):
    """As Odoo's bus writes its channels and messages."""
    return json.dumps(value, separators=(",", ":"))


class EdgeHost:
    """The recorder's host in the edge: what runs after the commit is kept
    for the edge to run, the bus rows are written in the transaction and the
    NOTIFY sent once it is committed."""

    def __init__(self, cr, dbname):
        self.cr = cr
        self.dbname = dbname
        self.tasks = []
        self.channels = []

    def after_commit(self, task):
        self.tasks.append(task)

    def send(self, notifications):
        if not notifications:
            return
        params = {}
        for index, (channel, notification_type, payload) in enumerate(notifications):
            params[f"channel{index}"] = json_dump(channel)
            params[f"message{index}"] = json_dump({"type": notification_type, "payload": payload})
        execute_prepared(self.cr, "INSERT INTO bus_bus (channel, message, create_date, write_date) VALUES " + ", ".join(
            f"(%(channel{index})s, %(message{index})s, now() at time zone 'utc', now() at time zone 'utc')"
            for index in range(len(notifications))), params)
        for channel, _type, _payload in notifications:
            if list(channel) not in self.channels:
                self.channels.append(list(channel))


def _po_translations(msgids):
    """{language code: {msgid: msgstr}} of ``msgids`` in the addon's .po files."""
    translations = {}
    entry = re.compile(r'^msgid ((?:"(?:[^"\\]|\\.)*"\s*)+)msgstr ((?:"(?:[^"\\]|\\.)*"\s*)+)', re.MULTILINE)

    def text(quoted):
        return "".join(json.loads(part) for part in re.findall(r'"(?:[^"\\]|\\.)*"', quoted))

    for path in glob.glob(os.path.join(ADDON_DIR, "i18n", "*.po")):
        with open(path, encoding="utf-8") as file:
            pairs = {text(msgid): text(msgstr) for msgid, msgstr in entry.findall(file.read())}
        language = os.path.splitext(os.path.basename(path))[0].replace("_", "-")
        translations[language] = {msgid: pairs[msgid] for msgid in msgids if pairs.get(msgid)}
    return translations


class _Connections:
    """Idle connections to one database, kept between requests (a few per
    process); ``connect(dbname)`` opens one."""

    IDLE = 4

    def __init__(self, dbname, connect):
        self.dbname = dbname
        self._connect = connect
        self._idle = []
        self._lock = threading.Lock()

    def borrow(self):
        """``(connection, reused)``: an idle connection, or a new one."""
        with self._lock:
            while self._idle:
                connection = self._idle.pop()
                if not connection.closed:
                    return connection, True
        connection = self._connect(self.dbname)
        # explicit, whatever the database's default: a lost race on a recipient's row waits
        connection.set_session(isolation_level="READ COMMITTED")
        return connection, False

    def give_back(self, connection):
        with self._lock:
            if not connection.closed and len(self._idle) < self.IDLE:
                self._idle.append(connection)
                return
        connection.close()


# Odoo's bus listens on one database for every database of the server: its connections are
# shared by all the TrackingDatabase objects of a process.
_NOTIFY_CONNECTIONS = {}


def _is_stale(error):
    """The connection, not the request, failed: the server restarted or closed it
    (idle connections see it first), or it lost its prepared statements."""
    return isinstance(error, psycopg2.OperationalError | psycopg2.InterfaceError) or \
        getattr(error, "pgcode", None) == "26000"  # invalid_sql_statement_name


class TrackingDatabase:
    """Recording into one database on connections of its own, kept open
    between requests (a few per process, one per thread at work): the
    recorder's statements are prepared once per connection, which pooled
    connections reset on every borrow cannot keep. The web clients are told
    through Odoo's bus: rows of ``bus_bus`` in the transaction, a NOTIFY once
    it is committed. ``connect(dbname)`` opens a psycopg2 connection."""

    def __init__(self, dbname, connect, notify_dbname="postgres", notify_function="pg_notify"):
        self.dbname = dbname
        self.notify_function = notify_function
        self._connections = _Connections(dbname, connect)
        self._notify_connections = _NOTIFY_CONNECTIONS.setdefault(
            notify_dbname, _Connections(notify_dbname, connect))

    def record(self, asked, environ, ip):
        """Record the request ``asked`` (``tracking_http.tracking_request``) and
        return its response as a WSGI application, or None for a link that
        leads nowhere (nothing recorded). A database error propagates, nothing
        committed; a connection that had gone stale while idle is replaced once.
        What waits for the commit (the bus's NOTIFY, a later judgement) runs
        once the response is sent."""
        while True:
            connection, reused = self._connections.borrow()
            try:
                with connection.cursor() as cr:
                    host = EdgeHost(cr, self.dbname)
                    response = tracking_http.answer(Recorder(cr, host), *asked, environ, ip)
                connection.commit()
                break
            except BaseException as error:
                connection.close()  # whatever state it is in, a new one is made for the next request
                if not (reused and _is_stale(error)):
                    raise
                _logger.info("Email tracking: a stale database connection replaced (%s)", error)

        def finish():
            try:
                self._after_commit(connection, host)
            finally:
                self._connections.give_back(connection)

        if response is None:
            finish()
            return None
        if not host.channels and not host.tasks:
            self._connections.give_back(connection)
            return response

        def respond(environ, start_response):
            try:
                body = response(environ, start_response)
            except BaseException:
                finish()
                raise
            return ClosingIterator(body, [finish])

        return respond

    def _after_commit(self, connection, host, depth=0):
        """What the transaction left for after its commit: the bus's NOTIFY and
        the later steps of the recorder, each in a transaction of its own; one
        failing does not keep the others from running."""
        try:
            self._notify(host.channels)
        except Exception:  # noqa: BLE001 - the request is recorded: log, never fail it
            _logger.exception("Email tracking: could not notify Odoo's bus")
        for task in host.tasks:
            try:
                with connection.cursor() as cr:
                    later = EdgeHost(cr, self.dbname)
                    task(Recorder(cr, later))
                connection.commit()
            except Exception:  # noqa: BLE001 - the request is recorded: log, never fail it
                _logger.exception("Email tracking: could not finish a recording after its commit")
                connection.close()  # a new one is made for the next request
                return
            if depth < 2:
                self._after_commit(connection, later, depth + 1)

    def _notify(self, channels):
        if not channels:
            return
        connection, _reused = self._notify_connections.borrow()
        try:
            connection.autocommit = True
            with connection.cursor() as cr:
                cr.execute(f"SELECT {self.notify_function}('imbus', %s)", (json_dump(channels),))
        except BaseException:
            connection.close()
            raise
        finally:
            self._notify_connections.give_back(connection)


class Edge:
    """The WSGI application of the standalone edge."""

    def __init__(self, dbname, proxies=0, notify_dbname="postgres", notify_function="pg_notify"):
        self.proxies = proxies
        self.database = TrackingDatabase(dbname, self._connect, notify_dbname, notify_function)
        self._expired = _po_translations([EXPIRED_TITLE, EXPIRED_TEXT])

    @classmethod
    def from_environment(cls, environ=None):
        environ = os.environ if environ is None else environ
        dbname = environ.get("MAIL_TRACKING_EDGE_DATABASE")
        if not dbname:
            raise RuntimeError("Set MAIL_TRACKING_EDGE_DATABASE to the Odoo database the edge records into.")
        return cls(dbname, proxies=int(environ.get("MAIL_TRACKING_EDGE_PROXIES") or 0),
                   notify_dbname=environ.get("MAIL_TRACKING_EDGE_NOTIFY_DATABASE") or "postgres",
                   notify_function=environ.get("ODOO_NOTIFY_FUNCTION") or "pg_notify")

    @staticmethod
    def _connect(dbname):
        return psycopg2.connect(dbname=dbname, connect_timeout=CONNECT_TIMEOUT_SECONDS, options=session_options(),
                                application_name="mail_tracking_edge")

    def __call__(self, environ, start_response):
        if self.proxies:
            environ = dict(environ)
            ProxyFix(lambda _environ, _start_response: [], x_for=self.proxies)(
                environ, lambda _status, _headers: None)
        return self.respond(environ)(environ, start_response)

    def respond(self, environ):
        path = environ.get("PATH_INFO") or ""
        asked = tracking_http.tracking_request(environ)
        if not asked:
            if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
                return Response("Method Not Allowed", status=405, headers=[("Allow", "GET, HEAD")])
            if path.startswith("/email-tracking/open/") and path.endswith(".gif"):
                return tracking_http.pixel()  # whatever the token (R3)
            return self.expired_page(environ)
        try:
            response = self.database.record(asked, environ, environ.get("REMOTE_ADDR"))
        except (psycopg2.OperationalError, psycopg2.InterfaceError) as error:
            _logger.warning("Tracking edge: database unavailable (%s)", error)
            return Response("Service Unavailable", status=503,
                            headers=[("Retry-After", "5"), *tracking_http.NO_STORE])
        return response or self.expired_page(environ)

    def expired_page(self, environ):
        """A link that leads nowhere any more, said in the visitor's language."""
        accept = parse_accept_header(environ.get("HTTP_ACCEPT_LANGUAGE"), LanguageAccept)
        language = accept.best_match(list(self._expired), default="en")
        texts = self._expired.get(language, {})
        title, text = texts.get(EXPIRED_TITLE, EXPIRED_TITLE), texts.get(EXPIRED_TEXT, EXPIRED_TEXT)
        page = (f'<!DOCTYPE html>\n<html lang="{language}"><head><meta charset="utf-8"/>'
                '<meta name="viewport" content="width=device-width, initial-scale=1"/>'
                f'<meta name="robots" content="noindex"/><title>{html.escape(title)}</title></head>'
                '<body style="font:16px/1.5 system-ui,sans-serif;max-width:28rem;margin:12vh auto;padding:2rem">'
                f'<h1 style="font-size:1.25rem">{html.escape(title)}</h1><p>{html.escape(text)}</p></body></html>')
        return Response(page, status=404, headers=[("Content-Type", "text/html; charset=utf-8"),
                                                   *tracking_http.NO_STORE])


class _LazyApplication:
    """The edge configured from the environment, made in each worker process."""

    _edge = None

    def __call__(self, environ, start_response):
        if self._edge is None:
            type(self)._edge = Edge.from_environment()
        return self._edge(environ, start_response)


application = _LazyApplication()
