"""SPEC R6: mail_tracking_ext installs (with and without demo data, on a database
that already has mail history), upgrades, uninstalls without leaving anything
of its own behind, and coexists with Odoo's mass_mailing and OCA's mail_tracking.

Real odoo-bin processes on throw-away databases; checks read PostgreSQL directly.
"""

import hashlib
import hmac
import urllib.error
import urllib.request

import pytest

from devtools import odoo_runtime as rt

MODULE = rt.MODULE
GIF_MAGIC = b"GIF8"


def module_state(db, name):
    rows = rt.query(db, "SELECT state FROM ir_module_module WHERE name = %s", (name,))
    return rows[0][0] if rows else None


def schema_snapshot(db):
    """What a module can leave behind: tables, columns, models, fields, views."""
    return {
        "tables": set(rt.query(db, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")),
        "columns": set(rt.query(db, "SELECT table_name, column_name FROM information_schema.columns "
                                    "WHERE table_schema = 'public'")),
        "models": set(rt.query(db, "SELECT model FROM ir_model")),
        "fields": set(rt.query(db, "SELECT model, name FROM ir_model_fields")),
        "views": set(rt.query(db, "SELECT name, model, type, key FROM ir_ui_view")),
    }


def http_get(url):
    """(status, content type, body) without raising on 4xx/5xx."""
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return resp.status, resp.headers.get("Content-Type", ""), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Content-Type", ""), err.read()


# -- install without demo, upgrade, uninstall: one database, in this order ------------

@pytest.fixture(scope="module")
def lifecycle_db(new_db):
    """A database with only the dependencies, and its schema before our module arrives."""
    db = new_db("lifecycle")
    return db, schema_snapshot(db)


def ensure_installed(db):
    """Install the module if an earlier test did not (lets each test run alone with -k)."""
    if module_state(db, MODULE) != "installed":
        rc, log = rt.install(db, MODULE, demo=False)
        rt.assert_clean_run(rc, log, f"install {MODULE} without demo")
        assert module_state(db, MODULE) == "installed"


def test_r6_installs_without_demo_data(lifecycle_db):
    db, _before = lifecycle_db
    assert module_state(db, MODULE) != "installed"
    ensure_installed(db)


def test_r6_upgrades_cleanly(lifecycle_db):
    db, _before = lifecycle_db
    ensure_installed(db)
    rc, log = rt.install(db, MODULE, demo=False, update=True)
    rt.assert_clean_run(rc, log, f"upgrade (-u) {MODULE}")
    assert module_state(db, MODULE) == "installed"


def test_r6_uninstalls_without_leftovers(lifecycle_db):
    db, before = lifecycle_db
    ensure_installed(db)
    rc, out = rt.odoo_shell(db, (
        f"env['ir.module.module'].search([('name', '=', '{MODULE}')]).button_immediate_uninstall()\n"
        "env.cr.commit()\n"
    ))
    rt.assert_clean_run(rc, out, f"uninstall {MODULE}")
    assert module_state(db, MODULE) == "uninstalled"
    after = schema_snapshot(db)
    leftovers = {kind: sorted(after[kind] - before[kind]) for kind in before if after[kind] - before[kind]}
    assert not leftovers, f"left behind after uninstall: {leftovers}"
    xmlids = rt.query(db, "SELECT model, name FROM ir_model_data WHERE module = %s", (MODULE,))
    assert not xmlids, f"records of {MODULE} left behind: {xmlids}"


# -- install with demo data, on a database that already has mail history --------------

def test_r6_installs_with_demo_on_database_with_mail_history(new_db):
    db = new_db("demo", template=None)
    rc, log = rt.install(db, rt.module_dependencies(), demo=True)
    rt.assert_clean_run(rc, log, "install the dependencies with demo data")
    [(messages,)] = rt.query(db, "SELECT count(*) FROM mail_message")
    assert messages > 0, "the demo database should already have mail history"
    rc, log = rt.install(db, MODULE, demo=True)
    rt.assert_clean_run(rc, log, f"install {MODULE} with demo data")
    assert module_state(db, MODULE) == "installed"


# -- side by side with mass_mailing and OCA mail_tracking ------------------------------

@pytest.fixture(scope="module")
def crowded_server(new_db):
    db = new_db("crowded")
    rc, log = rt.install(db, ["mass_mailing", "mail_tracking", MODULE], demo=False, extra_oca=True)
    rt.assert_clean_run(rc, log, f"install mass_mailing, OCA mail_tracking and {MODULE} together")
    server = rt.OdooServer(db, extra_oca=True).start()
    yield server
    server.stop()


def test_r6_coexists_with_mass_mailing_and_oca_mail_tracking(crowded_server):
    db = crowded_server.db
    # the mass_mailing bridge installs itself beside Email Marketing
    for name in ("mass_mailing", "mail_tracking", MODULE, "mail_tracking_ext_mass_mailing"):
        assert module_state(db, name) == "installed", name

    # OCA mail_tracking's open pixel
    status, ctype, body = http_get(f"{crowded_server.url}/mail/tracking/open/{db}/1/blank.gif")
    assert status == 200 and ctype.startswith("image/gif") and body.startswith(GIF_MAGIC), (status, ctype)

    # mass_mailing's open pixel, with a valid token (the same HMAC Odoo computes) ...
    [(secret,)] = rt.query(db, "SELECT value FROM ir_config_parameter WHERE key = 'database.secret'")
    token = hmac.new(secret.encode(), repr(("mass_mailing-mail_mail-open", 1)).encode(), hashlib.sha256).hexdigest()
    status, ctype, body = http_get(f"{crowded_server.url}/mail/track/1/{token}/blank.gif")
    assert status == 200 and body.startswith(GIF_MAGIC), (status, ctype)
    # ... and refusing a bad one without a server error
    status, _ctype, _body = http_get(f"{crowded_server.url}/mail/track/1/bad-token/blank.gif")
    assert 400 <= status < 500, status

    # ours: the pixel always answers, an unknown click link is a 404
    status, ctype, body = http_get(f"{crowded_server.url}/email-tracking/open/unknown-token.gif")
    assert status == 200 and ctype.startswith("image/gif") and body.startswith(GIF_MAGIC), (status, ctype)
    status, _ctype, _body = http_get(f"{crowded_server.url}/email-tracking/click/unknown-token/0123456789ab")
    assert status == 404, status

    problems = rt.log_problems(crowded_server.log_text())
    assert not problems, "\n".join(problems)
