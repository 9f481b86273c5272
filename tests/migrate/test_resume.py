"""`jopanel migrate-v1` SIGKILLed half-way, then run again: the same end state as a clean run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from tests.conftest import JOPANEL
from tests.migrate import v1fixture
from tests.migrate.conftest import SUFFIX, Migrated, end_state, prepare_root


def _cli(root: Path, database: str, backups: Path) -> list[str]:
    return [
        JOPANEL, "--root", str(root), "--json", "migrate-v1",
        "--from", v1fixture.url(database), "--backup-dir", str(backups),
        "--default-domain-suffix", SUFFIX, "--no-progress",
    ]  # fmt: skip


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("JOPANEL_")}


def test_sigkill_half_way_then_rerun_gives_the_clean_end_state(
    documented: Migrated, tmp_path: Path
) -> None:
    """On the documented shape (domains, subdomains, packages): the richer of the two."""
    migrated = documented
    root = tmp_path / "root"
    prepare_root(root, migrated.shape)
    users = root / "etc/jopanel/users"
    before = len(list(users.iterdir()))
    argv = _cli(root, migrated.fx.database, tmp_path / "backups")
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env())
    deadline = time.monotonic() + 240
    try:
        while len(list(users.iterdir())) < before + 150:
            assert proc.poll() is None, "finished before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    half = len(list(users.iterdir())) - before
    assert 150 <= half < len(migrated.fx.accounts) - 1  # really killed half-way

    done = subprocess.run(argv, capture_output=True, text=True, timeout=600, env=_env())
    assert done.returncode == 1, done.stderr  # user0006 cannot be adopted: one failure
    assert json.loads(done.stderr)["detail"] == "1 V1 row failed to migrate (see the report)"
    report = json.loads(done.stdout)
    assert report["counts"] == migrated.report.counts()
    assert [f["v2_name"] for f in report["failed"]] == ["user0006"]
    assert end_state(root) == end_state(migrated.root)
