"""`make bench` entry for SPEC X1: runs tests/bench/bench_routes.py and shows its markdown.

A measurement, not a timed pass/fail test: it fails only when the benchmark
cannot run or finds a correctness problem under load (an answered open or
click not recorded, a 5xx, an ERROR in the server log: SPEC R4). Extra
arguments for bench_routes.py can be given in MTX_X1_ARGS (e.g.
"--rounds 1 --duration 5").
"""

import os
import shlex
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.mark.skipif(not shutil.which("wrk"), reason="wrk is not installed (apt-get install wrk)")
def test_x1(capsys):
    cmd = [sys.executable, os.path.join(HERE, "bench_routes.py"), *shlex.split(os.environ.get("MTX_X1_ARGS", ""))]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    with capsys.disabled():
        print("\n" + proc.stdout)
    assert proc.returncode == 0, f"bench_routes.py exit code {proc.returncode}:\n{proc.stderr[-5000:]}"
