"""pytest plugin beside ``pytest-odoo`` (``-p devtools.pytest_odoo_runner``): what Odoo's own
test runner does around each test and pytest-odoo 2.3 does only from Odoo 19 on.

Odoo 18 reads ``odoo.modules.module.current_test`` to tell a test from production, e.g. so
that ``ir.mail_server`` never opens an SMTP connection from a test and the test cursor
knows its test. Odoo's runner sets it to the test (before its class is set up) and clears
it at the end.

pytest-odoo imports the addons' test modules, and so the addons, before Odoo loads the
registry: Odoo's loader then finds them imported and skips their ``post_load`` hooks (the
tracking fast path is installed by one). They are called here once collected, as Odoo's
loader calls them after importing an addon.

pytest-odoo imports ``odoo.tests`` before any test runs, which Odoo logs as an ERROR meant
for business code importing the test framework in production: that one record is dropped.
"""

import logging
import sys

import pytest


def _not_the_test_framework_import(record):
    return not record.getMessage().startswith("Importing test framework")


logging.getLogger("odoo.tests.common").addFilter(_not_the_test_framework_import)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    from odoo.modules import module  # noqa: PLC0415 - Odoo is configured by pytest-odoo first

    module.current_test = getattr(item, "instance", None) or True


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item, nextitem):
    from odoo.modules import module  # noqa: PLC0415

    if nextitem is None:
        module.current_test = False


def pytest_collection_finish(session):
    from odoo.modules.module import get_manifest  # noqa: PLC0415

    for name in [name for name in sys.modules if name.count(".") == 2 and name.startswith("odoo.addons.")]:
        if hook := get_manifest(name.rsplit(".", 1)[1]).get("post_load"):
            getattr(sys.modules[name], hook)()
