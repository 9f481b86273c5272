"""`jopanel doctor` on an installed sandbox root: every row ok/warn/fail with a fix; a
broken vhost, a loose secret key or a hand-edited account make it fail (exit 1)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.conftest import cli


def doctor(root: Path) -> tuple[int, dict[str, dict[str, str]]]:
    proc = cli(root, "--json", "doctor", check=False)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, {row["check"]: row for row in json.loads(proc.stdout)}


def test_doctor_reports_and_fails_with_a_fix(tmp_path: Path) -> None:
    root = tmp_path / "root"
    cli(root, "install", "--no-systemd")
    cli(root, "user", "create", "joko", "--domain", "joko.example.com",
        "--email", "joko@example.com", "--password-stdin", input="correct horse 1\n")  # fmt: skip
    code, rows = doctor(root)
    assert code == 0, rows
    assert {r["status"] for r in rows.values()} <= {"ok", "warn"}
    assert rows["database"]["status"] == "ok" and "migrated" in rows["database"]["detail"]
    assert rows["config nginx"]["detail"] == "1 files valid"
    assert rows["config sshd"]["status"] == "ok"
    assert rows["certificate panel"]["status"] == "ok"
    assert rows["drift"]["detail"] == "none in 1 accounts"
    assert rows["agent socket"]["status"] == "warn"  # no agent running: says how to start it
    assert rows["agent socket"]["fix"]

    vhost = root / "etc/nginx/sites-available/jopanel-joko.conf"
    vhost.write_text("server { listen 127.0.0.1:1; bogus_directive on; }\n")
    key = root / "etc/jopanel/secret.key"
    os.chmod(key, 0o644)
    code, rows = doctor(root)
    assert code == 1
    assert rows["config nginx"]["status"] == "fail"
    assert "bogus_directive" in rows["config nginx"]["detail"]
    assert rows["config nginx"]["fix"] == "jopanel rebuild"
    assert rows["secret key"]["status"] == "fail"
    assert rows["drift"]["status"] == "warn" and rows["drift"]["fix"] == "jopanel reconcile"

    os.chmod(key, 0o600)
    cli(root, "reconcile")
    code, rows = doctor(root)
    assert code == 0, rows
    assert rows["config nginx"]["status"] == "ok"
