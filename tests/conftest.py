"""End-to-end fixtures: a real odoo-bin serving a throw-away database, and a local SMTP catcher.

Session fixtures (built once, dropped at the end of the session):

* ``mail_catcher``   in-process :class:`devtools.mail_catcher.MailCatcher` on free ports
* ``odoo_server``    :class:`devtools.odoo_runtime.OdooServer` on database ``mtx_e2e_<pid>``
                     (mail_tracking_ext installed without demo), sending mail to ``mail_catcher``
* ``deps_template``  name of a database with only the addon's dependencies installed (no demo)
* ``new_db``         factory: ``new_db("suffix")`` -> name of a fresh copy of ``deps_template``
                     (``mtx_e2e_<pid>_suffix``), dropped at session end;
                     ``new_db("x", template=None)`` only reserves the name (no database yet)

Benchmarks (anything under tests/bench, or marked ``@pytest.mark.bench``) only run with
``--bench`` or ``-m bench``.
"""

import os
import uuid

import pytest
import requests.utils

from devtools import odoo_runtime as rt
from devtools.mail_catcher import MailCatcher

from e2e_crm import create_salesperson, unfollow_admin

RUN_ID = os.getpid()
# The tests' HTTP requests play the recipients' mail clients and browsers: they say so, as
# people's do (a bare "python-requests" is a program's, and its opens and clicks never count, A1).
MAIL_CLIENT = "Mozilla/5.0 (Windows NT 10.0; rv:128.0) Gecko/20100101 Thunderbird/128.3.0"
requests.utils.default_user_agent = lambda name="python-requests": MAIL_CLIENT
BENCH_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench")


def pytest_addoption(parser):
    parser.addoption("--bench", action="store_true", default=False, help="also run benchmarks (tests/bench)")


def pytest_collection_modifyitems(config, items):
    for item in items:
        if str(item.fspath).startswith(BENCH_DIR + os.sep):
            item.add_marker(pytest.mark.bench)
    if config.getoption("--bench") or "bench" in (config.getoption("markexpr") or ""):
        return
    kept = [item for item in items if not item.get_closest_marker("bench")]
    deselected = [item for item in items if item.get_closest_marker("bench")]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


def pytest_sessionstart(session):
    try:
        rt.odoo_bin()
    except rt.OdooNotFound as exc:
        pytest.exit(f"Odoo not found: {exc}", returncode=1)


@pytest.fixture(scope="session")
def new_db(deps_template_factory):
    created = []

    def make(suffix=None, template="deps"):
        name = f"mtx_e2e_{RUN_ID}" + (f"_{suffix}" if suffix else "")
        rt.drop_db(name)
        if template == "deps":
            rt.clone_db(deps_template_factory(), name)
        created.append(name)
        return name

    yield make
    for name in created:
        rt.drop_db(name)


@pytest.fixture(scope="session")
def deps_template_factory():
    """Builds the dependencies-only database on first use (so tests that don't need it don't pay)."""
    name = f"mtx_e2e_{RUN_ID}_deps"
    built = []

    def get():
        if not built:
            rt.drop_db(name)
            rc, log = rt.install(name, rt.module_dependencies(), demo=False)
            rt.assert_clean_run(rc, log, f"installing {rt.module_dependencies()} on {name}")
            built.append(name)
        return name

    yield get
    rt.drop_db(name)


@pytest.fixture(scope="session")
def deps_template(deps_template_factory):
    return deps_template_factory()


@pytest.fixture(scope="session")
def mail_catcher():
    catcher = MailCatcher(smtp_port=0, http_port=0).start()
    yield catcher
    catcher.stop()


@pytest.fixture(scope="session")
def odoo_server(mail_catcher, new_db):
    db = new_db()
    rc, log = rt.install(db, rt.MODULE, demo=False)
    rt.assert_clean_run(rc, log, f"installing {rt.MODULE} on {db}")
    server = rt.OdooServer(db, smtp_port=mail_catcher.smtp_port)
    # outgoing mail must reach the catcher, whatever a data file may have created;
    # links in mails must point at this server
    rt.query(db, "UPDATE ir_mail_server SET active = false")
    rt.query(db, "UPDATE ir_config_parameter SET value = %s WHERE key = 'web.base.url'", (server.url,))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def crm(odoo_server):
    """A salesperson, two contacts and an opportunity, once per module."""
    suffix = uuid.uuid4().hex[:6]
    sales = create_salesperson(odoo_server, f"sales{suffix}")
    anna, bruno = (
        odoo_server.rpc("res.partner", "create", {"name": name, "email": f"{name.lower()}{suffix}@customer.example"})
        for name in ("Anna", "Bruno"))
    uid = odoo_server.login(f"sales{suffix}", f"sales{suffix}-pw")
    lead = odoo_server.rpc("crm.lead", "create", {"name": "Big deal", "type": "opportunity", "user_id": uid})
    unfollow_admin(odoo_server, lead)
    return {"sales": sales, "sales_login": f"sales{suffix}", "anna": anna, "bruno": bruno, "lead": lead,
            "suffix": suffix}
