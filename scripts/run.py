#!/usr/bin/env python3
"""Try mail_tracking_ext locally: Odoo with demo data + a mail catcher for every outgoing email.

* database ``mail_tracking_ext_demo`` (created with demo data and ``-i mail_tracking_ext``;
  reused on later runs with ``-u mail_tracking_ext`` so code changes apply)
* mail catcher: SMTP 127.0.0.1:1025, web http://localhost:1080 (.eml files in .caught-mail/)
* Odoo: http://localhost:8069 with ``--smtp 127.0.0.1 --smtp-port 1025``

``--workers=N`` runs Odoo in prefork mode, as in production: N HTTP workers and the gevent
worker that carries live updates, behind a small reverse proxy on ODOO_HTTP_PORT that sends
``/websocket`` to the gevent worker (:mod:`devtools.front_proxy`, what nginx does in production).

Ctrl-C stops both. Environment overrides: ODOO_HTTP_PORT, MAIL_CATCHER_SMTP_PORT,
MAIL_CATCHER_HTTP_PORT, MAIL_CATCHER_DIR, MTX_DEMO_DB, ODOO_LOG_LEVEL (default: info),
MTX_FRESH=1 (drop and recreate the database).
"""

import argparse
import os
import signal
import socket
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from devtools import odoo_runtime as rt  # noqa: E402
from devtools.front_proxy import FrontProxy  # noqa: E402
from devtools.mail_catcher import MailCatcher  # noqa: E402

DB = os.environ.get("MTX_DEMO_DB", "mail_tracking_ext_demo")
HTTP_PORT = int(os.environ.get("ODOO_HTTP_PORT", 8069))
SMTP_PORT = int(os.environ.get("MAIL_CATCHER_SMTP_PORT", 1025))
CATCHER_HTTP_PORT = int(os.environ.get("MAIL_CATCHER_HTTP_PORT", 1080))
MAIL_DIR = os.environ.get("MAIL_CATCHER_DIR") or os.path.join(rt.REPO_ROOT, ".caught-mail")
LOG_LEVEL = os.environ.get("ODOO_LOG_LEVEL", "info")


def port_busy(port):
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=0,
                        help="Odoo HTTP workers (prefork mode, with the gevent worker); default 0: threaded")
    args = parser.parse_args()
    try:
        rt.odoo_bin()
    except rt.OdooNotFound as exc:
        print(f"Odoo not found: {exc}", file=sys.stderr)
        return 1
    for port, var in ((HTTP_PORT, "ODOO_HTTP_PORT"), (SMTP_PORT, "MAIL_CATCHER_SMTP_PORT"),
                      (CATCHER_HTTP_PORT, "MAIL_CATCHER_HTTP_PORT")):
        if port_busy(port):
            print(f"Port {port} is in use; choose another one with {var}=...", file=sys.stderr)
            return 1

    catcher = MailCatcher(SMTP_PORT, CATCHER_HTTP_PORT, MAIL_DIR, http_host="127.0.0.1").start()
    print(f"Mail catcher: SMTP 127.0.0.1:{SMTP_PORT}, web http://localhost:{CATCHER_HTTP_PORT}", flush=True)
    server = proxy = None
    try:
        reuse = rt.db_exists(DB) and os.environ.get("MTX_FRESH") != "1"
        print(("Upgrading" if reuse else "Creating") + f" database {DB} (demo data, {rt.MODULE})...", flush=True)
        base_url = f"http://localhost:{HTTP_PORT}"
        rc, log = rt.prepare_demo_db(DB, base_url, fresh=os.environ.get("MTX_FRESH") == "1")
        if rc != 0:
            print(log[-5000:], file=sys.stderr)
            print(f"odoo-bin {'-u' if reuse else '-i'} {rt.MODULE} failed (exit code {rc})", file=sys.stderr)
            return 1

        server = rt.OdooServer(DB, http_port=rt.free_port() if args.workers else HTTP_PORT, smtp_port=SMTP_PORT,
                               log_level=LOG_LEVEL, host="localhost", workers=args.workers)
        if args.workers:
            proxy = FrontProxy(HTTP_PORT, http_port=server.http_port, gevent_port=server.gevent_port).start()
        server.start(stream_log=True, timeout=180)
        print(f"""
================================================================
 Odoo:         {base_url}/web/login   (database {DB})
               admin / admin       (administrator)
               demo  / demo        (demo salesperson)
               {f"{args.workers} HTTP workers + the gevent worker (live updates)" if args.workers else "threaded mode"}
 Caught mail:  http://localhost:{CATCHER_HTTP_PORT}   (.eml files in {MAIL_DIR})
 Ctrl-C stops Odoo and the mail catcher.
================================================================
""", flush=True)
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        while not stop.wait(1):
            if server.proc.poll() is not None:
                print(f"Odoo exited with code {server.proc.returncode}", file=sys.stderr)
                return 1
        print("Stopping...", flush=True)
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        if server:
            server.stop()
        if proxy:
            proxy.stop()
        catcher.stop()


if __name__ == "__main__":
    sys.exit(main())
