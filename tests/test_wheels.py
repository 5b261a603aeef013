"""E4: the addons install from their wheels, as from PyPI, into the project's Odoo, with
no addons path of this repository."""
import os
import subprocess
import sys

from devtools import dist
from devtools import odoo_runtime as rt


def test_e4_wheels_install_the_addons_from_the_odoo_addons_namespace(new_db, tmp_path):
    wheels = dist.build(str(tmp_path / "dist"))
    assert [os.path.basename(w).split("-")[0] for w in wheels] == [
        "odoo_addon_mail_tracking_ext", "odoo_addon_mail_tracking_ext_mass_mailing",
        "odoo_addon_mail_tracking_ext_project"]
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--disable-pip-version-check",
                    "--target", str(site), *wheels], check=True)
    assert (site / "odoo" / "addons" / "mail_tracking_ext" / "__manifest__.py").is_file()
    db = new_db("wheel")
    from_wheels = {"PYTHONPATH": str(site)}
    rc, log = rt.run_odoo(db, "-i", rt.MODULE, "--stop-after-init", demo=False, repo_addons=False, env=from_wheels)
    rt.assert_clean_run(rc, log, "installing the addon from its wheel")
    where = "import odoo.modules\nprint('PATH=' + odoo.modules.get_module_path('mail_tracking_ext'))\n"
    rc, out = rt.odoo_shell(db, where, repo_addons=False, env=from_wheels)
    path = next(line for line in out.splitlines() if line.startswith("PATH="))[len("PATH="):]
    assert path.startswith(str(site)), f"the module came from {path}"
    assert rt.query(db, "SELECT state FROM ir_module_module WHERE name = %s", (rt.MODULE,)) == [("installed",)]
