#!/usr/bin/env python3
"""X2 (first half): sending tracked vs untracked emails to a local SMTP server.

SPEC X2: "Sending 1,000 tracked emails to a local SMTP server takes at most
1.15x the time of the same emails untracked".

What it does (Odoo used as a library, in this process):

1. creates a throw-away database ``mtx_bench_<pid>`` with mail_tracking_ext
   (no demo data; ``odoo-bin -i ... --stop-after-init`` in a subprocess), or
   uses ``--db NAME`` (after ``-u mail_tracking_ext``, unless ``--no-update``);
2. starts an SMTP sink (devtools.mail_catcher, aiosmtpd) in its own process
   on a free port, keeping each message as an .eml file; points an
   ``ir.mail_server`` (no TLS) *and* Odoo's ``--smtp``/``--smtp-port`` at it;
   every other mail server is archived and every benchmark mail names the
   sink's server explicitly, so nothing can leave the machine;
3. creates N partners; then per run N single-recipient ``mail.mail``, each on
   its own ``mail.message`` (comment on the partner, author = admin) with
   ``track_opens``/``track_clicks`` both False (untracked) or both True
   (tracked); same ~10 KB body with 100 links in both modes;
4. times ``mails.send()`` + the final flush and commit (the send path's
   deferred writes belong to it); runs are committed and the cache is
   emptied before each timing, as when the mail queue cron sends;
5. verifies every run: N messages reached the sink, one per partner, every
   mail is ``sent``; tracked ones carry 100 ``/email-tracking/click/`` links
   and one ``/email-tracking/open/`` pixel with a token of their own (and the
   links of a few of them resolve to the original URLs through the click
   route's lookup), untracked ones none;
6. drops the database (unless ``--db`` or ``--keep-db``).

Order: a small warm-up of each mode (not reported), then ``--rounds`` times
(untracked, tracked). ``--profile N`` adds one cProfile'd tracked run of N
mails and prints the top entries of mail_tracking_ext code.

    python3 tests/bench/bench_send.py [--mails 1000] [--rounds 2] [--profile 300] [--json FILE]
"""

import argparse
import cProfile
import email
import gc
import io
import json
import logging
import os
import pstats
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from email.utils import getaddresses

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, REPO_ROOT)

import x2_bodies  # noqa: E402

from devtools import odoo_runtime as rt  # noqa: E402

SPEC_MAX_RATIO = 1.15
BODY_BYTES, BODY_LINKS = 10 * 1024, 100
PARTNER_EMAIL = "x2.bench.{:05d}@example.com"
SERVER_NAME = "X2 benchmark SMTP sink"
HIDDEN_RE = re.compile(
    r'<a href="[^"]*/email-tracking/click/[A-Za-z0-9_-]+/([0-9a-f]+)" tabindex="-1" aria-hidden="true"')
CLICK_RE = re.compile(r"/email-tracking/click/([A-Za-z0-9_-]+)/([0-9a-f]+)")
OPEN_RE = re.compile(r"/email-tracking/open/([A-Za-z0-9_-]+)\.gif")


def log(msg):
    print(f"[bench_send {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# -- SMTP sink ---------------------------------------------------------------------

class SmtpSink:
    """devtools.mail_catcher (aiosmtpd) in a process of its own, as a real MTA would be:
    its CPU is not Odoo's. Every message is kept as an .eml file in a temporary directory;
    a message is on disk before the sink answers 250, so it is there when send() returns."""

    def __init__(self):
        self.port = rt.free_port()
        self.directory = tempfile.mkdtemp(prefix="mtx_x2_sink_")
        self.proc = None

    def start(self, timeout=20):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "devtools.mail_catcher", "--smtp-port", str(self.port),
             "--http-port", str(rt.free_port()), "--dir", self.directory],
            cwd=REPO_ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"SMTP sink exited: {self.proc.stderr.read().decode(errors='replace')}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    if sock.recv(3) == b"220":
                        return self
            except OSError:
                time.sleep(0.1)
        raise TimeoutError(f"SMTP sink did not answer on port {self.port}")

    def _files(self):
        return sorted(entry.path for entry in os.scandir(self.directory) if entry.name.endswith(".eml"))

    def count(self):
        return len(self._files())

    def clear(self):
        for path in self._files():
            os.unlink(path)

    def messages(self, expected, timeout=10):
        """Raw bytes of every message received, once ``expected`` arrived (or the timeout passed)."""
        deadline = time.monotonic() + timeout
        while self.count() < expected and time.monotonic() < deadline:
            time.sleep(0.05)
        result = []
        for path in self._files():
            with open(path, "rb") as fh:
                result.append(fh.read())
        return result

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.directory, ignore_errors=True)


# -- database --------------------------------------------------------------------

def create_database(db):
    rt.drop_db(db)
    start = time.perf_counter()
    rc, out = rt.install(db, rt.MODULE, demo=False, log_level="warn")
    rt.assert_clean_run(rc, out, f"installing {rt.MODULE} on {db}")
    log(f"database {db} created in {time.perf_counter() - start:.0f}s")


def update_database(db):
    start = time.perf_counter()
    rc, out = rt.install(db, rt.MODULE, demo=False, update=True, log_level="warn")
    rt.assert_clean_run(rc, out, f"updating {rt.MODULE} on {db}")
    log(f"database {db} updated in {time.perf_counter() - start:.0f}s")


def open_registry(db, smtp_port):
    import odoo  # noqa: PLC0415 - only after the database exists
    from odoo.tools import config  # noqa: PLC0415

    params = rt.db_params()
    args = ["--addons-path", rt.addons_path(), "-d", db, "--db_host", params["host"],
            "--db_port", str(params["port"]), "--log-level", "warn",
            # the fallback SMTP server is the sink too
            "--smtp", "127.0.0.1", "--smtp-port", str(smtp_port)]
    if params["user"]:
        args += ["--db_user", params["user"]]
    if params["password"]:
        args += ["--db_password", params["password"]]
    config.parse_config(args, setup_logging=True)
    # Odoo's logging setup leaves third-party loggers at INFO: aiosmtpd would log every SMTP
    # command of the sink, in this process, inside the timings
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    from odoo.modules.registry import Registry  # noqa: PLC0415

    return odoo, Registry(db)


# -- fixtures ----------------------------------------------------------------------

def setup_records(env, smtp_port, n_partners):
    servers = env["ir.mail_server"].with_context(active_test=False)
    servers.search([("name", "=", SERVER_NAME)]).unlink()
    server = servers.create({
        "name": SERVER_NAME, "smtp_host": "127.0.0.1", "smtp_port": smtp_port,
        "smtp_encryption": "none", "sequence": 0,
    })
    (servers.search([("active", "=", True)]) - server).write({"active": False})
    env["ir.config_parameter"].set_param("mail.session.batch.size", "1000")

    partners = env["res.partner"].search([("email", "=like", "x2.bench.%@example.com")], order="email")
    missing = n_partners - len(partners)
    if missing > 0:
        partners |= env["res.partner"].create([
            {"name": f"Zoë Bench-Ünal {i:05d}", "email": PARTNER_EMAIL.format(i)}
            for i in range(len(partners), n_partners)
        ])
    # contacts that may be tracked individually whatever the privacy settings (P1)
    if "legal_basis" in partners._fields:
        partners.write({"legal_basis": "consent"})
    author = env.ref("base.user_admin").partner_id
    assert not author.user_ids[:1].share, "the author must be an internal user"
    env.cr.commit()
    return server, partners[:n_partners], author


def create_mails(env, partners, tracked, body, server, author, tag):
    messages = env["mail.message"].create([{
        "model": "res.partner",
        "res_id": partner.id,
        "message_type": "comment",
        "author_id": author.id,
        "email_from": author.email_formatted,
        "subject": f"X2 {tag} – Angebot für {partner.name}",
        "body": "<p>X2 benchmark</p>",
        "track_opens": tracked,
        "track_clicks": tracked,
    } for partner in partners])
    mails = env["mail.mail"].create([{
        "mail_message_id": message.id,
        "body_html": body,
        "recipient_ids": [(4, partner.id)],
        "mail_server_id": server.id,
        "auto_delete": False,
        "state": "outgoing",
    } for message, partner in zip(messages, partners, strict=True)])
    env.flush_all()
    env.cr.commit()
    env.invalidate_all()
    return mails


# -- one run -------------------------------------------------------------------------

def send_run(env, sink, partners, tracked, body, server, author, tag, profiler=None):
    setup_start = time.perf_counter()
    mails = create_mails(env, partners, tracked, body, server, author, tag)
    setup = time.perf_counter() - setup_start
    sink.clear()
    gc.collect()
    queries_before = env.cr.sql_log_count
    start, cpu_start = time.perf_counter(), time.process_time()
    if profiler:
        profiler.enable()
    mails.send()
    env.flush_all()
    queries = env.cr.sql_log_count - queries_before
    env.cr.commit()
    if profiler:
        profiler.disable()
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    n = len(mails)
    verify_start = time.perf_counter()
    checks = verify(env, sink, mails, partners, tracked)
    log(f"{tag} {'tracked' if tracked else 'untracked'}: {n} mails created in {setup:.1f}s, "
        f"sent in {wall:.1f}s, verified in {time.perf_counter() - verify_start:.1f}s")
    return {
        "mode": "tracked" if tracked else "untracked",
        "tag": tag,
        "mails": n,
        "wall_s": wall,
        "ms_per_mail": wall * 1000 / n,
        "cpu_ms_per_mail": cpu * 1000 / n,
        "queries_per_mail": queries / n,
        **checks,
    }


def _html_part(msg):
    """Decoded text/html part of a message parsed with compat32 (~10x faster than policy.default)."""
    for part in msg.walk():
        if part.get_content_type() == "text/html":
            return part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
    return ""


def verify(env, sink, mails, partners, tracked):
    """Raise AssertionError unless the run did what it claims; return a few facts."""
    n = len(mails)
    caught = sink.messages(n)
    assert len(caught) == n, f"SMTP sink received {len(caught)} messages, expected {n}"

    env.cr.execute("SELECT state, count(*) FROM mail_mail WHERE id IN %s GROUP BY state", [tuple(mails.ids)])
    states = dict(env.cr.fetchall())
    assert states == {"sent": n}, f"mail states after send: {states}"

    tokens, received_rcpt, samples = set(), [], []
    for raw in caught:
        msg = email.message_from_bytes(raw)
        received_rcpt += [addr.lower() for _name, addr in getaddresses(msg.get_all("To", []))]
        html = _html_part(msg)
        clicks = CLICK_RE.findall(html)
        opens = OPEN_RE.findall(html)
        if tracked:
            # the body's links, and the hidden one no person sees (A3), which leads nowhere
            hidden = [(token, ref) for token, ref in clicks if ref in HIDDEN_RE.findall(html)]
            clicks = [click for click in clicks if click not in hidden]
            assert len(clicks) == BODY_LINKS and len(hidden) == 1, \
                f"{len(clicks)} click links and {len(hidden)} hidden ones in a tracked message"
            assert len(opens) == 1, f"{len(opens)} open pixels in a tracked message"
            token = opens[0]
            assert {tok for tok, _ref in clicks} == {token}, "click and open tokens differ"
            tokens.add(token)
            if len(samples) < 3:
                samples.append(clicks)
        else:
            assert not clicks and not opens, "tracking found in an untracked message"
            assert html.count("https://shop.example.com/p/") >= BODY_LINKS // 3, "original links missing"
    assert sorted(received_rcpt) == sorted(partners.mapped("email")), \
        "the messages' recipients are not the partners, one message each"
    facts = {"sink_received": len(caught)}
    if tracked:
        assert len(tokens) == n, f"{len(tokens)} distinct tokens for {n} messages"
        env.cr.execute("SELECT count(*) FROM mail_tracked_recipient WHERE mail_id_int IN %s",
                       [tuple(mails.ids)])
        recipients = env.cr.fetchone()[0]
        assert recipients == n, f"{recipients} mail.tracked.recipient rows for {n} mails"
        # the click links of a few messages lead back to the original URLs (whatever the storage)
        Recorder = env["mail.tracked.event"]
        for clicks in samples:
            for i, (token, ref) in enumerate(clicks):
                url = Recorder._record_click(token, ref, record=False)
                assert url == x2_bodies.link_url(i, short=True), f"click {i} resolves to {url!r}"
        facts.update(distinct_tokens=len(tokens), tracked_recipients=recipients,
                     clicks_resolved=len(samples) * BODY_LINKS)
    return facts


# -- profile ---------------------------------------------------------------------------

def profile_report(profiler, top=15):
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(r"mail_tracking_ext", top)
    text = out.getvalue()
    # keep from the table header on, with paths shortened
    text = text[text.find("   ncalls"):] if "   ncalls" in text else text
    return _short_paths(text)


def _short_paths(text):
    return re.sub(r"[^\s(]*/(mail_tracking_ext/)", r"\1", text).rstrip()


def profile_callees(profiler, func=r"_track_copies", top=20):
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_callees(func, top)
    return _short_paths(out.getvalue())


# -- report ------------------------------------------------------------------------------

def summarize(runs):
    """Per mode: best (least disturbed by other load on the machine) and mean wall ms/mail,
    mean CPU ms/mail of this process; ratios tracked/untracked of each."""
    modes = {mode: [r for r in runs if r["mode"] == mode] for mode in ("untracked", "tracked")}
    stats = {}
    for mode, mode_runs in modes.items():
        stats[mode] = {
            "best_ms_per_mail": min(r["ms_per_mail"] for r in mode_runs),
            "mean_ms_per_mail": statistics.mean(r["ms_per_mail"] for r in mode_runs),
            "cpu_ms_per_mail": statistics.mean(r["cpu_ms_per_mail"] for r in mode_runs),
            "queries_per_mail": statistics.mean(r["queries_per_mail"] for r in mode_runs),
        }
    ratio = {key: stats["tracked"][key] / stats["untracked"][key]
             for key in ("best_ms_per_mail", "mean_ms_per_mail", "cpu_ms_per_mail")}
    return {
        **stats,
        "ratio": ratio["best_ms_per_mail"],
        "ratio_mean": ratio["mean_ms_per_mail"],
        "ratio_cpu": ratio["cpu_ms_per_mail"],
        "pair_ratios": [t["ms_per_mail"] / u["ms_per_mail"]
                        for u, t in zip(modes["untracked"], modes["tracked"], strict=True)],
        "spec_met": ratio["best_ms_per_mail"] <= SPEC_MAX_RATIO,
    }


def markdown(runs, summary):
    n = runs[0]["mails"]
    lines = [
        f"| send {n:,} mails (1 recipient each, {BODY_BYTES // 1024} KB body, {BODY_LINKS} links) "
        "| wall | ms/mail | CPU ms/mail | SQL queries/mail |",
        "|---|---|---|---|---|",
    ]
    for r in runs:
        lines.append(f"| {r['tag']}: {r['mode']} | {r['wall_s']:.2f} s | {r['ms_per_mail']:.2f} "
                     f"| {r['cpu_ms_per_mail']:.2f} | {r['queries_per_mail']:.1f} |")
    u, t = summary["untracked"], summary["tracked"]
    lines.append(
        f"| **tracked / untracked** | | **{summary['ratio']:.2f}x** (best of runs) "
        f"| {summary['ratio_cpu']:.2f}x | +{t['queries_per_mail'] - u['queries_per_mail']:.1f} |")
    verdict = "met" if summary["spec_met"] else "**not met**"
    lines += [
        "",
        f"SPEC X2 (tracked <= {SPEC_MAX_RATIO}x untracked): {verdict} - best run "
        f"{t['best_ms_per_mail']:.2f} vs {u['best_ms_per_mail']:.2f} ms/mail = {summary['ratio']:.2f}x; "
        f"means {t['mean_ms_per_mail']:.2f} vs {u['mean_ms_per_mail']:.2f} = {summary['ratio_mean']:.2f}x; "
        f"per (untracked, tracked) pair: {', '.join(f'{p:.2f}x' for p in summary['pair_ratios'])}. "
        "CPU = the Odoo process only (the SMTP sink and PostgreSQL are other processes).",
    ]
    return "\n".join(lines)


# -- main ----------------------------------------------------------------------------------

def run(mails=1000, rounds=2, warmup=50, db=None, keep_db=False, profile=0, no_update=False):
    own_db = db is None
    db = db or f"mtx_bench_{os.getpid()}"
    result = {"db": db}
    sink = SmtpSink().start()
    registry = None
    try:
        if own_db:
            create_database(db)
        elif not no_update:
            update_database(db)
        odoo, registry = open_registry(db, sink.port)
        body = x2_bodies.email_html(BODY_BYTES, BODY_LINKS, document=False)
        with registry.cursor() as cr:
            env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
            server, partners, author = setup_records(env, sink.port, max(mails, warmup, profile))
            log(f"SMTP sink (pid {sink.proc.pid}) on 127.0.0.1:{sink.port}, {len(partners)} partners, "
                f"body {x2_bodies.describe(body)}")
            for tracked in (False, True):
                send_run(env, sink, partners[:warmup], tracked, body, server, author, "warm-up")
            runs = []
            for i in range(1, rounds + 1):
                for tracked in (False, True):
                    r = send_run(env, sink, partners[:mails], tracked, body, server, author, f"round {i}")
                    log(f"{r['tag']} {r['mode']}: {r['ms_per_mail']:.2f} ms/mail, "
                        f"{r['queries_per_mail']:.1f} queries/mail, sink got {r['sink_received']}")
                    runs.append(r)
            result.update(runs=runs, summary=summarize(runs), body_kib=len(body.encode()) / 1024)
            if profile:
                profiler = cProfile.Profile()
                r = send_run(env, sink, partners[:profile], True, body, server, author, "profiled",
                             profiler=profiler)
                log(f"profiled tracked run: {r['ms_per_mail']:.2f} ms/mail under cProfile")
                result["profile"] = {"mails": profile, "top": profile_report(profiler),
                                     "track_outgoing_callees": profile_callees(profiler)}
    finally:
        sink.stop()
        if registry is not None:
            import odoo  # noqa: PLC0415
            from odoo.modules.registry import Registry  # noqa: PLC0415

            Registry.delete(db)
            odoo.sql_db.close_db(db)
        if own_db and not keep_db:
            rt.drop_db(db)
            log(f"database {db} dropped")
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description="X2: tracked vs untracked sending to a local SMTP sink")
    parser.add_argument("--mails", type=int, default=1000, help="mails per timed run (default 1000)")
    parser.add_argument("--rounds", type=int, default=2, help="(untracked, tracked) pairs (default 2)")
    parser.add_argument("--warmup", type=int, default=50, help="mails per warm-up run of each mode")
    parser.add_argument("--db", help="use this existing database (mail_tracking_ext installed, updated "
                        "with -u first) instead of a throw-away one; it is not dropped, but its other mail "
                        "servers are archived and benchmark partners/mails stay in it: use a spare one")
    parser.add_argument("--no-update", action="store_true", help="with --db: skip the -u mail_tracking_ext")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the throw-away database")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="add a cProfile'd tracked run of N mails and print its mail_tracking_ext hot spots")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    result = run(args.mails, args.rounds, args.warmup, args.db, args.keep_db, args.profile, args.no_update)
    print(markdown(result["runs"], result["summary"]))
    if "profile" in result:
        print_profile(result["profile"])
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(result, fh, indent=2, default=str)
    return 0


def print_profile(profile):
    print(f"\ncProfile of a tracked run of {profile['mails']} mails (times inflated by the profiler), "
          "top cumulative entries in mail_tracking_ext:\n\n```")
    print(profile["top"])
    print("```\n\nWhat `_track_copies` calls:\n\n```")
    print(profile["track_outgoing_callees"])
    print("```")


if __name__ == "__main__":
    sys.exit(main())
