"""The addons as wheels, the way OCA publishes its addons (SPEC E4): ``make dist`` writes
``dist/odoo_addon_<addon>-<version>-py3-none-any.whl`` for each addon of ``addons/``.

Each addon's ``pyproject.toml`` names OCA's build backend, ``whool``: the wheel installs the
addon into the ``odoo.addons`` namespace and requires ``odoo`` of the addon's series and the
``odoo-addon-*`` wheels of the addons it depends on that Odoo does not ship.
"""

import glob
import os
import subprocess
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)
from devtools.readme import REPO_ADDONS, addons  # noqa: E402


def build(target):
    """Build every addon's wheel into ``target``; return their paths."""
    os.makedirs(target, exist_ok=True)
    for stale in glob.glob(os.path.join(target, "odoo_addon_*.whl")):
        os.unlink(stale)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--disable-pip-version-check", "-w", target,
                    *(os.path.join(REPO_ADDONS, addon) for addon in addons())], check=True)
    return sorted(glob.glob(os.path.join(target, "odoo_addon_*.whl")))


if __name__ == "__main__":
    for wheel in build(os.path.join(REPO_ROOT, "dist")):
        print(os.path.relpath(wheel, REPO_ROOT))
