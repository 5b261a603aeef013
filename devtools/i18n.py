"""Refresh the addons' translation templates from the code, and merge them into it.po.

    make i18n                      # every addon of this repository
    make i18n ARGS="--db mtx_dev"  # export from a database where they are installed

Exports each addon's ``.pot`` with Odoo's own exporter (``odoo-bin --i18n-export``) from a
throw-away database where the addons are installed, then ``msgmerge`` updates each
``it.po``: new terms appear untranslated, vanished ones become obsolete. Translate the new
entries, then check with ``make test`` (test_i18n compares it.po with the template).
"""

import argparse
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from devtools import odoo_runtime as rt  # noqa: E402

ADDONS = (rt.MODULE, *rt.BRIDGE_MODULES)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", help="a database where the addons are installed (default: a throw-away one)")
    args = parser.parse_args()
    if not shutil.which("msgmerge"):
        print("msgmerge is missing: apt-get install gettext", file=sys.stderr)
        return 1
    db = args.db or f"mtx_i18n_{os.getpid()}"
    try:
        if not args.db:
            rt.drop_db(db)
            rc, log = rt.install(db, ADDONS, demo=False)
            rt.assert_clean_run(rc, log, f"installing {', '.join(ADDONS)} on {db}")
        for addon in ADDONS:
            i18n = os.path.join(rt.REPO_ADDONS, addon, "i18n")
            pot = os.path.join(i18n, f"{addon}.pot")
            rc, log = rt.run_odoo(db, f"--i18n-export={pot}", f"--modules={addon}", "--stop-after-init",
                                  demo=False)
            rt.assert_clean_run(rc, log, f"exporting the terms of {addon}")
            po = os.path.join(i18n, "it.po")
            if os.path.exists(po):
                subprocess.run(["msgmerge", "--quiet", "--update", "--no-fuzzy-matching", "--backup=none",
                                po, pot], check=True)
            print(f"{os.path.relpath(pot, rt.REPO_ROOT)} exported; {os.path.relpath(po, rt.REPO_ROOT)} merged")
    finally:
        if not args.db:
            rt.drop_db(db)
    return 0


if __name__ == "__main__":
    sys.exit(main())
