#!/usr/bin/env python3
"""The standalone tracking edge (addons/mail_tracking_ext/tools/edge.py) under gunicorn, in
front of the database of ``make run`` (README, "Tracking edge").

    make edge                                   # 2 workers on 127.0.0.1:8070, database of make run
    make edge ARGS="--workers 4 --bind 0.0.0.0:8070 --database mydb --proxies 1"

Requests of http://127.0.0.1:8070/email-tracking/open/... and /click/... are recorded as
Odoo records them; Odoo's web clients see them live through Odoo's bus.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from devtools import odoo_runtime as rt  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", default=os.environ.get("MTX_DEMO_DB", "mail_tracking_ext_demo"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--bind", default="127.0.0.1:8070")
    parser.add_argument("--proxies", type=int, default=0,
                        help="proxies in front that add X-Forwarded-For (the documented layout has 1)")
    args = parser.parse_args()
    if not rt.db_exists(args.database):
        sys.exit(f"[edge] no database {args.database!r}: `make run` creates the demo database, or pass --database")
    command, env = rt.edge_command(args.database, args.bind, args.workers, args.proxies)
    print(f"[edge] http://{args.bind}/email-tracking/ -> database {args.database} ({args.workers} workers)",
          flush=True)
    os.execvpe(command[0], command, {**os.environ, **env})


if __name__ == "__main__":
    main()
