"""Run a real Odoo next to this repository: locate it, build command lines,
create/drop databases, start a server and talk JSON-RPC to it.

Used by ``scripts/`` and the end-to-end tests, in the project's environment
(``.venv/<ODOO_VERSION>``, built by ``scripts/bootstrap.py``, where Odoo is
importable). Odoo is only ever run as a subprocess (``odoo-bin``), never
imported here.

Environment overrides:

* ``ODOO_BIN``          path to ``odoo-bin`` (default: found from ``import odoo``)
* ``ODOO_PYTHON``       interpreter that runs ``odoo-bin`` (default: this one)
* ``ODOO_ADDONS_PATH``  comma-separated core addons paths (default: Odoo's own)
* ``ODOO_DB_HOST`` / ``ODOO_DB_PORT`` / ``ODOO_DB_USER`` / ``ODOO_DB_PASSWORD``
  (default: 127.0.0.1, 5432, the OS user, no password)
* ``MAIL_TRACKING_EXT_CACHE``  cache dir for the OCA mail_tracking addon
  (default: ``~/.cache/mail_tracking_ext``)
"""

import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO_ADDONS = os.path.join(REPO_ROOT, "addons")
MODULE = "mail_tracking_ext"
# Bridges that install themselves beside other apps; the test run installs them all.
BRIDGE_MODULES = ("mail_tracking_ext_project", "mail_tracking_ext_mass_mailing")
CACHE_DIR = os.environ.get("MAIL_TRACKING_EXT_CACHE") or os.path.join(
    os.path.expanduser("~"), ".cache", "mail_tracking_ext"
)


def odoo_series():
    """The Odoo series this run is for, e.g. "19.0": ``ODOO_VERSION`` (``make`` exports it),
    else the version of the Odoo this Python imports, else 18.0."""
    series = os.environ.get("ODOO_VERSION")
    if series:
        return series
    spec = importlib.util.find_spec("odoo")
    if spec and spec.submodule_search_locations:
        release = os.path.join(list(spec.submodule_search_locations)[0], "release.py")
        namespace = {}
        with open(release, encoding="utf-8") as fh:
            exec(compile(fh.read(), release, "exec"), namespace)  # noqa: S102 - Odoo's own version file
        return "%d.%d" % tuple(namespace["version_info"][:2])
    return "18.0"


ODOO_SERIES = odoo_series()
ODOO_MAJOR = int(ODOO_SERIES.split(".")[0])
# a user's groups on res.users, for the suites' RPC calls: groups_id until 18.0, group_ids from 19.0
USER_GROUPS_FIELD = "group_ids" if ODOO_MAJOR >= 19 else "groups_id"
# OCA's mail_tracking of the same series (OCA publishes one per Odoo major, e.g. 19.0.1.0.2)
OCA_ADDONS = os.path.join(CACHE_DIR, "oca_addons", ODOO_SERIES)
OCA_MAIL_TRACKING_REQ = f"odoo-addon-mail-tracking>={ODOO_SERIES},<{ODOO_MAJOR}.1"

# An Odoo log line: "2025-01-01 12:00:00,000 1234 ERROR db logger: message"
_LOG_LEVEL_RE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ \d+ (DEBUG|INFO|WARNING|ERROR|CRITICAL) ")


class OdooNotFound(RuntimeError):
    """Odoo is not importable by this Python (not the project's environment?)."""


# -- locating Odoo -----------------------------------------------------------

def odoo_bin():
    """Absolute path of odoo-bin, or raise OdooNotFound with what is missing."""
    path = os.environ.get("ODOO_BIN")
    if path:
        if not os.path.isfile(path):
            raise OdooNotFound(f"ODOO_BIN={path} does not exist")
        return os.path.abspath(path)
    spec = importlib.util.find_spec("odoo")
    if spec is None or not spec.submodule_search_locations:
        raise OdooNotFound(
            f"`import odoo` fails for {sys.executable}: run through `make` (or scripts/bootstrap.py, then "
            "the project's .venv/<version>/bin/python), or set ODOO_BIN=/path/to/odoo-bin"
        )
    root = os.path.dirname(os.path.abspath(list(spec.submodule_search_locations)[0]))
    # a git checkout has odoo-bin; Odoo's nightly source archives have setup/odoo
    for path in (os.path.join(root, "odoo-bin"), os.path.join(root, "setup", "odoo")):
        if os.path.isfile(path):
            return path
    raise OdooNotFound(f"`odoo` is importable from {root} but it has no odoo-bin; set ODOO_BIN")


def odoo_python():
    return os.environ.get("ODOO_PYTHON") or sys.executable


def core_addons_paths():
    env = os.environ.get("ODOO_ADDONS_PATH")
    if env:
        return [p for p in env.split(",") if p]
    root = os.path.dirname(odoo_bin())
    if os.path.basename(root) == "setup":
        root = os.path.dirname(root)
    return [p for p in (os.path.join(root, "addons"), os.path.join(root, "odoo", "addons")) if os.path.isdir(p)]


def ensure_oca_mail_tracking(quiet=True):
    """Download and unpack OCA's mail_tracking wheel of ``ODOO_SERIES`` once; return the addons dir holding it."""
    target = os.path.join(OCA_ADDONS, "mail_tracking")
    if os.path.isfile(os.path.join(target, "__manifest__.py")):
        return OCA_ADDONS
    os.makedirs(OCA_ADDONS, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
               "-d", tmp, OCA_MAIL_TRACKING_REQ]
        if quiet:
            cmd.insert(4, "-q")
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if proc.returncode:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout}")
        if not quiet:
            print(proc.stdout, end="")
        wheels = [f for f in os.listdir(tmp) if f.endswith(".whl")]
        if not wheels:
            raise RuntimeError(f"pip download {OCA_MAIL_TRACKING_REQ} produced no wheel")
        with zipfile.ZipFile(os.path.join(tmp, wheels[0])) as whl:
            whl.extractall(os.path.join(tmp, "unpacked"))
        staged = target + ".tmp"
        shutil.rmtree(staged, ignore_errors=True)
        shutil.copytree(os.path.join(tmp, "unpacked", "odoo", "addons", "mail_tracking"), staged)
        shutil.rmtree(target, ignore_errors=True)
        os.rename(staged, target)
    return OCA_ADDONS


def addons_path(extra_oca=False, repo_addons=True):
    """Comma-separated --addons-path: Odoo core, this repo's addons/ (unless ``repo_addons`` is
    false: addons installed as wheels are found through ``odoo.addons``), optionally OCA mail_tracking."""
    paths = core_addons_paths() + ([REPO_ADDONS] if repo_addons else [])
    if extra_oca:
        paths.append(ensure_oca_mail_tracking())
    return ",".join(paths)


# -- the chatter's routes, as each Odoo series takes them -------------------------

def message_post_params(params):
    """``/mail/message/post``'s parameters written as 18.0 takes them, for this Odoo: 19.0 reads
    the new recipients' addresses (``partner_emails``) from ``post_data``."""
    if ODOO_MAJOR >= 19 and "partner_emails" in params:
        params = dict(params, post_data=dict(params["post_data"], partner_emails=params["partner_emails"]))
        del params["partner_emails"]
    return params


def posted_message_id(result):
    """The id of the message ``/mail/message/post`` created: 19.0 returns it, 18.0 returns the
    store of the web client with the message in it."""
    if "message_id" in result:
        return result["message_id"]
    return max(message["id"] for message in result["mail.message"])


# -- small helpers -------------------------------------------------------------

def free_port(host="127.0.0.1"):
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def log_problems(log_text):
    """Lines of an Odoo log at ERROR or CRITICAL level (with the traceback lines that follow)."""
    problems, keep = [], False
    for line in log_text.splitlines():
        match = _LOG_LEVEL_RE.match(line)
        if match:
            keep = match.group(1) in ("ERROR", "CRITICAL")
        if keep:
            problems.append(line)
    return problems


def assert_clean_run(rc, log_text, what):
    """Raise AssertionError unless an odoo-bin run exited 0 with no ERROR/CRITICAL line in its log."""
    __tracebackhide__ = True  # pytest: show the message, not this helper
    problems = log_problems(log_text)
    if rc != 0 or problems:
        detail = "\n".join(problems or log_text.splitlines()[-40:])
        raise AssertionError(f"{what}: odoo-bin exit code {rc}\n{detail}")


# -- databases -----------------------------------------------------------------

def db_params():
    return {
        "host": os.environ.get("ODOO_DB_HOST", "127.0.0.1"),
        "port": os.environ.get("ODOO_DB_PORT", "5432"),
        "user": os.environ.get("ODOO_DB_USER") or None,
        "password": os.environ.get("ODOO_DB_PASSWORD") or None,
    }


def connect(dbname="postgres"):
    """psycopg2 connection (autocommit) to ``dbname``."""
    import psycopg2  # noqa: PLC0415 - only the callers that touch the DB need it

    params = {k: v for k, v in db_params().items() if v}
    conn = psycopg2.connect(dbname=dbname, **params)
    conn.autocommit = True
    return conn


def query(dbname, sql, args=None):
    conn = connect(dbname)
    try:
        with conn.cursor() as cr:
            cr.execute(sql, args)
            return cr.fetchall() if cr.description else []
    finally:
        conn.close()


def db_exists(name):
    return bool(query("postgres", "SELECT 1 FROM pg_database WHERE datname = %s", (name,)))


def list_dbs(like):
    """Database names matching a SQL LIKE pattern, e.g. ``mtx_test_%``."""
    return [r[0] for r in query("postgres", "SELECT datname FROM pg_database WHERE datname LIKE %s", (like,))]


def create_db(name, template="template0"):
    from psycopg2 import sql  # noqa: PLC0415

    query("postgres", sql.SQL("CREATE DATABASE {} ENCODING 'unicode' LC_COLLATE 'C' TEMPLATE {}").format(
        sql.Identifier(name), sql.Identifier(template)))


def filestore_dir(name):
    data_dir = os.environ.get("ODOO_DATA_DIR") or os.path.join(os.path.expanduser("~"), ".local", "share", "Odoo")
    return os.path.join(data_dir, "filestore", name)


def drop_db(name):
    """Drop a database (closing its connections) and its filestore. Missing is fine."""
    from psycopg2 import sql  # noqa: PLC0415

    query("postgres", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
    query("postgres", sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
    shutil.rmtree(filestore_dir(name), ignore_errors=True)


def clone_db(source, target):
    """Copy database ``source`` (and its filestore) to ``target``: seconds instead of a new install."""
    from psycopg2 import sql  # noqa: PLC0415

    query("postgres", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (source,))
    query("postgres", sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(target), sql.Identifier(source)))
    if os.path.isdir(filestore_dir(source)):
        shutil.copytree(filestore_dir(source), filestore_dir(target), dirs_exist_ok=True)


def module_dependencies(module=MODULE):
    """The ``depends`` list of a module in this repository's addons/ (read from its manifest)."""
    import ast  # noqa: PLC0415

    with open(os.path.join(REPO_ADDONS, module, "__manifest__.py"), encoding="utf-8") as fh:
        return list(ast.literal_eval(fh.read()).get("depends", []))


# -- odoo-bin command lines ----------------------------------------------------

def odoo_cmd(db, *args, smtp_port=None, demo=True, log_level="warn", http_port=None,
             extra_oca=False, workers=None, gevent_port=None, subcommand=None, repo_addons=True):
    """odoo-bin argv for database ``db``; ``args`` are appended (e.g. "-i", MODULE, "--stop-after-init").

    ``subcommand`` (e.g. "shell") goes right after odoo-bin. With ``workers``, the gevent
    worker (live updates over /websocket) listens on ``gevent_port`` (default: a free one).
    """
    params = db_params()
    cmd = [odoo_python(), odoo_bin()] + ([subcommand] if subcommand else []) + [
        "--addons-path", addons_path(extra_oca, repo_addons),
        "-d", db, "--db-filter", f"^{re.escape(db)}$",
        "--db_host", params["host"], "--db_port", str(params["port"]),
        "--log-level", log_level,
    ]
    if params["user"]:
        cmd += ["--db_user", params["user"]]
    if params["password"]:
        cmd += ["--db_password", params["password"]]
    if smtp_port:
        cmd += ["--smtp", "127.0.0.1", "--smtp-port", str(smtp_port)]
    if ODOO_MAJOR >= 19:
        # 19.0 loads no demo data unless told to (and reads --without-demo as a boolean)
        cmd += ["--with-demo"] if demo else []
    elif not demo:
        cmd += ["--without-demo", "all"]
    if http_port:
        cmd += ["--http-port", str(http_port)]
    if ODOO_MAJOR >= 19 and "--http-interface" not in args:
        # 19.0 warns that its default (every interface) becomes 127.0.0.1 in 20.0: say it, as
        # 18.0 does by default
        cmd += ["--http-interface", "0.0.0.0"]  # noqa: S104 - the same as Odoo 18's default
    if workers is not None:
        cmd += ["--workers", str(workers)]
        if workers:
            cmd += ["--gevent-port", str(gevent_port or free_port())]
    if "--data-dir" not in args and os.environ.get("ODOO_DATA_DIR"):
        cmd += ["--data-dir", os.environ["ODOO_DATA_DIR"]]
    return cmd + [str(a) for a in args]


def run_odoo(db, *args, timeout=900, stdin_text=None, env=None, **kwargs):
    """Run odoo-bin to completion; returns (returncode, log text). ``kwargs`` go to odoo_cmd;
    ``env`` adds environment variables."""
    kwargs.setdefault("http_port", free_port())
    cmd = odoo_cmd(db, *args, **kwargs)
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout, text=True,
                          errors="replace", input=stdin_text if stdin_text is not None else "",
                          env=dict(os.environ, **env) if env else None)
    return proc.returncode, proc.stdout


def odoo_shell(db, script, timeout=600, **kwargs):
    """Run a Python ``script`` in ``odoo-bin shell`` (``env`` is defined; commit yourself). Returns (rc, output)."""
    return run_odoo(db, "--no-http", timeout=timeout, stdin_text=script, subcommand="shell", http_port=None, **kwargs)


def install(db, modules, demo=True, extra_oca=False, update=False, log_level="warn", extra_args=(), timeout=900):
    """Install (or with update=True, upgrade) ``modules`` on ``db`` and stop. Returns (rc, log)."""
    if isinstance(modules, str):
        modules = [modules]
    return run_odoo(db, "-u" if update else "-i", ",".join(modules), "--stop-after-init", *extra_args,
                    demo=demo, extra_oca=extra_oca, log_level=log_level, timeout=timeout)


def prepare_demo_db(db, base_url, fresh=False, log_level="warn"):
    """Create ``db`` with demo data and the addon (or upgrade it when it exists), with every
    outgoing mail going to Odoo's --smtp and links pointing at ``base_url``. Returns (rc, log)."""
    if fresh:
        drop_db(db)
    rc, log = install(db, MODULE, demo=True, update=db_exists(db), log_level=log_level)
    if rc == 0:
        # no mail server record may take precedence over --smtp
        query(db, "UPDATE ir_mail_server SET active = false WHERE active")
        query(db, "UPDATE ir_config_parameter SET value = %s WHERE key = 'web.base.url'", (base_url,))
    return rc, log


# -- a running server ----------------------------------------------------------

class RpcError(RuntimeError):
    def __init__(self, error):
        data = error.get("data") or {}
        super().__init__(data.get("message") or error.get("message") or str(error))
        self.error = error
        self.name = data.get("name")
        self.debug = data.get("debug")


class OdooServer:
    """odoo-bin serving ``db`` over HTTP on a free port (by default), as a subprocess.

    >>> server = OdooServer("mydb", smtp_port=1025).start()
    >>> server.rpc("res.partner", "search_count", [])
    >>> server.stop()
    """

    health_path = "/web/health"

    def __init__(self, db, http_port=None, workers=0, smtp_port=None, extra_oca=False,
                 log_level="warn", extra_args=(), log_file=None, host="127.0.0.1", env=None):
        self.db = db
        self.http_port = http_port or free_port()
        self.workers = workers
        self.gevent_port = free_port() if workers else None
        self.smtp_port = smtp_port
        self.extra_oca = extra_oca
        self.log_level = log_level
        self.extra_args = list(extra_args)
        self.host = host
        self.env = env
        self.log_file = log_file
        self.proc = None
        self._log_handle = None
        self._uids = {}

    @property
    def url(self):
        return f"http://{self.host}:{self.http_port}"

    def command(self):
        return odoo_cmd(self.db, *self.extra_args, smtp_port=self.smtp_port, log_level=self.log_level,
                        http_port=self.http_port, extra_oca=self.extra_oca, workers=self.workers,
                        gevent_port=self.gevent_port)

    def start(self, timeout=120, stream_log=False):
        """Start odoo-bin and wait until /web/health answers. With stream_log, the log goes to our stdout."""
        if self.log_file is None and not stream_log:
            handle, self.log_file = tempfile.mkstemp(prefix=f"odoo-{self.db}-", suffix=".log")
            os.close(handle)
        if stream_log:
            out = None
        else:
            self._log_handle = out = open(self.log_file, "ab")
        env = dict(os.environ, **(self.env or {}))
        # own process group: a Ctrl-C in the terminal reaches us, and we stop Odoo in order
        self.proc = subprocess.Popen(self.command(), stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"odoo-bin exited with code {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + self.health_path, timeout=2) as resp:
                    if resp.status == 200:
                        return self
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            time.sleep(0.3)
        self.stop()
        raise TimeoutError(f"Odoo did not answer {self.url}/web/health within {timeout}s:\n{self.log_tail()}")

    def log_text(self):
        if not self.log_file or not os.path.exists(self.log_file):
            return ""
        with open(self.log_file, encoding="utf-8", errors="replace") as fh:
            return fh.read()

    def log_tail(self, lines=40):
        return "\n".join(self.log_text().splitlines()[-lines:])

    def stop(self, timeout=20):
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self._log_handle:
            self._log_handle.close()
            self._log_handle = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- JSON-RPC ----------------------------------------------------------
    def jsonrpc(self, service, method, *args, timeout=120):
        payload = {"jsonrpc": "2.0", "method": "call", "id": 1,
                   "params": {"service": service, "method": method, "args": list(args)}}
        req = urllib.request.Request(self.url + "/jsonrpc", data=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = json.loads(resp.read())
        if body.get("error"):
            raise RpcError(body["error"])
        return body.get("result")

    def login(self, login="admin", password="admin"):
        key = (login, password)
        if key not in self._uids:
            uid = self.jsonrpc("common", "login", self.db, login, password)
            if not uid:
                raise RpcError({"message": f"login failed for {login!r} on {self.db}"})
            self._uids[key] = uid
        return self._uids[key]

    def rpc(self, model, method, *args, login="admin", password="admin", **kwargs):
        """``execute_kw(model, method, args, kwargs)`` as ``login``."""
        uid = self.login(login, password)
        return self.jsonrpc("object", "execute_kw", self.db, uid, password, model, method, list(args), kwargs)


# -- the standalone tracking edge ------------------------------------------------

def edge_command(db, bind, workers=2, proxies=0):
    """gunicorn serving the addon's tracking edge (tools/edge.py) for ``db``, and its environment."""
    addon_dir = os.path.join(REPO_ADDONS, MODULE)
    command = [sys.executable, "-m", "gunicorn", "--chdir", addon_dir, "--workers", str(workers),
               "--bind", bind, "--access-logfile", "-" if os.environ.get("MTX_EDGE_ACCESS_LOG") else "/dev/null",
               "tools.edge:application"]
    params = db_params()
    env = {"MAIL_TRACKING_EDGE_DATABASE": db, "MAIL_TRACKING_EDGE_PROXIES": str(proxies),
           "PGHOST": params["host"], "PGPORT": str(params["port"]),
           **({"PGUSER": params["user"]} if params["user"] else {}),
           **({"PGPASSWORD": params["password"]} if params["password"] else {})}
    return command, env


class EdgeServer(OdooServer):
    """The tracking edge under gunicorn, started and stopped as :class:`OdooServer`."""

    health_path = "/email-tracking/open/health.gif"  # the pixel, whatever the token: a query answered

    def __init__(self, db, workers=2, http_port=None, proxies=0, host="127.0.0.1", log_file=None):
        super().__init__(db, http_port=http_port, host=host, log_file=log_file)
        self.edge_workers = workers
        self._command, self.env = edge_command(db, f"{host}:{self.http_port}", workers, proxies)

    def command(self):
        return self._command
