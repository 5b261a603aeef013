#!/usr/bin/env python3
"""Run every test suite of mail_tracking_ext under pytest and print one summary line.

Odoo phase: a throw-away database ``mtx_test_<pid>`` WITH demo data gets the addon and its
bridges (``odoo-bin -i ... --stop-after-init``), then pytest with the ``pytest-odoo`` plugin
runs the addons' own tests (``addons/*/tests``) in that database, tours included
(``--odoo-http``: an Odoo HTTP server in the pytest process, driven by headless Chromium).
End-to-end phase: ``pytest tests/`` against real odoo-bin processes and a local SMTP
catcher, with the ``pytest-odoo`` plugin switched off (``-p no:odoo``) since it starts no
Odoo of its own.

By default both phases run at the same time (one on each of the two cores); ``--serial``
runs them one after the other. Throw-away databases (``mtx_test_*``, ``mtx_e2e_*``) are
dropped at the end, and stale ones left by a killed run are dropped at the start.

The last line printed is ``N passed, N failed`` (plus ``, N skipped``).
Arguments this script does not know go to pytest (both phases unless one is chosen), e.g.::

    scripts/test.py --e2e-only -k install -x
    scripts/test.py --odoo-only -k TestComposerTour
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from devtools import odoo_runtime as rt  # noqa: E402

LOG_DIR = os.path.join(rt.REPO_ROOT, ".test-logs")
THROWAWAY_PREFIXES = ("mtx_test_", "mtx_e2e_")
ADDON_TEST_DIRS = [os.path.join("addons", name, "tests") for name in (rt.MODULE, *rt.BRIDGE_MODULES)]


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def drop_stale_databases(quiet=False):
    """Drop our own throw-away databases and those whose creating process is gone (a killed earlier run)."""
    for prefix in THROWAWAY_PREFIXES:
        for name in rt.list_dbs(prefix.replace("_", r"\_") + "%"):
            match = re.match(re.escape(prefix) + r"(\d+)", name)
            if match and int(match.group(1)) != os.getpid() and pid_alive(int(match.group(1))):
                continue  # another run in progress owns it
            if not quiet:
                print(f"dropping stale database {name}", flush=True)
            rt.drop_db(name)


class Pytest:
    """One pytest run in the background, reporting through a JUnit file."""

    def __init__(self, label, args, log_name):
        self.label = label
        self.args = args
        self.log_path = os.path.join(LOG_DIR, log_name)
        handle, self.junit = tempfile.mkstemp(suffix=".xml")
        os.close(handle)
        self.proc = None

    def start(self, stream=False):
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={self.junit}",
               *self.args]
        print(f"[{self.label}] $ {' '.join(cmd)}" + ("" if stream else f"  (log: {os.path.relpath(self.log_path)})"),
              flush=True)
        self.log = None if stream else open(self.log_path, "w")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(cmd, cwd=rt.REPO_ROOT, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        return self

    def finish(self):
        """Wait for pytest; return (passed, failed, skipped)."""
        rc = self.proc.wait()
        took = time.monotonic() - self.started
        if self.log:
            self.log.close()
        passed = failed = skipped = 0
        try:
            root = ET.parse(self.junit).getroot()
            for suite in [root] if root.tag == "testsuite" else root.findall("testsuite"):
                tests, fails, errs, skips = (int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped"))
                failed += fails + errs
                skipped += skips
                passed += tests - fails - errs - skips
        except (ET.ParseError, FileNotFoundError):
            pass
        finally:
            if os.path.exists(self.junit):
                os.unlink(self.junit)
        # rc 5 = nothing collected (not a failure); any other non-zero rc without a counted failure is one
        if rc not in (0, 5) and not failed:
            failed += 1
        print(f"[{self.label}] {passed} passed, {failed} failed, {skipped} skipped in {took:.0f}s"
              + (f" (pytest exit code {rc})" if rc not in (0, 1, 5) else ""), flush=True)
        if failed and self.log:
            print(f"[{self.label}] end of the log ({os.path.relpath(self.log_path)}):")
            with open(self.log_path, encoding="utf-8", errors="replace") as fh:
                for line in fh.read().splitlines()[-60:]:
                    print("    " + line)
        return passed, failed, skipped

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait()


class LintPhase:
    """scripts/lint.py, counted as one test."""

    def start(self):
        self.log_path = os.path.join(LOG_DIR, "lint.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([sys.executable, "scripts/lint.py"], cwd=rt.REPO_ROOT, stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        return self

    def finish(self):
        rc = self.proc.wait()
        self.log.close()
        with open(self.log_path, encoding="utf-8") as fh:
            report = fh.read()
        print("\n".join("[lint] " + line.removeprefix("[lint] ") for line in report.splitlines()[:80]), flush=True)
        return (0, 1, 0) if rc else (1, 0, 0)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()


class OdooPhase:
    """The addons' own tests: install them on a demo database, then pytest-odoo runs their tests."""

    def __init__(self, pytest_args):
        self.db = f"mtx_test_{os.getpid()}"
        self.pytest_args = pytest_args
        self.install_log = os.path.join(LOG_DIR, "odoo-install.log")
        self.pytest = None
        self.failure = None
        self.thread = None

    def start(self):
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        modules = (rt.MODULE, *rt.BRIDGE_MODULES)
        print(f"[odoo] installing {', '.join(modules)} with demo data on {self.db} "
              f"(log: {os.path.relpath(self.install_log)})", flush=True)
        started = time.monotonic()
        rt.drop_db(self.db)
        rc, log = rt.install(self.db, modules, demo=True)
        with open(self.install_log, "w") as fh:
            fh.write(log)
        problems = rt.log_problems(log)
        if rc or problems:
            self.failure = f"installing the addons failed (exit code {rc})"
            print(f"[odoo] {self.failure}:\n    " + "\n    ".join((problems or log.splitlines())[-40:]), flush=True)
            return
        print(f"[odoo] installed in {time.monotonic() - started:.0f}s", flush=True)
        params = rt.db_params()
        args = ["-p", "odoo", "-p", "devtools.pytest_odoo_runner", f"--odoo-database={self.db}",
                f"--odoo-addons-path={rt.addons_path()}", "--odoo-http", "--odoo-log-level=warn",
                f"--odoo-extra=db_host={params['host']}", f"--odoo-extra=db_port={params['port']}"]
        if params["user"]:
            args.append(f"--odoo-extra=db_user={params['user']}")
        if params["password"]:
            args.append(f"--odoo-extra=db_password={params['password']}")
        if os.environ.get("ODOO_DATA_DIR"):
            args.append(f"--odoo-extra=data_dir={os.environ['ODOO_DATA_DIR']}")
        self.pytest = Pytest("odoo", args + ADDON_TEST_DIRS + self.pytest_args, "odoo-tests.log").start()
        self.pytest.proc.wait()

    def finish(self):
        self.thread.join()
        if self.failure:
            return 0, 1, 0
        return self.pytest.finish()

    def stop(self):
        if self.pytest:
            self.pytest.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--odoo-only", action="store_true", help="only the addons' own tests (pytest-odoo)")
    only.add_argument("--e2e-only", action="store_true", help="only the end-to-end suite (tests/)")
    parser.add_argument("--serial", action="store_true", help="run the two phases one after the other")
    args, pytest_args = parser.parse_known_args()

    try:
        rt.odoo_bin()
    except rt.OdooNotFound as exc:
        print(f"Odoo not found: {exc}", file=sys.stderr)
        return 1
    os.makedirs(LOG_DIR, exist_ok=True)
    started = time.monotonic()
    totals = [0, 0, 0]
    odoo = e2e = lint = None
    try:
        drop_stale_databases()
        if not (args.odoo_only or args.e2e_only):
            lint = LintPhase().start()
        odoo = None if args.e2e_only else OdooPhase(pytest_args)
        if odoo:
            odoo.start()
            if args.serial:
                odoo.thread.join()
        if not args.odoo_only:
            e2e = Pytest("e2e", ["-p", "no:odoo", "tests/", *pytest_args], "e2e-tests.log")
            e2e.start(stream=args.e2e_only)
        for phase in (lint, odoo, e2e):
            if phase:
                totals = [a + b for a, b in zip(totals, phase.finish(), strict=True)]
    except KeyboardInterrupt:
        totals[1] += 1
        print("interrupted", file=sys.stderr)
    finally:
        for phase in (lint, odoo, e2e):
            if phase:
                phase.stop()
        drop_stale_databases(quiet=True)  # ours and the e2e suite's, whose pytest process has ended
    passed, failed, skipped = totals
    print(f"(total {time.monotonic() - started:.0f}s)")
    print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
