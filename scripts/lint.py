#!/usr/bin/env python3
"""Lint as a gate (SPEC E1): ruff on the whole repository, OCA's pylint-odoo on the addons,
and each addon's README.rst up to date with its readme/ fragments. Prints what is wrong;
exits non-zero if anything is. Run by ``make lint`` and, as one more suite, by ``make test``.
"""

import os
import subprocess
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)
from devtools.readme import addons  # noqa: E402

CHECKS = {
    "ruff": [sys.executable, "-m", "ruff", "check", "--quiet", "."],
    # the checks of the Odoo series this run is for (make exports ODOO_VERSION)
    "pylint-odoo": [sys.executable, "-m", "pylint", "--rcfile=.pylintrc",
                    f"--valid-odoo-versions={os.environ.get('ODOO_VERSION', '18.0')}",
                    *(os.path.join("addons", addon) for addon in addons())],
    "readme": [sys.executable, "devtools/readme.py", "--check"],
}


def main():
    failed = []
    for name, cmd in CHECKS.items():
        proc = subprocess.run(cmd, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if proc.returncode:
            failed.append(name)
            print(f"[lint] {name} failed:\n{proc.stdout.rstrip()}", flush=True)
        else:
            print(f"[lint] {name}: clean", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
