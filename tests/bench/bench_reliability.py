#!/usr/bin/env python3
"""SPEC R7 with figures: PostgreSQL restarted in the middle of a burst of opens
and clicks (tests/db_faults.py says how it is built and checked).

1. a throw-away PostgreSQL cluster in a temporary directory, on a free port
   (never the machine's server), with ``mail_tracking_ext`` installed (or a copy
   of ``--source-db`` from the usual server);
2. Odoo there (``--workers 2``, the fast path answers the tracking routes) and
   the standalone edge (``--edge-workers``), one tracked email delivered an hour
   ago to ``--contacts`` contacts through a real SMTP catcher;
3. client threads (``--odoo-threads`` on Odoo, ``--edge-threads`` on the edge)
   request the copies' pixels and first links one after the other, each copy
   in turn (its first open and click fall anywhere in the run), every request
   numbered in its User-Agent; after ``--before`` seconds the cluster is
   restarted with ``pg_ctl restart -m fast``, ``--after`` seconds later with
   ``-m immediate`` (a crash: the server killed, WAL replayed at start), for
   ``--rounds`` rounds;
4. prints, per fault and target: the requests of the fault's window, those that
   met the outage, answered, recorded, lost (answered but not recorded), recorded
   twice, failed but recorded, the slowest answer during the outage, the time
   the target kept failing once PostgreSQL accepted connections again (recovery);
   whether every recipient's state is what its events make it; and what the
   recording connections' ``synchronous_commit = off`` saves per commit on this
   disk (the recorder's INSERT, committed with and without waiting for the flush).

Exit code 1 when an acknowledged request is lost in a clean restart (``-m
fast``), a request is recorded twice, a state and its events disagree, or a
target hangs or does not recover.

    make bench-reliability
    make bench-reliability ARGS="--rounds 3 --after 10 --json /tmp/r7.json"
"""
import argparse
import json
import os
import shutil
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path[:0] = [REPO_ROOT, os.path.dirname(HERE)]

from db_faults import (  # noqa: E402
    analyse,
    copy_to_cluster,
    inconsistent_recipients,
    install_on_cluster,
    on_cluster,
    run_faults,
    tracked_site,
)

from devtools import odoo_runtime as rt  # noqa: E402
from devtools import postgres  # noqa: E402

FAIL_FAST_SECONDS = 5
RECOVERY_SECONDS = 10


def log(message):
    print(f"[bench_reliability {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def commit_cost(db, seconds=3, threads=4):
    """Commits per second of a one-row INSERT like the recorder's, from ``threads``
    connections, with ``synchronous_commit`` on and off: what waiting for the WAL
    flush costs on this disk."""
    rt.query(db, "CREATE TABLE IF NOT EXISTS mtx_commit_probe (id serial, at timestamp, agent varchar)")
    result = {}
    for setting in ("on", "off"):
        counts = []

        def work(setting=setting, counts=counts):
            connection = rt.connect(db)
            connection.autocommit = False
            done, until = 0, time.monotonic() + seconds
            with connection.cursor() as cr:
                cr.execute(f"SET synchronous_commit = {setting}")
                connection.commit()
                while time.monotonic() < until:
                    cr.execute("INSERT INTO mtx_commit_probe (at, agent) VALUES (now(), 'probe')")
                    connection.commit()
                    done += 1
            connection.close()
            counts.append(done)

        workers = [threading.Thread(target=work) for _index in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        result[setting] = sum(counts) / seconds
    rt.query(db, "DROP TABLE mtx_commit_probe")
    return result


def markdown(report):
    lines = ["### R7: PostgreSQL restarted during a burst of opens and clicks", "",
             f"Odoo `--workers 2` (fast path) with {report['config']['odoo_threads']} client threads, the edge "
             f"({report['config']['edge_workers']} gunicorn workers) with {report['config']['edge_threads']}; "
             f"{report['config']['contacts']} tracked copies, each opened and clicked in turn; a private "
             "cluster restarted with `pg_ctl restart` in the middle.", "",
             "| round | restart | target | requests | during outage | answered | recorded | lost | twice "
             "| failed, recorded anyway | max latency during outage | outage | recovery after it |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for round_no, figures in enumerate(report["rounds"], 1):
        for row in figures:
            lines.append(
                f"| {round_no} | `-m {row['mode']}` | {row['target']} | {row['requests']} | {row['during']} "
                f"| {row['acknowledged']} | {row['recorded']} | {len(row['lost'])} | {len(row['twice'])} "
                f"| {row['failed_but_recorded']} | {row['max_latency_during_s'] * 1000:.0f} ms "
                f"| {row['outage_s']:.1f} s | {row['recovery_s']:.1f} s |")
    lost = [(row["mode"], row["target"], ms) for figures in report["rounds"] for row in figures
            for ms in row["lost_before_fault_ms"]]
    lines += ["", "Lost: answered 200/302 and not in the database after the restart. "
              + (("Answered this long before the crash: " + ", ".join(
                  f"{ms} ms ({target}, `-m {mode}`)" for mode, target, ms in lost) + ".") if lost else "None."),
              f"Failures seen by the clients: {', '.join(report['failed_statuses']) or 'none'}.",
              f"Recipients whose state disagrees with their events: {len(report['inconsistent'])}.",
              "", f"Commits per second of a one-row INSERT from 4 connections on this cluster: "
              f"{report['commits']['on']:.0f} with `synchronous_commit = on`, {report['commits']['off']:.0f} "
              f"with `off` (the recording connections' setting), i.e. "
              f"{1000 * 4 / report['commits']['on']:.1f} ms against {1000 * 4 / report['commits']['off']:.1f} ms "
              "per commit.", "", f"_{report['elapsed_s']:.0f} s in all. Command: `make bench-reliability`._"]
    return "\n".join(lines)


def verdict(report):
    problems = []
    for figures in report["rounds"]:
        for row in figures:
            what = f"{row['target']} -m {row['mode']}"
            if row["mode"] == "fast" and row["lost"]:
                problems.append(f"{what}: {len(row['lost'])} acknowledged requests lost")
            if row["twice"]:
                problems.append(f"{what}: {len(row['twice'])} requests recorded twice")
            if row["max_latency_during_s"] >= FAIL_FAST_SECONDS:
                problems.append(f"{what}: {row['max_latency_during_s']:.1f} s to answer during the outage")
            if row["recovery_s"] >= RECOVERY_SECONDS or not row["acknowledged_after"]:
                problems.append(f"{what}: no recovery within {RECOVERY_SECONDS} s")
    if report["inconsistent"]:
        problems.append(f"{len(report['inconsistent'])} recipients' states disagree with their events")
    return problems


def main(argv=None):
    parser = argparse.ArgumentParser(description="SPEC R7: PostgreSQL restarts during opens and clicks")
    parser.add_argument("--contacts", type=int, default=60, help="tracked copies")
    parser.add_argument("--odoo-threads", type=int, default=6)
    parser.add_argument("--edge-threads", type=int, default=3)
    parser.add_argument("--edge-workers", type=int, default=2)
    parser.add_argument("--before", type=float, default=5, help="seconds of traffic before the first restart")
    parser.add_argument("--after", type=float, default=8, help="seconds of traffic after each restart")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of a fast then an immediate restart")
    parser.add_argument("--source-db", help="copy this database of the usual server (the addon installed) "
                        "instead of installing the addon on the private cluster")
    parser.add_argument("--json", help="also write all results to this JSON file")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    db = "mtx_reliability"
    with postgres.throwaway_cluster() as cluster:
        log(f"private cluster on 127.0.0.1:{cluster.port} ({cluster.directory})")
        if args.source_db:
            copy_to_cluster(args.source_db, cluster, db)
        else:
            install_on_cluster(cluster, db)
        log(f"database {db} ready")
        rounds, statuses = [], set()
        try:
            with tracked_site(cluster, db, args.contacts, args.edge_workers) as (odoo, edge, copies):
                for round_no in range(1, args.rounds + 1):
                    requests, faults = run_faults(cluster, odoo, edge, copies, before=args.before, after=args.after,
                                                  odoo_threads=args.odoo_threads, edge_threads=args.edge_threads)
                    with on_cluster(cluster):
                        figures = analyse(db, requests, faults)
                    statuses |= {status for row in figures for status in row["failed_statuses"]}
                    rounds.append(figures)
                    for row in figures:
                        log(f"round {round_no}: " + json.dumps(
                            {key: len(value) if key in ("lost", "twice") else value for key, value in row.items()}))
            with on_cluster(cluster):
                inconsistent = inconsistent_recipients(db)
                commits = commit_cost(db)
        finally:
            shutil.rmtree(rt.filestore_dir(db), ignore_errors=True)
    report = {"config": vars(args), "rounds": rounds, "inconsistent": inconsistent, "commits": commits,
              "failed_statuses": sorted(statuses), "elapsed_s": time.perf_counter() - start}
    print(markdown(report))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as file:
            json.dump(report, file, indent=2, default=str)
    problems = verdict(report)
    for problem in problems:
        log(f"CHECK FAILED: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
