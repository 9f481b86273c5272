"""The daily renewal timer written by `jopanel install` passes `systemd-analyze verify`."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from jopanel.settings import load_settings
from jopanel.system.units import RENEW_SERVICE, RENEW_TIMER, renew_service, renew_timer


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze missing")
def test_renew_units_verify(tmp_path: Path) -> None:
    settings = load_settings(tmp_path / "root")
    binary = Path(sys.executable).with_name("jopanel")
    service = tmp_path / RENEW_SERVICE
    service.write_text(renew_service(settings, binary))
    timer = tmp_path / RENEW_TIMER
    timer.write_text(renew_timer())
    assert f"ExecStart={binary} --root {tmp_path / 'root'} ssl renew" in service.read_text()
    assert "OnCalendar=daily" in timer.read_text() and "Persistent=true" in timer.read_text()
    done = subprocess.run(
        ["systemd-analyze", "verify", str(service), str(timer)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
