"""R7 with a real PostgreSQL that goes away: a throw-away cluster of its own
(``devtools.postgres.throwaway_cluster``, never the machine's server), a real Odoo
on it (``--workers 2``, not in test mode: the fast path answers the tracking
routes), the standalone edge beside it, tracked emails delivered through a real
SMTP catcher, and client threads opening and clicking them while the cluster
is restarted (``pg_ctl restart -m fast``, then ``-m immediate``).

Every request carries its number in its User-Agent (``mtxreq/<n>``): the events
stored are matched to the requests one by one, so "answered, hence recorded
exactly once" is checked per request, not per total. Used by
``tests/test_db_faults.py`` (the quick version, in ``make test``) and
``tests/bench/bench_reliability.py`` (the figures, ``make bench-reliability``).
"""
import contextlib
import http.client
import itertools
import os
import subprocess
import tempfile
import threading
import time
import urllib.parse

from devtools import odoo_runtime as rt
from devtools.mail_catcher import MailCatcher

from e2e_crm import PIXEL, create_salesperson, delivered_ago, html_part, to_of, unfollow_admin, visible_links

BROWSER = "Mozilla/5.0 (Windows NT 10.0; rv:128.0) Gecko/20100101 Thunderbird/128.3.0"
REQUEST_MARK = "mtxreq/"
# Requests of one copy in a row: its first open, first click and repeats fall at every
# moment of the run, outages included (a state moves while the database goes away).
REQUESTS_PER_COPY = 6
# Where the first link of e2e_crm.BODY leads; the runs click only it: three links of one copy
# within seconds would be a gateway's (A3), and re-classified.
FIRST_LINK = "https://shop.example/first"
# Request numbers, never twice in a process (runs one after the other on one database)
_NUMBERS = itertools.count(1)


@contextlib.contextmanager
def on_cluster(cluster):
    """``devtools.odoo_runtime`` (and the Odoo servers it starts) on ``cluster`` for the block."""
    keys = ("ODOO_DB_HOST", "ODOO_DB_PORT", "ODOO_DB_USER", "ODOO_DB_PASSWORD")
    saved = {key: os.environ.get(key) for key in keys}
    os.environ.update(ODOO_DB_HOST="127.0.0.1", ODOO_DB_PORT=str(cluster.port), ODOO_DB_USER="odoo",
                      ODOO_DB_PASSWORD="")
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def copy_to_cluster(source, cluster, target):
    """Database ``source`` of the current server (and its filestore) as ``target`` on ``cluster``:
    seconds, where installing the addon again takes a minute."""
    params = rt.db_params()
    dump = [os.path.join(cluster.bin, "pg_dump"), "-Fc", "--no-owner", "--no-acl", "-h", params["host"],
            "-p", str(params["port"]), *(["-U", params["user"]] if params["user"] else []), source]
    with tempfile.NamedTemporaryFile(suffix=".dump") as file:
        subprocess.run(dump, stdout=file, check=True, env=dict(os.environ, PGPASSWORD=params["password"] or ""))
        with on_cluster(cluster):
            rt.create_db(target)
        subprocess.run([os.path.join(cluster.bin, "pg_restore"), "--no-owner", "--no-acl", "-h", "127.0.0.1",
                        "-p", str(cluster.port), "-U", "odoo", "-d", target, file.name], check=True)
    if os.path.isdir(rt.filestore_dir(source)):
        subprocess.run(["cp", "-a", rt.filestore_dir(source), rt.filestore_dir(target)], check=True)


def install_on_cluster(cluster, target):
    """The addon installed on a new database ``target`` of ``cluster`` (no demo data)."""
    with on_cluster(cluster):
        rc, log = rt.install(target, rt.MODULE, demo=False)
    rt.assert_clean_run(rc, log, f"installing {rt.MODULE} on {target}")


@contextlib.contextmanager
def tracked_site(cluster, db, contacts=60, edge_workers=2):
    """Odoo (2 workers) and the edge (``edge_workers``, 0: none) serving ``db`` on ``cluster``,
    with one tracked email delivered an hour ago to ``contacts`` contacts; yields
    ``(odoo, edge, copies)``, a copy being ``(pixel path, click path, the click's target)``."""
    with on_cluster(cluster), MailCatcher(smtp_port=0, http_port=-1) as catcher:
        rt.query(db, "UPDATE ir_mail_server SET active = false")
        odoo = rt.OdooServer(db, workers=2, smtp_port=catcher.smtp_port, extra_args=["--max-cron-threads", "0"])
        rt.query(db, "UPDATE ir_config_parameter SET value = %s WHERE key = 'web.base.url'", (odoo.url,))
        edge = rt.EdgeServer(db, workers=edge_workers) if edge_workers else None
        try:
            odoo.start()
            sales = create_salesperson(odoo, "faultsales")
            partners = odoo.rpc("res.partner", "create", [
                {"name": f"Fault contact {index:03d}", "email": f"fault{index:03d}@customer.example"}
                for index in range(contacts)])
            lead = odoo.rpc("crm.lead", "create", {"name": "Faults", "type": "opportunity",
                                                    "user_id": odoo.login("faultsales", "faultsales-pw")})
            unfollow_admin(odoo, lead)
            catcher.clear()  # the salesperson's "assigned to you" email
            message_id = sales.post(lead, partners)
            delivered_ago(db, message_id)
            copies = []
            for message in sorted(catcher.wait_for(contacts, timeout=120), key=to_of):
                body = html_part(message)
                (link, _token, _ref), *_others = visible_links(body)
                copies.append((path_of(PIXEL.search(body).group(1)), path_of(link), FIRST_LINK))
            if edge:
                edge.start()
            yield odoo, edge, copies
        finally:
            for server in (edge, odoo):
                if server:
                    server.stop()


def path_of(url):
    parts = urllib.parse.urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


class Traffic:
    """Client threads requesting the copies' pixels and links, one request after the
    other each, a connection per request, until stopped; every request remembered:
    ``{n, target, kind, copy, start, end, status, acknowledged}``."""

    def __init__(self, targets, copies, timeout=30):
        self.targets = targets  # [(name, base url, threads)]
        self.copies = copies
        self.timeout = timeout
        self.requests = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = []

    def start(self):
        for name, url, threads in self.targets:
            for _index in range(threads):
                thread = threading.Thread(target=self._client, args=(name, url), daemon=True)
                thread.start()
                self._threads.append(thread)
        return self

    def stop(self):
        self._stop.set()
        for thread in self._threads:
            thread.join(self.timeout + 5)

    def _client(self, name, url):
        host, port = urllib.parse.urlsplit(url).netloc.split(":")
        while not self._stop.is_set():
            with self._lock:
                number = next(_NUMBERS)
            copy = (number // REQUESTS_PER_COPY) % len(self.copies)
            pixel, click, target = self.copies[copy]
            kind = "click" if number % 3 == 2 else "open"
            request = {"n": number, "target": name, "kind": kind, "copy": copy, "start": time.monotonic()}
            status, location, content_type = None, None, None
            connection = http.client.HTTPConnection(host, int(port), timeout=self.timeout)
            try:
                connection.request("GET", click if kind == "click" else pixel, headers={
                    "User-Agent": f"{BROWSER} {REQUEST_MARK}{number}", "Connection": "close"})
                response = connection.getresponse()
                response.read()
                status, location = response.status, response.getheader("Location")
                content_type = response.getheader("Content-Type")
            except (OSError, http.client.HTTPException) as error:
                status = f"socket error: {error.__class__.__name__}"
            finally:
                connection.close()
            request.update(end=time.monotonic(), status=status, acknowledged=(
                status == 200 and content_type == "image/gif" if kind == "open"
                else status == 302 and location == target))
            with self._lock:
                self.requests.append(request)
            time.sleep(0.005)


def events_per_request(db):
    """{request number: events recorded for it} (the inferred opens a click adds are not its own)."""
    return dict(rt.query(db, r"""
        SELECT substring(user_agent FROM 'mtxreq/(\d+)')::integer, count(*) FROM mail_tracked_event
         WHERE user_agent LIKE '%%mtxreq/%%' AND NOT is_inferred GROUP BY 1"""))


def inconsistent_recipients(db):
    """Recipients whose state is not what their counted events make it (a state without its
    event, or an event without its state): ``[(id, state, derived state)]``."""
    return rt.query(db, """
        SELECT r.id, r.state, d.state FROM mail_tracked_recipient r
          JOIN LATERAL (
                SELECT CASE WHEN bool_or(e.event_type = 'click' AND e.is_counted) THEN 'clicked'
                            WHEN bool_or(e.event_type = 'open' AND e.is_counted) OR r.replied_date IS NOT NULL
                            THEN 'opened' ELSE 'sent' END AS state
                  FROM mail_tracked_event e WHERE e.recipient_id = r.id) d ON true
         WHERE r.state IS DISTINCT FROM d.state""")


def run_faults(cluster, odoo, edge, copies, modes=("fast", "immediate"), before=3.0, after=4.0,
               odoo_threads=4, edge_threads=2):
    """Traffic on Odoo (and the edge) for ``before`` seconds, then for each mode of ``modes``
    a restart of the cluster followed by ``after`` seconds of traffic; returns
    ``(requests, faults)``, a fault being ``{mode, start, ready}`` (monotonic clock)."""
    targets = [("odoo", odoo.url, odoo_threads)] + ([("edge", edge.url, edge_threads)] if edge else [])
    traffic = Traffic(targets, copies).start()
    faults = []
    try:
        time.sleep(before)
        for mode in modes:
            start = time.monotonic()
            cluster.restart(mode)
            faults.append({"mode": mode, "start": start, "ready": time.monotonic()})
            time.sleep(after)
    finally:
        traffic.stop()
    return sorted(traffic.requests, key=lambda request: request["n"]), faults


def analyse(db, requests, faults, targets=("odoo", "edge")):
    """The figures of a run, per fault and target, over the requests of the fault's window
    (from halfway since the previous fault to halfway to the next one): requests,
    those that overlapped the outage, answered and recorded, lost (acknowledged, not
    recorded), recorded twice, the slowest answer during the outage and how long
    after the server was back the target still failed (recovery)."""
    events = events_per_request(db)
    for request in requests:
        request["events"] = events.get(request["n"], 0)
    bounds = [(a["ready"] + b["start"]) / 2 for a, b in itertools.pairwise(faults)]
    windows = zip([float("-inf"), *bounds], [*bounds, float("inf")], strict=True)
    figures = []
    for fault, (since, until) in zip(faults, windows, strict=True):
        for target in targets:
            mine = [r for r in requests if r["target"] == target and since <= r["start"] < until]
            if not mine:
                continue
            during = [r for r in mine if r["start"] <= fault["ready"] and r["end"] >= fault["start"]]
            failures = [r for r in mine if r["start"] >= fault["start"] and not r["acknowledged"]]
            recovered = max((r["end"] for r in failures), default=fault["start"])
            lost = [r for r in mine if r["acknowledged"] and not r["events"]]
            figures.append({
                "mode": fault["mode"], "target": target, "outage_s": fault["ready"] - fault["start"],
                "requests": len(mine), "during": len(during),
                "acknowledged": sum(r["acknowledged"] for r in mine),
                "failed": len(mine) - sum(r["acknowledged"] for r in mine),
                "failed_statuses": sorted({str(r["status"]) for r in mine if not r["acknowledged"]}),
                "recorded": sum(r["events"] for r in mine),
                "lost": [r["n"] for r in lost],
                # how long before the fault each lost request had been answered
                "lost_before_fault_ms": [round((fault["start"] - r["end"]) * 1000) for r in lost],
                "twice": [r["n"] for r in mine if r["events"] > 1],
                "failed_but_recorded": sum(1 for r in mine if not r["acknowledged"] and r["events"]),
                "max_latency_during_s": max((r["end"] - r["start"] for r in during), default=0.0),
                "max_latency_s": max(r["end"] - r["start"] for r in mine),
                "recovery_s": max(0.0, recovered - fault["ready"]),
                "acknowledged_after": sum(r["acknowledged"] for r in mine if r["start"] > recovered),
            })
    return figures
