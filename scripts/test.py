#!/usr/bin/env python3
"""Run every test suite of mail_tracking_ext and print one summary line.

Phase 1 (Odoo): a throw-away database ``mtx_test_<pid>`` WITH demo data, where
``odoo-bin -i mail_tracking_ext --test-tags /mail_tracking_ext`` runs the addon's
own tests (at_install during the install, then post_install) with Odoo's runner.
Phase 2 (end-to-end): ``python3 -m pytest tests/`` against real odoo-bin
processes and a local SMTP catcher.

By default both phases run at the same time (one Odoo process each on the two
cores); ``--serial`` runs them one after the other. Throw-away databases
(``mtx_test_*``, ``mtx_e2e_*``) are dropped at the end, and stale ones left by a
killed run are dropped at the start.

The last line printed is ``N passed, N failed`` (plus ``, N skipped``).
Arguments this script does not know are passed to pytest, e.g.::

    scripts/test.py --e2e-only -k install -x
    scripts/test.py --odoo-only --test-tags /mail_tracking_ext:TestSomething
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
RESULT_RE = re.compile(r"odoo\.tests\.result: (\d+) failed, (\d+) error\(s\) of (\d+) tests")
THROWAWAY_PREFIXES = ("mtx_test_", "mtx_e2e_")


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


class OdooPhase:
    """odoo-bin installing the addon with its tests, in the background."""

    def __init__(self, test_tags):
        self.db = f"mtx_test_{os.getpid()}"
        self.test_tags = test_tags
        self.log_path = os.path.join(LOG_DIR, "odoo-tests.log")
        self.proc = None
        self.started = None

    def start(self):
        rt.drop_db(self.db)
        cmd = rt.odoo_cmd(
            self.db, "-i", ",".join((rt.MODULE, *rt.BRIDGE_MODULES)), "--test-tags", self.test_tags,
            "--stop-after-init",
            "--log-handler", "odoo.tests.result:INFO", "--log-handler", "odoo.modules.loading:INFO",
            demo=True, http_port=rt.free_port(),
        )
        self.log = open(self.log_path, "w")
        self.log.write("$ " + " ".join(cmd) + "\n")
        self.log.flush()
        self.started = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.ended = None
        threading.Thread(target=self._note_end, daemon=True).start()
        print(f"[odoo] running the addon's Odoo tests on {self.db} (log: {os.path.relpath(self.log_path)})", flush=True)

    def _note_end(self):
        self.proc.wait()
        self.ended = time.monotonic()

    def finish(self):
        """Wait for odoo-bin; return (passed, failed)."""
        rc = self.proc.wait()
        self.log.close()
        with open(self.log_path, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
        results = RESULT_RE.findall(text)
        failed = errors = total = 0
        if results:  # the last line is the total for the database
            failed, errors, total = (int(x) for x in results[-1])
        failed += errors
        passed = total - failed
        problems = rt.log_problems(text)
        reasons = []
        if rc != 0 and not failed:
            reasons.append(f"odoo-bin exited with code {rc}")
        if problems and not failed and rc == 0:
            reasons.append("ERROR/CRITICAL lines in the log")
        if reasons:
            failed += 1
        took = (self.ended or time.monotonic()) - self.started
        print(f"[odoo] {total} tests: {passed} passed, {failed} failed in {took:.0f}s"
              + (f" ({'; '.join(reasons)})" if reasons else ""), flush=True)
        if failed:
            print("[odoo] errors from the log (full log: %s):" % os.path.relpath(self.log_path))
            for line in (problems or text.splitlines()[-30:])[:200]:
                print("    " + line)
        return passed, failed


def run_pytest(pytest_args):
    """Run the end-to-end suite; return (passed, failed, skipped)."""
    with tempfile.NamedTemporaryFile(suffix=".xml", delete=False) as fh:
        junit = fh.name
    cmd = [sys.executable, "-m", "pytest", "tests/", "-q", f"--junitxml={junit}", "-p", "no:cacheprovider",
           *pytest_args]
    print("[e2e] $ " + " ".join(cmd), flush=True)
    rc = subprocess.call(cmd, cwd=rt.REPO_ROOT)
    passed = failed = skipped = 0
    try:
        root = ET.parse(junit).getroot()
        suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
        for suite in suites:
            tests, fails, errs, skips = (int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped"))
            failed += fails + errs
            skipped += skips
            passed += tests - fails - errs - skips
    except (ET.ParseError, FileNotFoundError):
        pass
    finally:
        if os.path.exists(junit):
            os.unlink(junit)
    # rc 5 = nothing collected (not a failure); any other non-zero rc without a counted failure is one
    if rc not in (0, 5) and not failed:
        print(f"[e2e] pytest exited with code {rc}", flush=True)
        failed += 1
    return passed, failed, skipped


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    only = parser.add_mutually_exclusive_group()
    only.add_argument("--odoo-only", action="store_true", help="only the addon's Odoo tests")
    only.add_argument("--e2e-only", action="store_true", help="only the pytest end-to-end suite")
    parser.add_argument("--serial", action="store_true", help="run the two phases one after the other")
    parser.add_argument("--test-tags", default=",".join(f"/{name}" for name in (rt.MODULE, *rt.BRIDGE_MODULES)),
                        help="Odoo --test-tags (default: %(default)s)")
    args, pytest_args = parser.parse_known_args()

    try:
        rt.odoo_bin()
    except rt.OdooNotFound as exc:
        print(f"Odoo 18 not found: {exc}", file=sys.stderr)
        return 1
    os.makedirs(LOG_DIR, exist_ok=True)
    started = time.monotonic()
    passed = failed = skipped = 0
    odoo = None
    try:
        drop_stale_databases()
        odoo = None if args.e2e_only else OdooPhase(args.test_tags)
        if odoo and not args.serial:
            odoo.start()
        if not args.odoo_only:
            p, f, s = run_pytest(pytest_args)
            passed, failed, skipped = passed + p, failed + f, skipped + s
        if odoo:
            if args.serial:
                odoo.start()
            p, f = odoo.finish()
            passed, failed = passed + p, failed + f
    except KeyboardInterrupt:
        failed += 1
        print("interrupted", file=sys.stderr)
    finally:
        if odoo and odoo.proc and odoo.proc.poll() is None:
            odoo.proc.terminate()
            odoo.proc.wait()
        drop_stale_databases(quiet=True)  # ours and the e2e suite's, whose pytest process has ended
    print(f"(total {time.monotonic() - started:.0f}s)")
    print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
