"""The PostgreSQL server the scripts use: the one that answers, or the project's own.

``make run`` and ``make test`` call :func:`server` around their work:

* ``ODOO_DB_HOST`` / ``ODOO_DB_PORT`` set: that server must answer (a clear error otherwise);
* otherwise a server on 127.0.0.1:5432 that lets this OS user in is used;
* otherwise the project starts a private cluster in ``.state/pg`` (``initdb`` the first time,
  ``pg_ctl start``), on 127.0.0.1:``MTX_PG_PORT`` (default 55432) with user ``odoo``, and
  stops it again at the end when it was the one that started it.

The chosen server is exported as ``ODOO_DB_*`` to this process and its children (Odoo, the
test suites), which is where :mod:`devtools.odoo_runtime` reads it.
"""

import contextlib
import os
import pwd
import shutil
import subprocess
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLUSTER_DIR = os.path.join(REPO_ROOT, ".state", "pg")
PRIVATE_PORT = int(os.environ.get("MTX_PG_PORT", "55432"))
PRIVATE_USER = "odoo"


class PostgresError(RuntimeError):
    """No usable PostgreSQL server; the message says what to do."""


def answers(host, port, user=None, password=None):
    """Whether a PostgreSQL server at host:port accepts this user (connect to ``postgres``)."""
    import psycopg2  # noqa: PLC0415 - only the project's environment has it

    params = {"host": host, "port": port, "user": user, "password": password, "connect_timeout": 3}
    try:
        psycopg2.connect(dbname="postgres", **{k: v for k, v in params.items() if v}).close()
    except psycopg2.OperationalError:
        return False
    return True


def binaries():
    """Directory of initdb and pg_ctl (the newest Debian cluster version), or None."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return os.path.dirname(os.path.realpath(found))
    base = "/usr/lib/postgresql"
    versions = sorted((d for d in os.listdir(base) if d.isdigit()), key=int) if os.path.isdir(base) else []
    for version in reversed(versions):
        if os.path.isfile(os.path.join(base, version, "bin", "initdb")):
            return os.path.join(base, version, "bin")
    return None


def _as_cluster_owner(cmd):
    """PostgreSQL refuses to run as root: run its tools as the ``postgres`` OS user then."""
    if os.geteuid() != 0:
        return cmd
    try:
        pwd.getpwnam("postgres")
    except KeyError as exc:
        raise PostgresError("running as root without a 'postgres' OS user to own the private cluster: "
                            "apt-get install postgresql creates it") from exc
    return ["runuser", "-u", "postgres", "--", *cmd]


class PrivateCluster:
    """The project's own cluster under .state/pg."""

    def __init__(self, directory=CLUSTER_DIR, port=PRIVATE_PORT):
        self.directory = directory
        self.data = os.path.join(directory, "data")
        self.sockets = os.path.join(directory, "run")
        self.log = os.path.join(directory, "server.log")
        self.port = port
        self.bin = binaries()
        if not self.bin:
            raise PostgresError("no PostgreSQL server answers and initdb is not installed: "
                                "apt-get install postgresql (scripts/bootstrap.py does it when run as root)")

    def _tool(self, name, *args, check=True):
        cmd = _as_cluster_owner([os.path.join(self.bin, name), *args])
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if check and proc.returncode:
            raise PostgresError(f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}")
        return proc

    def running(self):
        return self._tool("pg_ctl", "status", "-D", self.data, check=False).returncode == 0

    def start(self):
        """Start the cluster (creating it the first time); True if this call started it."""
        os.makedirs(self.sockets, exist_ok=True)
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            for root, dirs, files in os.walk(self.directory):
                for name in [root] + [os.path.join(root, n) for n in dirs + files]:
                    os.lchown(name, owner.pw_uid, owner.pw_gid)
        if not os.path.isfile(os.path.join(self.data, "PG_VERSION")):
            self._tool("initdb", "-D", self.data, "-U", PRIVATE_USER, "--auth=trust", "-E", "UTF8",
                       "--locale=C")
        if self.running():
            return False
        options = f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1"
        self._tool("pg_ctl", "start", "-D", self.data, "-l", self.log, "-w", "-t", "60", "-o", options)
        return True

    def stop(self):
        self._tool("pg_ctl", "stop", "-D", self.data, "-m", "fast", "-w", check=False)

    def restart(self, mode="fast"):
        """``pg_ctl restart -m mode`` (``fast``: sessions ended, a clean shutdown;
        ``immediate``: the server killed, crash recovery at start), waiting until it
        accepts connections again; the seconds it took."""
        started = time.monotonic()
        self._tool("pg_ctl", "restart", "-D", self.data, "-l", self.log, "-m", mode, "-w", "-t", "60")
        return time.monotonic() - started


@contextlib.contextmanager
def throwaway_cluster(port=None):
    """A private cluster of its own in a new directory under the system's temporary
    directory, on ``port`` (default: a free one), for tests that stop or crash
    PostgreSQL: started for the block, then stopped and deleted. Never the machine's
    server, never the project's ``.state/pg``."""
    import socket  # noqa: PLC0415
    import tempfile  # noqa: PLC0415

    if port is None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
    directory = tempfile.mkdtemp(prefix="mtx_pg_")
    cluster = PrivateCluster(directory, port)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster._tool("pg_ctl", "stop", "-D", cluster.data, "-m", "immediate", "-w", check=False)
        shutil.rmtree(directory, ignore_errors=True)


@contextlib.contextmanager
def server(quiet=False):
    """A PostgreSQL server for the duration of the block; exports it as ODOO_DB_*."""
    def say(message):
        if not quiet:
            print(f"[postgres] {message}", flush=True)

    host, port = os.environ.get("ODOO_DB_HOST"), os.environ.get("ODOO_DB_PORT")
    user, password = os.environ.get("ODOO_DB_USER"), os.environ.get("ODOO_DB_PASSWORD")
    if host or port:
        host, port = host or "127.0.0.1", port or "5432"
        if not answers(host, port, user, password):
            raise PostgresError(f"ODOO_DB_HOST/ODOO_DB_PORT point at {host}:{port}, which does not answer "
                                "(or refuses the user): start it, or unset them to use the project's own")
        yield
        return
    if answers("127.0.0.1", "5432", user, password):
        os.environ.update(ODOO_DB_HOST="127.0.0.1", ODOO_DB_PORT="5432")
        yield
        return
    cluster = PrivateCluster()
    started = cluster.start()
    say(("started" if started else "using") + f" the project's PostgreSQL on 127.0.0.1:{cluster.port} "
        f"({os.path.relpath(cluster.directory, REPO_ROOT)})")
    os.environ.update(ODOO_DB_HOST="127.0.0.1", ODOO_DB_PORT=str(cluster.port), ODOO_DB_USER=PRIVATE_USER)
    try:
        yield
    finally:
        if started:
            say("stopping the project's PostgreSQL")
            cluster.stop()


def main(argv):
    """``python -m devtools.postgres CMD...``: run CMD with a PostgreSQL server (see :func:`server`).

    Ctrl-C reaches CMD (same process group), which stops in its own way; this process waits for
    it, then stops the private cluster if it started it.
    """
    import signal  # noqa: PLC0415
    import sys  # noqa: PLC0415

    if not argv:
        print("usage: python -m devtools.postgres CMD [ARGS...]", file=sys.stderr)
        return 2
    try:
        with server():
            child = subprocess.Popen(argv)
            previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, lambda *_: child.terminate())
            try:
                return child.wait()
            finally:
                signal.signal(signal.SIGINT, previous)
    except PostgresError as exc:
        print(f"[postgres] error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
