"""`make bench`: runs each SPEC benchmark script and shows its markdown.

Measurements, not timed pass/fail tests: one fails only when its benchmark
cannot run or cannot verify what it measured (X1: an answered open or click not
recorded, a 5xx, an ERROR in the server log, SPEC R4; X2: a mail not delivered
or tracked wrongly; X3: its database could not be built). Extra arguments for a
script go in its environment variable, e.g. MTX_X1_ARGS="--rounds 1 --duration 5",
MTX_X2_ARGS="--mails 300", MTX_X3_ARGS="--emails 1000".
"""

import os
import shlex
import shutil
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.mark.parametrize(("script", "args_variable", "timeout"), [
    pytest.param("bench_routes.py", "MTX_X1_ARGS", 1800, id="x1", marks=pytest.mark.skipif(
        not shutil.which("wrk"), reason="wrk is not installed (apt-get install wrk)")),
    pytest.param("run_x2.py", "MTX_X2_ARGS", 900, id="x2"),
    pytest.param("bench_x3.py", "MTX_X3_ARGS", 900, id="x3"),
])
def test_benchmark(script, args_variable, timeout, capsys):
    cmd = [sys.executable, os.path.join(HERE, script), *shlex.split(os.environ.get(args_variable, ""))]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    with capsys.disabled():
        print("\n" + proc.stdout)
    assert proc.returncode == 0, f"{script} exit code {proc.returncode}:\n{proc.stderr[-5000:]}"
