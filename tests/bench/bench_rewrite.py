#!/usr/bin/env python3
"""X2 (second half): time ``rewrite_links`` + ``add_open_pixel`` on big bodies.

SPEC X2: "rewriting a 100 KB body with 100 links takes under 5 ms".

No database and no Odoo import: the addon's pure ``tools`` package is loaded
straight from its files. Measures, per body, N timed runs (after a warm-up)
of exactly what ``mail.mail._track_copies`` does once per
distinct body: ``rewrite_links(body, base_url, click_url)`` then
``add_open_pixel(new_body, pixel_url)``. Reports wall-clock median / p95 / min and the thread's CPU-time median / p95;
the SPEC verdict uses CPU time (immune to other processes on a busy machine).

    python3 tests/bench/bench_rewrite.py [--runs 200] [--json FILE]
"""

import argparse
import importlib.util
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
TOOLS_DIR = os.path.join(REPO_ROOT, "addons", "mail_tracking_ext", "tools")
sys.path.insert(0, HERE)

import x2_bodies  # noqa: E402

BASE_URL = "https://odoo.example.com"
PLACEHOLDER = "mtxtoken0123456789abcdef"
SPEC_LIMIT_MS = 5.0

# (label, target bytes, trackable links, full document?)
CASES = (
    ("100 KB document, 100 links", 100 * 1024, 100, True),
    ("10 KB fragment, 100 links", 10 * 1024, 100, False),
)


def load_tools():
    """Import addons/mail_tracking_ext/tools as a stand-alone package (its modules are pure)."""
    name = "mtx_bench_tools"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(
        name, os.path.join(TOOLS_DIR, "__init__.py"), submodule_search_locations=[TOOLS_DIR])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def percentile(sorted_values, pct):
    """Nearest-rank percentile of an already sorted list."""
    rank = max(1, -(-len(sorted_values) * pct // 100))  # ceil
    return sorted_values[int(rank) - 1]


def time_case(tools, body, n_links, runs, warmup):
    click_url = lambda ref: f"{BASE_URL}/email-tracking/click/{PLACEHOLDER}/{ref}"  # noqa: E731
    pixel_url = f"{BASE_URL}/email-tracking/open/{PLACEHOLDER}.gif"

    def once():
        new_body, links = tools.rewrite_links(body, BASE_URL, click_url)
        return tools.add_open_pixel(new_body, pixel_url), links

    # correctness first: a fast no-op would be a meaningless figure
    new_body, links = once()
    assert len(links) == n_links, f"expected {n_links} rewritten links, got {len(links)}"
    assert new_body.count("/email-tracking/click/") == n_links
    assert new_body.count("/email-tracking/open/") == 1
    assert "mailto:info@example.com" in new_body and "Grüße" in new_body

    for _ in range(warmup):
        once()
    timings, cpu_timings = [], []
    for _ in range(runs):
        start, cpu_start = time.perf_counter(), time.thread_time()
        once()
        cpu_timings.append((time.thread_time() - cpu_start) * 1000.0)
        timings.append((time.perf_counter() - start) * 1000.0)
    timings.sort()
    cpu_timings.sort()
    return {
        "median_ms": statistics.median(timings),
        "p95_ms": percentile(timings, 95),
        "min_ms": timings[0],
        "max_ms": timings[-1],
        # CPU time of this thread: what the code costs, without the waits a busy machine adds
        "cpu_median_ms": statistics.median(cpu_timings),
        "cpu_p95_ms": percentile(cpu_timings, 95),
        "runs": runs,
    }


def run(runs=200, warmup=20):
    tools = load_tools()
    results = []
    for label, size, n_links, document in CASES:
        body = x2_bodies.email_html(size, n_links, document=document)
        stats = time_case(tools, body, n_links, runs, warmup)
        stats.update(label=label, body_kib=len(body.encode()) / 1024, links=n_links, document=document)
        results.append(stats)
    return results


def verdict(result):
    """SPEC X2 applies to the 100 KB case. Judged on the thread's CPU time: for this pure
    in-memory function it equals wall time on an idle machine, and other processes on a
    busy one do not change it. Wall-clock figures are shown beside it."""
    if not result["label"].startswith("100 KB"):
        return ""
    if result["cpu_p95_ms"] < SPEC_LIMIT_MS:
        return "met (CPU median and p95)"
    if result["cpu_median_ms"] < SPEC_LIMIT_MS:
        return "met on CPU median, p95 over"
    return "**not met**"


def markdown(results):
    lines = [
        f"| rewrite_links + add_open_pixel | body | median | p95 | min | CPU median | CPU p95 "
        f"| SPEC X2 (< {SPEC_LIMIT_MS:g} ms) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['label']} ({r['runs']} runs) | {r['body_kib']:.1f} KiB | {r['median_ms']:.2f} ms "
            f"| {r['p95_ms']:.2f} ms | {r['min_ms']:.2f} ms | {r['cpu_median_ms']:.2f} ms "
            f"| {r['cpu_p95_ms']:.2f} ms | {verdict(r)} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    results = run(args.runs, args.warmup)
    print(markdown(results))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
