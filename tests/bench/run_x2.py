#!/usr/bin/env python3
"""SPEC X2 in one command: the rewrite micro-benchmark, then the send benchmark.

Prints progress on stderr and, on stdout, markdown ready for the README: a
summary table against SPEC X2, then the detail tables. A measurement, not a
pass/fail test: the exit code is non-zero only when a run could not be
verified (sink did not get every message, tracking missing/extra...).

    python3 tests/bench/run_x2.py [--mails 1000] [--rounds 2] [--runs 200] [--profile N] [--json FILE]
    make bench-x2 ARGS="--profile 300"
"""

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import bench_rewrite  # noqa: E402
import bench_send  # noqa: E402


def summary_table(rewrite, send):
    big = next(r for r in rewrite if r["label"].startswith("100 KB"))
    s = send["summary"]
    u, t = s["untracked"], s["tracked"]
    n = send["runs"][0]["mails"]
    rounds = len(send["runs"]) // 2
    return "\n".join([
        "| SPEC X2 | measured | target | verdict |",
        "|---|---|---|---|",
        f"| rewrite_links + add_open_pixel, {big['body_kib']:.0f} KiB body, {big['links']} links "
        f"| CPU median {big['cpu_median_ms']:.2f} ms, p95 {big['cpu_p95_ms']:.2f} ms; wall median "
        f"{big['median_ms']:.2f} ms, p95 {big['p95_ms']:.2f} ms ({big['runs']} runs) "
        f"| < {bench_rewrite.SPEC_LIMIT_MS:g} ms | {bench_rewrite.verdict(big)} |",
        f"| send {n:,} mails untracked (best of {rounds}) | {u['best_ms_per_mail']:.2f} ms/mail "
        f"({u['best_ms_per_mail'] * n / 1000:.1f} s) | | |",
        f"| send {n:,} mails tracked (best of {rounds}) | {t['best_ms_per_mail']:.2f} ms/mail "
        f"({t['best_ms_per_mail'] * n / 1000:.1f} s) | | |",
        f"| tracked / untracked | **{s['ratio']:.2f}x** wall (mean {s['ratio_mean']:.2f}x, "
        f"CPU {s['ratio_cpu']:.2f}x) | <= {bench_send.SPEC_MAX_RATIO}x "
        f"| {'met' if s['spec_met'] else '**not met**'} |",
    ])


def main(argv=None):
    parser = argparse.ArgumentParser(description="SPEC X2 benchmark (rewrite + send)")
    parser.add_argument("--runs", type=int, default=200, help="rewrite: timed runs per body")
    parser.add_argument("--mails", type=int, default=1000, help="send: mails per timed run")
    parser.add_argument("--rounds", type=int, default=2, help="send: (untracked, tracked) pairs")
    parser.add_argument("--warmup", type=int, default=50, help="send: mails per warm-up run of each mode")
    parser.add_argument("--db", help="send: use this spare database instead of a throw-away one (updated "
                        "first; its other mail servers get archived)")
    parser.add_argument("--no-update", action="store_true", help="send: with --db, skip -u mail_tracking_ext")
    parser.add_argument("--keep-db", action="store_true", help="send: keep the throw-away database")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="send: add a cProfile'd tracked run of N mails (hot spots in mail_tracking_ext)")
    parser.add_argument("--json", help="also write all results to this JSON file")
    args = parser.parse_args(argv)

    start, load_start = time.perf_counter(), os.getloadavg()[0]
    rewrite = bench_rewrite.run(args.runs)
    bench_send.log("rewrite benchmark done")
    send = bench_send.run(args.mails, args.rounds, args.warmup, args.db, args.keep_db, args.profile,
                          args.no_update)
    elapsed = time.perf_counter() - start

    print(f"### SPEC X2 benchmark ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs, "
          f"python {sys.version.split()[0]})\n")
    print(summary_table(rewrite, send))
    print()
    print(bench_rewrite.markdown(rewrite))
    print()
    print(bench_send.markdown(send["runs"], send["summary"]))
    if "profile" in send:
        bench_send.print_profile(send["profile"])
    print(f"\n_Total benchmark time {elapsed:.0f} s; 1-min load average {load_start:.1f} at start, "
          f"{os.getloadavg()[0]:.1f} at the end (wall-clock figures are only comparable on an idle "
          f"machine; the CPU ratio is steadier). Command: `make bench-x2`._")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"rewrite": rewrite, "send": send, "elapsed_s": elapsed}, fh, indent=2, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
