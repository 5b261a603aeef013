#!/usr/bin/env python3
"""SPEC X1: throughput and latency of the public open and click routes, with wrk.

SPEC X1: "Open and click routes: throughput at least 0.8x Odoo's own
/web/health on the same server and run, and at least 2x OCA mail_tracking's
pixel route, with p99 latency no worse than 1.2x /web/health's."

What it does:

1. a throw-away database ``mtx_x1_<pid>`` with mass_mailing, OCA mail_tracking
   (the unpacked 18.0 wheel) and mail_tracking_ext, no demo data (or ``--db``);
2. in ``odoo-bin shell``: N contacts (legal basis *consent*), one crm.lead, one
   email posted on it to all of them with *Track opens* and *Track clicks*,
   kept in the queue; ``mail._prepare_outgoing_list()`` gives each contact's
   body, from which the pixel and click URLs are taken (ours, and OCA
   mail_tracking's pixel, which it adds to the same bodies; its
   mail.tracking.email rows are put in state *sent*, as after sending); N
   mass_mailing traces with their HMAC pixel tokens; everything committed;
3. one Odoo server, ``--workers 2 --max-cron-threads 0``, log level warn;
4. wrk (16 connections, 2 threads; ``x1_wrk.lua`` walks a list of paths so
   each request hits another token) on, alternating, in ``--rounds`` rounds
   (the second in reverse order): /web/health; our pixel over N valid tokens;
   our pixel on ONE recipient (R4: every request on the same row); our click
   route over N valid token+link (302); our pixel with unknown tokens;
   mass_mailing's pixel (valid HMAC tokens); OCA mail_tracking's pixel (valid
   id+token). Each measured run follows a warm-up of the same route;
5. after every run (warm-up included) the events in mail_tracked_event are
   counted: a route of ours must have added exactly one event per request it
   answered (R4: nothing lost), give or take the requests wrk had written
   and not yet seen answered when it closed its connections (they are still
   processed: the check is ``answered <= added <= written``), and the other
   routes none; then an exact R4 check: 300 opens and 300 clicks of ONE
   recipient from 64 concurrent clients, every one answered and recorded;
   no 5xx anywhere, no ERROR in the server log;
6. prints markdown: the runs, the ratios to /web/health and to OCA, and a
   verdict per X1 criterion; ``--json`` writes everything.

``--profile SECONDS`` then samples both HTTP workers with py-spy
(``pip install py-spy``) while wrk loads our pixel, and prints where their
time goes (Odoo's request machinery, our SQL, commit...). ``--route
LABEL=PATH`` adds routes to compare (``{token}``: each valid pixel token in
turn, ``{hot}``: the one hot token, ``{unknown}``: unknown tokens), e.g.
served by a throw-away addon given with ``--extra-addons DIR --extra-modules
NAME``.

    python3 tests/bench/bench_routes.py [--duration 8] [--warmup 2] [--rounds 2] [--json FILE]
    make bench-x1 ARGS="--rounds 1 --duration 10"
"""

import argparse
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, REPO_ROOT)

from devtools import odoo_runtime as rt  # noqa: E402

LUA = os.path.join(HERE, "x1_wrk.lua")
MODULES = ["mass_mailing", "mail_tracking", rt.MODULE]
SPEC_VS_HEALTH, SPEC_VS_OCA, SPEC_P99_VS_HEALTH = 0.8, 2.0, 1.2

# route key -> (label, what the criterion is about)
ROUTES = {
    "health": "Odoo `/web/health`",
    "open": "ours: open pixel, {n} tokens",
    "click": "ours: click, {n} token+link (302)",
    "open_hot": "ours: open pixel, ONE recipient (R4)",
    "unknown": "ours: open pixel, unknown tokens",
    "mass_mailing": "core mass_mailing pixel",
    "oca": "OCA mail_tracking pixel",
}
OURS = ("open", "click", "open_hot", "unknown")
X1_SUBJECTS = ("open", "click")


def log(msg):
    print(f"[bench_routes {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# -- database and fixtures ----------------------------------------------------------

SETUP_SCRIPT = r'''
import json, re, time
from markupsafe import Markup
from odoo import fields

N = {n}
DB = env.cr.dbname
company = env.ref("base.main_company")
company.write({{"mail_tracking_allowed": True}})
Partner = env["res.partner"].with_context(active_test=False)
partners = Partner.search([("email", "=like", "x1.bench.%@example.com")], order="email")
if len(partners) < N:
    partners |= Partner.create([
        {{"name": f"X1 Bench Kontakt {{i:04d}}", "email": f"x1.bench.{{i:04d}}@example.com"}}
        for i in range(len(partners), N)])
partners = partners[:N]
partners.write({{"active": True, "legal_basis": "consent", "do_not_track": False}})
admin = env.ref("base.user_admin")
uenv = env(user=admin)
lead = uenv["crm.lead"].create({{"name": "X1 benchmark lead", "type": "opportunity"}})
body = Markup('<p>Hello, here is <a href="https://example.com/x1/offer?a=1&amp;b=%C3%BC#top">our offer</a>.</p>')
message = lead.with_context(mail_notify_force_send=False, mail_create_nosubscribe=True).message_post(
    body=body, subject="X1 benchmark", message_type="comment", subtype_xmlid="mail.mt_comment",
    partner_ids=partners.ids, track_opens=True, track_clicks=True)
assert message.track_opens and message.track_clicks, "tracking switches are off"
mails = env["mail.mail"].sudo().search([("mail_message_id", "=", message.id)])
OPEN = re.compile(r"/email-tracking/open/([A-Za-z0-9_-]+)\.gif")
CLICK = re.compile(r"/email-tracking/click/([A-Za-z0-9_-]+)/([0-9a-f]+)")
OCA = re.compile(r"/mail/tracking/open/[^/\s\"']+/(\d+)/([0-9a-f]+)/blank\.gif")
opens, clicks, oca = [], [], []
for mail in mails:
    for values in mail._prepare_outgoing_list():
        html = values["body"]
        opens += OPEN.findall(html)[:1]
        clicks += CLICK.findall(html)[:1]
        oca += OCA.findall(html)[:1]
# the queue is ours: nothing of this is ever sent
mails.write({{"state": "cancel"}})
env["mail.tracking.email"].sudo().browse([int(i) for i, _t in oca]).write({{"state": "sent"}})
mailing = env["mailing.mailing"].create({{
    "subject": "X1 benchmark", "body_html": "<p>X1</p>",
    "mailing_model_id": env["ir.model"]._get("res.partner").id, "mailing_type": "mail"}})
env.cr.execute("SELECT COALESCE(MAX(id), 0) FROM mail_mail")
first_mail_id = env.cr.fetchone()[0] + 1000000
mass = []
for i, partner in enumerate(partners):
    mail_id = first_mail_id + i
    mass.append((mail_id, env["mail.mail"]._generate_mail_recipient_token(mail_id)))
env["mailing.trace"].create([{{
    "trace_type": "mail", "model": "res.partner", "res_id": partner.id, "email": partner.email,
    "mass_mailing_id": mailing.id, "mail_mail_id_int": mail_id, "trace_status": "sent",
}} for partner, (mail_id, _token) in zip(partners, mass)])
env.cr.commit()
print("X1SETUP " + json.dumps({{
    "db": DB, "message_id": message.id, "mails": len(mails), "opens": opens, "clicks": clicks,
    "oca": oca, "mass": mass,
}}))
'''


def prepare_database(db, reuse, update, extra_modules):
    modules = MODULES + list(extra_modules)
    if reuse and rt.db_exists(db):
        installed = {name for (name,) in rt.query(
            db, "SELECT name FROM ir_module_module WHERE state = 'installed' AND name IN %s", (tuple(modules),))}
        missing = [m for m in modules if m not in installed]
        if missing or update:
            start = time.perf_counter()
            rc, out = rt.install(db, missing or [rt.MODULE], demo=False, extra_oca=True, update=not missing)
            rt.assert_clean_run(rc, out, f"installing/updating {missing or rt.MODULE} on {db}")
            log(f"database {db}: {missing or 'update'} in {time.perf_counter() - start:.0f}s")
        return
    rt.drop_db(db)
    start = time.perf_counter()
    rc, out = rt.install(db, modules, demo=False, extra_oca=True)
    rt.assert_clean_run(rc, out, f"installing {modules} on {db}")
    log(f"database {db} with {', '.join(modules)} created in {time.perf_counter() - start:.0f}s")


def create_fixtures(db, n):
    start = time.perf_counter()
    rc, out = rt.odoo_shell(db, SETUP_SCRIPT.format(n=n), demo=False, extra_oca=True)
    line = next((ln for ln in out.splitlines() if ln.startswith("X1SETUP ")), None)
    if rc or line is None:
        raise RuntimeError(f"fixture script failed (rc {rc}):\n{out[-6000:]}")
    data = json.loads(line[len("X1SETUP "):])
    for key in ("opens", "clicks", "oca", "mass"):
        if len(data[key]) != n:
            raise RuntimeError(f"fixtures: {len(data[key])} {key} for {n} recipients:\n{out[-3000:]}")
    if len(set(data["opens"])) != n:
        raise RuntimeError("fixtures: pixel tokens are not all different")
    log(f"{n} tracked recipients, {n} OCA trackings and {n} mass_mailing traces in "
        f"{time.perf_counter() - start:.0f}s")
    return data


def path_lists(db, data, extra_routes):
    opens, hot = data["opens"], data["opens"][0]
    unknown = [secrets.token_urlsafe(24) for _ in opens]
    lists = {
        "health": ["/web/health"],
        "open": [f"/email-tracking/open/{t}.gif" for t in opens],
        "click": [f"/email-tracking/click/{t}/{ref}" for t, ref in data["clicks"]],
        "open_hot": [f"/email-tracking/open/{hot}.gif"],
        "unknown": [f"/email-tracking/open/{t}.gif" for t in unknown],
        "mass_mailing": [f"/mail/track/{mail_id}/{token}/blank.gif" for mail_id, token in data["mass"]],
        "oca": [f"/mail/tracking/open/{db}/{tid}/{token}/blank.gif" for tid, token in data["oca"]],
    }
    for label, template in extra_routes:
        if "{token}" in template:
            lists[label] = [template.replace("{token}", t) for t in opens]
        elif "{unknown}" in template:
            lists[label] = [template.replace("{unknown}", t) for t in unknown]
        else:
            lists[label] = [template.replace("{hot}", hot)]
    return lists


def event_counts(db):
    """{'open': n, 'inferred': n, 'click': n, 'sender': n} in mail_tracked_event."""
    [(opens, inferred, clicks, sender)] = rt.query(db, """
        SELECT count(*) FILTER (WHERE event_type = 'open' AND NOT COALESCE(is_inferred, false)),
               count(*) FILTER (WHERE event_type = 'open' AND COALESCE(is_inferred, false)),
               count(*) FILTER (WHERE event_type = 'click'),
               count(*) FILTER (WHERE COALESCE(is_sender, false))
          FROM mail_tracked_event""")
    return {"open": opens, "inferred": inferred, "click": clicks, "sender": sender}


# -- wrk -------------------------------------------------------------------------------

def run_wrk(url, paths_file, duration, connections, threads, timeout_s=10):
    cmd = ["wrk", f"-c{connections}", f"-t{threads}", f"-d{duration}s", f"--timeout={timeout_s}s",
           "--latency", "-s", LUA, url, "--", paths_file]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=duration + 60)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("X1JSON ")), None)
    if proc.returncode or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}):\n{proc.stdout[-3000:]}")
    result = json.loads(line[len("X1JSON "):])
    seconds = result["duration_us"] / 1e6
    errors = result["errors"]
    result.update(
        rps=result["responses"] / seconds if seconds else 0.0,
        p50_ms=result["latency_us"]["p50"] / 1000,
        p99_ms=result["latency_us"]["p99"] / 1000,
        socket_errors=errors["connect"] + errors["read"] + errors["write"] + errors["timeout"],
        non_2xx_3xx=errors["status"],
        server_errors=sum(c for s, c in result["statuses"].items() if s.startswith("5")),
    )
    return result


def wait_idle(url, settle=0.3):
    """Let the requests wrk left in flight finish before the events are counted."""
    time.sleep(settle)
    for _ in range(50):
        try:
            with urllib.request.urlopen(url + "/web/health", timeout=5):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)


def check_events(key, result, delta):
    """The accounting rule of one run (module docstring, step 5); returns (ok, note)."""
    answered = {s: c for s, c in result["statuses"].items()}
    written = result["sent"]
    if key in ("open", "open_hot"):
        ok_answers = answered.get("200", 0)
        got = delta["open"]
        ok = ok_answers <= got <= written and not (delta["click"] or delta["inferred"] or delta["sender"])
        return ok, f"{got} opens for {ok_answers} answered / {written} written"
    if key == "click":
        ok_answers = answered.get("302", 0)
        got = delta["click"]
        ok = (ok_answers <= got <= written and not delta["open"] and not delta["sender"]
              and delta["inferred"] <= got)
        return ok, f"{got} clicks (+{delta['inferred']} inferred opens) for {ok_answers} answered / {written} written"
    if key in ROUTES:  # unknown tokens and the other systems' routes record nothing of ours
        return not any(delta.values()), f"{sum(delta.values())} events"
    return True, f"{delta['open']} opens, {delta['click']} clicks (not checked)"


# -- exact concurrency check (R4) ---------------------------------------------------------

def burst(url, paths, clients):
    """GET every path once from ``clients`` concurrent clients; Counter of statuses."""
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    barrier = threading.Barrier(clients)

    def get(i_path):
        i, path = i_path
        if i < clients:
            try:
                barrier.wait(30)  # the first wave starts at once
            except threading.BrokenBarrierError:
                pass
        try:
            with opener.open(url + path, timeout=60) as resp:
                resp.read()
                return resp.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except OSError as exc:
            return f"socket error: {exc.__class__.__name__}"

    with ThreadPoolExecutor(clients) as pool:
        return Counter(pool.map(get, enumerate(paths)))


def exact_r4_check(url, db, lists, requests, clients):
    before = event_counts(db)
    opens = burst(url, lists["open_hot"] * requests, clients)
    hot_token = lists["open_hot"][0].split("/")[-1][:-4]
    click = next(p for p in lists["click"] if f"/{hot_token}/" in p)
    clicks = burst(url, [click] * requests, clients)
    after = event_counts(db)
    delta = {k: after[k] - before[k] for k in after}
    ok = (opens == Counter({200: requests}) and clicks == Counter({302: requests})
          and delta["open"] == requests and delta["click"] == requests and not delta["inferred"])
    return {"requests": requests, "clients": clients, "open_statuses": dict(opens),
            "click_statuses": dict(clicks), "delta": delta, "ok": ok}


# -- profile -------------------------------------------------------------------------------

PROFILE_BUCKETS = [  # first match, checked on the whole stack (outermost first)
    ("our _record_open: SQL statement", ("_record_open", "execute")),
    ("our _record_open: bus push", ("_record_open", "_push_engagement")),
    ("our _record_open: Python", ("_record_open",)),
    ("rest of our controller", ("open_pixel",)),
    ("commit (WAL flush wait)", ("_transactioning", "commit")),
    ("registry open + signaling check", ("_open_registry",)),
    ("routing match (ir.http._match)", ("_match",)),
    ("session load / save", ("session",)),
    ("other Odoo dispatch (_serve_db)", ("_serve_db",)),
    ("werkzeug request parsing / response writing", ("process_request",)),
    ("worker idle: waiting for a connection", ("process_work",)),
    ("worker loop (sleep, signals, watchdog)", ("run",)),
]


def http_workers(server):
    out = subprocess.run(["ps", "-o", "pid=,args=", "--ppid", str(server.proc.pid)],
                         stdout=subprocess.PIPE, text=True).stdout
    return [int(line.split()[0]) for line in out.splitlines()
            if line.strip() and "odoo-bin gevent " not in line]


def profile(server, paths_file, seconds, connections, threads):
    if not shutil.which("py-spy"):
        return {"error": "py-spy is not installed (pip install py-spy)"}
    workers = http_workers(server)
    tmp = tempfile.mkdtemp(prefix="mtx_x1_pyspy_")
    spies = []
    for pid in workers:
        out = os.path.join(tmp, f"{pid}.txt")
        spies.append((out, subprocess.Popen(
            ["py-spy", "record", "--pid", str(pid), "--duration", str(seconds + 1), "--rate", "250",
             "--idle", "--nonblocking", "--format", "raw", "--output", out],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)))
    time.sleep(0.5)
    result = run_wrk(server.url, paths_file, seconds, connections, threads)
    stacks = Counter()
    for out, proc in spies:
        proc.wait(60)
        if os.path.exists(out):
            with open(out, encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    stack, _, count = line.rstrip("\n").rpartition(" ")
                    if stack and count.isdigit():
                        stacks[stack] += int(count)
    shutil.rmtree(tmp, ignore_errors=True)
    if not stacks:
        return {"error": "py-spy recorded nothing (ptrace not allowed?)",
                "stderr": [p.stderr.read().decode(errors="replace")[-500:] for _o, p in spies]}
    buckets, leaves = Counter(), Counter()
    for stack, count in stacks.items():
        frames = [f.split(" (")[0] for f in stack.split(";")]
        names = " ".join(frames)
        bucket = "other"
        for label, markers in PROFILE_BUCKETS:
            if all(re.search(rf"\b{re.escape(m)}\b", names) for m in markers):
                bucket = label
                break
        buckets[bucket] += count
        if bucket != "worker idle: waiting for a connection":
            leaves[frames[-1]] += count
    return {"workers": workers, "samples": sum(stacks.values()), "buckets": buckets.most_common(),
            "leaves": leaves.most_common(15), "wrk": result}


# -- report --------------------------------------------------------------------------------

def aggregate(runs):
    """Per route: responses / seconds over its measured runs, mean p50/p99 of the runs."""
    per = {}
    for run in runs:
        per.setdefault(run["key"], []).append(run)
    agg = {}
    for key, key_runs in per.items():
        seconds = sum(r["duration_us"] for r in key_runs) / 1e6
        agg[key] = {
            "rps": sum(r["responses"] for r in key_runs) / seconds,
            "p50_ms": statistics.mean(r["p50_ms"] for r in key_runs),
            "p99_ms": statistics.mean(r["p99_ms"] for r in key_runs),
            "responses": sum(r["responses"] for r in key_runs),
            "non_2xx_3xx": sum(r["non_2xx_3xx"] for r in key_runs),
            "socket_errors": sum(r["socket_errors"] for r in key_runs),
            "server_errors": sum(r["server_errors"] for r in key_runs),
            "statuses": dict(sum((Counter(r["statuses"]) for r in key_runs), Counter())),
            "rounds_rps": [r["rps"] for r in key_runs],
            "rounds_p99": [r["p99_ms"] for r in key_runs],
        }
    return agg


def verdicts(agg):
    health, oca = agg["health"], agg.get("oca")
    result = {}
    for key in agg:
        if key in ("health", "oca", "mass_mailing"):
            continue
        row = agg[key]
        vs_health = row["rps"] / health["rps"]
        vs_oca = row["rps"] / oca["rps"] if oca else float("nan")
        p99 = row["p99_ms"] / health["p99_ms"]
        result[key] = {
            "vs_health": vs_health, "vs_oca": vs_oca, "p99_vs_health": p99,
            "pass_health": vs_health >= SPEC_VS_HEALTH, "pass_oca": vs_oca >= SPEC_VS_OCA,
            "pass_p99": p99 <= SPEC_P99_VS_HEALTH,
        }
    return result


def pf(ok):
    return "PASS" if ok else "**FAIL**"


def markdown(report):
    agg, ver, n = report["aggregate"], report["verdicts"], report["recipients"]
    cfg = report["config"]
    health = agg["health"]
    lines = [
        f"### SPEC X1 benchmark ({report['date']}, {os.cpu_count()} CPUs, Odoo --workers "
        f"{cfg['workers']}, wrk -c{cfg['connections']} -t{cfg['threads']}, {cfg['rounds']} round(s) x "
        f"{cfg['duration']} s per route after a {cfg['warmup']} s warm-up)",
        "",
        "| route | req/s | p50 ms | p99 ms | req/s vs /web/health (>= 0.8) | vs OCA pixel (>= 2) "
        "| p99 vs /web/health (<= 1.2) | non-2xx/3xx | socket errors | 5xx |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    order = list(ROUTES) + [k for k in agg if k not in ROUTES]
    for key in order:
        if key not in agg:
            continue
        row = agg[key]
        label = ROUTES.get(key, key).format(n=n)
        if key in ver:
            v = ver[key]
            cells = (f"{v['vs_health']:.2f}x {pf(v['pass_health'])}",
                     f"{v['vs_oca']:.2f}x {pf(v['pass_oca'])}",
                     f"{v['p99_vs_health']:.2f}x {pf(v['pass_p99'])}")
            if key not in X1_SUBJECTS:
                cells = tuple(c.replace("**FAIL**", "(fail)").replace("PASS", "(pass)") for c in cells)
        else:
            cells = (f"{row['rps'] / health['rps']:.2f}x", "", f"{row['p99_ms'] / health['p99_ms']:.2f}x")
        rounds = " / ".join(f"{r:.0f}" for r in row["rounds_rps"])
        lines.append(
            f"| {label} | **{row['rps']:.0f}** ({rounds}) | {row['p50_ms']:.0f} | {row['p99_ms']:.0f} "
            f"| {cells[0]} | {cells[1]} | {cells[2]} | {row['non_2xx_3xx']} | {row['socket_errors']} "
            f"| {row['server_errors']} |")
    lines += [
        "",
        "req/s: all measured responses / all measured seconds (each round's figure in brackets); "
        "p50/p99: mean of the rounds' wrk percentiles. PASS/FAIL only for the X1 routes (valid open "
        "pixel, valid click); the other rows of ours are shown for information, in brackets.",
        "",
        "| SPEC X1 criterion | open pixel | click |",
        "|---|---|---|",
    ]
    for crit, field, fmt in (
            (f"throughput >= {SPEC_VS_HEALTH}x /web/health", "vs_health", "{:.2f}x"),
            (f"throughput >= {SPEC_VS_OCA:g}x OCA mail_tracking pixel", "vs_oca", "{:.2f}x"),
            (f"p99 <= {SPEC_P99_VS_HEALTH}x /web/health", "p99_vs_health", "{:.2f}x")):
        ok_field = {"vs_health": "pass_health", "vs_oca": "pass_oca", "p99_vs_health": "pass_p99"}[field]
        lines.append(f"| {crit} | " + " | ".join(
            f"{fmt.format(ver[k][field])} {pf(ver[k][ok_field])}" for k in X1_SUBJECTS) + " |")
    acc = report["accounting"]
    r4 = report["exact_r4"]
    lines += [
        f"| correctness (R4): every answered open/click recorded, no 5xx, no server ERROR "
        f"| {pf(acc['ok_by_key'].get('open', False) and acc['no_5xx'] and acc['log_clean'])} "
        f"| {pf(acc['ok_by_key'].get('click', False) and acc['no_5xx'] and acc['log_clean'])} |",
        "",
        "Correctness after the load (mail_tracked_event counted after every wrk run, warm-ups included):",
        "",
        "| route | runs | answered OK | requests written | events added | check |",
        "|---|---|---|---|---|---|",
    ]
    for key, row in acc["by_key"].items():
        lines.append(f"| {ROUTES.get(key, key).format(n=n)} | {row['runs']} | {row['ok_answers']} "
                     f"| {row['written']} | {row['events']} | {pf(row['ok'])} |")
    lines += [
        "",
        "wrk closes its connections at the end of a run with up to one request per connection written "
        "and not yet answered; Odoo still serves (and records) those, so a run may add up to "
        "`written - answered` events more than wrk counts as answered. "
        f"Exact check afterwards: {r4['requests']} opens and {r4['requests']} clicks of ONE recipient "
        f"from {r4['clients']} concurrent clients: statuses {r4['open_statuses']} / {r4['click_statuses']}, "
        f"events added {r4['delta']['open']} opens, {r4['delta']['click']} clicks, "
        f"{r4['delta']['inferred']} inferred: {pf(r4['ok'])}. "
        f"5xx in any run: {acc['server_errors']}; ERROR lines in the server log: {acc['log_problems']}.",
    ]
    if report.get("profile"):
        prof = report["profile"]
        lines += ["", "#### Where the HTTP workers' time goes (py-spy, our open pixel under wrk)", ""]
        if prof.get("error"):
            lines.append(f"Profile not available: {prof['error']}")
        else:
            total = prof["samples"]
            busy = total - dict(prof["buckets"]).get("worker idle: waiting for a connection", 0)
            lines += [f"{total} samples of workers {prof['workers']} ({prof['wrk']['rps']:.0f} req/s "
                      "while sampled, so slower than above).", "",
                      "| bucket | share of all samples | share of busy samples |", "|---|---|---|"]
            for label, count in prof["buckets"]:
                lines.append(f"| {label} | {100 * count / total:.1f} % "
                             f"| {'' if label.startswith('worker idle') else f'{100 * count / busy:.1f} %'} |")
            lines += ["", "Busiest leaf functions (busy samples): " + ", ".join(
                f"`{name}` {100 * count / busy:.1f} %" for name, count in prof["leaves"][:10])]
    lines += ["", f"_{report['elapsed_s']:.0f} s in all; 1-min load average {report['load'][0]:.1f} at "
              f"start, {report['load'][1]:.1f} at the end: with other work on the machine the figures "
              "move; compare rows of the same run only. Command: `make bench-x1`._"]
    return "\n".join(lines)


# -- main ----------------------------------------------------------------------------------

def main(argv=None):
    parser = argparse.ArgumentParser(description="SPEC X1 benchmark (public routes under wrk)")
    parser.add_argument("--duration", type=int, default=8, help="seconds per measured wrk run")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up before each run (0: none)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds over all routes (alternating order)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=2, help="Odoo --workers")
    parser.add_argument("--recipients", type=int, default=500, help="valid tokens per route")
    parser.add_argument("--routes", help="comma-separated subset of " + ",".join(ROUTES)
                        + " (health and oca are always kept)")
    parser.add_argument("--route", action="append", default=[], metavar="LABEL=PATH",
                        help="extra route to measure; PATH may hold {token}, {hot} or {unknown}")
    parser.add_argument("--extra-addons", help="addons directory to add to the server's addons path")
    parser.add_argument("--extra-modules", default="", help="comma-separated modules to install too")
    parser.add_argument("--r4-requests", type=int, default=300, help="exact R4 check: requests of each kind")
    parser.add_argument("--r4-clients", type=int, default=64, help="exact R4 check: concurrent clients")
    parser.add_argument("--profile", type=int, default=0, metavar="SECONDS",
                        help="then sample the workers with py-spy under load on our pixel")
    parser.add_argument("--db", help="use (and keep) this database; created if missing")
    parser.add_argument("--update", action="store_true", help="with --db: -u mail_tracking_ext first")
    parser.add_argument("--keep-db", action="store_true", help="keep the throw-away database")
    parser.add_argument("--json", help="also write all results to this JSON file")
    parser.add_argument("--paths-dir", help="keep the request paths of each route (one file per route) "
                        "in this directory, for manual wrk runs")
    args = parser.parse_args(argv)

    if not shutil.which("wrk"):
        print("wrk is not installed (Debian: apt-get install wrk)", file=sys.stderr)
        return 2
    if args.extra_addons:
        os.environ["ODOO_ADDONS_PATH"] = ",".join(rt.core_addons_paths() + [os.path.abspath(args.extra_addons)])
    extra_routes = [tuple(spec.split("=", 1)) for spec in args.route]
    extra_modules = [m for m in args.extra_modules.split(",") if m]
    keys = list(ROUTES) if not args.routes else \
        ["health"] + [k for k in args.routes.split(",") if k in ROUTES and k not in ("health", "oca")] + ["oca"]
    keys += [label for label, _path in extra_routes]

    start, load_start = time.perf_counter(), os.getloadavg()[0]
    db = args.db or f"mtx_x1_{os.getpid()}"
    prepare_database(db, reuse=bool(args.db), update=args.update, extra_modules=extra_modules)
    tmp = tempfile.mkdtemp(prefix="mtx_x1_")
    if args.paths_dir:
        os.makedirs(args.paths_dir, exist_ok=True)
    server = None
    try:
        data = create_fixtures(db, args.recipients)
        lists = path_lists(db, data, extra_routes)
        files = {}
        for key, paths in lists.items():
            files[key] = os.path.join(args.paths_dir or tmp, f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', key)}.txt")
            with open(files[key], "w", encoding="utf-8") as fh:
                fh.write("\n".join(paths) + "\n")

        server = rt.OdooServer(db, workers=args.workers, extra_oca=True, log_level="warn",
                               extra_args=["--max-cron-threads", "0"]).start()
        log(f"server {server.url} (workers {http_workers(server)}), database {db}")

        runs, accounting = [], []
        counts = event_counts(db)

        def one_run(key, seconds, measured, round_no):
            nonlocal counts
            result = run_wrk(server.url, files[key], seconds, args.connections, args.threads)
            wait_idle(server.url)
            new_counts = event_counts(db)
            delta = {k: new_counts[k] - counts[k] for k in counts}
            counts = new_counts
            ok, note = check_events(key, result, delta)
            accounting.append({"key": key, "measured": measured, "round": round_no, "delta": delta,
                               "ok": ok, "note": note, "statuses": result["statuses"],
                               "sent": result["sent"], "responses": result["responses"]})
            if measured:
                runs.append(dict(result, key=key, round=round_no))
                log(f"round {round_no} {key:<13} {result['rps']:7.1f} req/s  p50 {result['p50_ms']:6.1f} ms  "
                    f"p99 {result['p99_ms']:6.1f} ms  statuses {result['statuses']}  "
                    f"socket errors {result['socket_errors']}  events: {note}{'' if ok else '  <-- CHECK FAILED'}")

        for round_no in range(1, args.rounds + 1):
            for key in (keys if round_no % 2 else list(reversed(keys))):
                if args.warmup:
                    one_run(key, args.warmup, False, round_no)
                one_run(key, args.duration, True, round_no)

        r4 = exact_r4_check(server.url, db, lists, args.r4_requests, args.r4_clients)
        log(f"exact R4 check: {r4}")
        counts = event_counts(db)
        prof = None
        if args.profile:
            prof = profile(server, files["open"], args.profile, args.connections, args.threads)
            if "buckets" in prof:
                log(f"profile: {prof['buckets']}")
            else:
                log(f"profile: {prof}")
        server.stop()
        problems = rt.log_problems(server.log_text())

        by_key = {}
        for acc in accounting:
            row = by_key.setdefault(acc["key"], {"runs": 0, "ok_answers": 0, "written": 0, "events": 0, "ok": True})
            row["runs"] += 1
            row["written"] += acc["sent"]
            row["ok_answers"] += sum(c for s, c in acc["statuses"].items() if s[0] in "23")
            row["events"] += acc["delta"]["open"] + acc["delta"]["click"]
            row["ok"] = row["ok"] and acc["ok"]
        server_errors = sum(sum(c for s, c in a["statuses"].items() if s.startswith("5")) for a in accounting)
        agg = aggregate(runs)
        report = {
            "date": time.strftime("%Y-%m-%d %H:%M"),
            "config": {k: getattr(args, k) for k in ("duration", "warmup", "rounds", "connections",
                                                     "threads", "workers")},
            "recipients": args.recipients,
            "runs": runs,
            "aggregate": agg,
            "verdicts": verdicts(agg),
            "accounting": {
                "runs": accounting, "by_key": by_key,
                "ok_by_key": {k: v["ok"] for k, v in by_key.items()},
                "server_errors": server_errors, "no_5xx": server_errors == 0 and not any(
                    c.startswith("5") for s in (r4["open_statuses"], r4["click_statuses"]) for c in map(str, s)),
                "log_problems": len(problems), "log_clean": not problems,
            },
            "exact_r4": r4,
            "profile": prof,
            "elapsed_s": time.perf_counter() - start,
            "load": (load_start, os.getloadavg()[0]),
        }
        if problems:
            log("ERROR lines in the server log:\n" + "\n".join(problems[:60]))
        print(markdown(report))
        if args.json:
            with open(args.json, "w", encoding="utf-8") as fh:
                json.dump(report, fh, indent=2, default=str)
        verified = (all(v["ok"] for v in by_key.values()) and r4["ok"] and report["accounting"]["no_5xx"]
                    and not problems)
        return 0 if verified else 1
    finally:
        if server:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
        if not args.db and not args.keep_db:
            rt.drop_db(db)


if __name__ == "__main__":
    sys.exit(main())
