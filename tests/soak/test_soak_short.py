"""The soak harness's short run (issue 15): ~20 s of load with faults, then every end check.
The full run is `make soak`; this one keeps the harness honest inside `make test`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LINES = ("ops", "ops/s", "p50 ms", "p99 ms", "faults injected", "violations")


def test_short_soak_keeps_every_promise() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOPANEL_")}
    env["SOAK_SECONDS"] = "20"
    proc = subprocess.run(
        [sys.executable, "-m", "soak", "--clients", "3"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    out = proc.stdout
    tail = out.strip().splitlines()[-len(LINES) :]
    assert [line.split(":")[0] for line in tail] == list(LINES), out + proc.stderr
    values = dict(line.split(": ", 1) for line in tail)
    assert values["violations"] == "0", out + proc.stderr
    assert int(values["faults injected"]) >= 2, out
    assert int(values["ops"]) > 50, out
    assert re.search(r"kill-agent x\d", out) and re.search(r"kill-api x\d", out), out
    assert proc.returncode == 0, out + proc.stderr
