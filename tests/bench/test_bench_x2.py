"""`make bench` entry for SPEC X2: runs tests/bench/run_x2.py and shows its markdown.

A measurement, not a timed pass/fail test: it fails only when the benchmark
cannot run or cannot verify what it sent (see bench_send.verify). Extra
arguments for run_x2.py can be given in MTX_X2_ARGS (e.g. "--mails 300").
"""

import os
import shlex
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def test_x2(capsys):
    cmd = [sys.executable, os.path.join(HERE, "run_x2.py"), *shlex.split(os.environ.get("MTX_X2_ARGS", ""))]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    with capsys.disabled():
        print("\n" + proc.stdout)
    assert proc.returncode == 0, f"run_x2.py exit code {proc.returncode}:\n{proc.stderr[-5000:]}"
