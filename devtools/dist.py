"""The addons as wheels, the way OCA publishes its addons (SPEC E4): ``make dist`` writes
``dist/odoo_addon_<addon>-<version>-py3-none-any.whl`` for each addon of ``addons/``.

Each addon's ``pyproject.toml`` names OCA's build backend, ``whool``: the wheel installs the
addon into the ``odoo.addons`` namespace and requires ``odoo`` of the addon's series and the
``odoo-addon-*`` wheels of the addons it depends on that Odoo does not ship.

One source serves every supported Odoo series, so the manifests hold the version without the
series (``1.5.0``; Odoo prefixes it with its own). A wheel is built for one series,
``ODOO_VERSION`` (default 18.0): the addon is copied aside with the manifest version written as
OCA's ``<series>.x.y.z``, which is what whool names the wheel and pins ``odoo`` from:
``odoo_addon_mail_tracking_ext-19.0.1.5.0-py3-none-any.whl`` (docs/versions.md).
"""

import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO_ROOT)
from devtools.readme import REPO_ADDONS, addons  # noqa: E402

SERIES = os.environ.get("ODOO_VERSION", "18.0")


def stage_for_series(addon, staging, series=SERIES):
    """A copy of ``addon`` in ``staging`` whose manifest version carries ``series``; its path."""
    copy = os.path.join(staging, addon)
    shutil.copytree(os.path.join(REPO_ADDONS, addon), copy, ignore=shutil.ignore_patterns("__pycache__"))
    manifest_path = os.path.join(copy, "__manifest__.py")
    with open(manifest_path, encoding="utf-8") as fh:
        text = fh.read()
    text, count = re.subn(r'("version":\s*")(\d+\.\d+\.\d+")', rf"\g<1>{series}.\g<2>", text)
    if count != 1:
        raise SystemExit(f"{addon}: the manifest version is not x.y.z (docs/versions.md)")
    with open(manifest_path, "w", encoding="utf-8") as fh:
        fh.write(text)
    return copy


def build(target, series=SERIES):
    """Build every addon's wheel for Odoo ``series`` into ``target``; return their paths."""
    os.makedirs(target, exist_ok=True)
    for stale in glob.glob(os.path.join(target, "odoo_addon_*.whl")):
        os.unlink(stale)
    with tempfile.TemporaryDirectory() as staging:
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                        "--disable-pip-version-check", "-w", target,
                        *(stage_for_series(addon, staging, series) for addon in addons())], check=True)
    return sorted(glob.glob(os.path.join(target, "odoo_addon_*.whl")))


if __name__ == "__main__":
    for wheel in build(os.path.join(REPO_ROOT, "dist")):
        print(os.path.relpath(wheel, REPO_ROOT))
