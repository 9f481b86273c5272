"""SIGKILL real writer processes at random instants; every account must stay one whole revision.

The writers are forked by driver processes (tests/store_writer.py `crash`), which check
the account on disk after every kill, without taking its lock, as any reader would.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jopanel.errors import Conflict
from jopanel.settings import Settings
from jopanel.store import ConfigStore
from jopanel.store.locks import user_lock
from tests.store_writer import check_account, check_history, create, leftovers

REPO = Path(__file__).resolve().parent.parent
# (account, driver seed): alpha has two drivers, so killed writers also race each other.
DRIVERS = [("alpha", 1), ("alpha", 2), ("bravo", 3), ("charlie", 4)]
KILLS_PER_DRIVER = 80


def writer(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.store_writer", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_sigkilled_writers_never_leave_a_torn_account(
    settings: Settings, root: Path, tmp_path: Path
) -> None:
    store = ConfigStore(settings)
    accounts = sorted({name for name, _ in DRIVERS})
    for uid, name in enumerate(accounts, start=20001):
        create(store, name, uid)
    reports = tmp_path / "reports"
    reports.mkdir()

    drivers = [
        writer(
            "crash",
            f"--root={root}",
            f"--user={name}",
            f"--kills={KILLS_PER_DRIVER}",
            f"--seed={seed}",
            f"--reports={reports}",
        )
        for name, seed in DRIVERS
    ]
    results = []
    for driver in drivers:
        out, err = driver.communicate(timeout=120)
        assert driver.returncode == 0, err
        results.append(json.loads(out))

    assert sum(r["kills"] for r in results) >= 300
    assert [p for r in results for p in r["problems"]] == []
    assert [e for r in results for e in r["errors"]] == []  # no writer hit an unexpected error
    # Evidence that kills landed inside writes: leftovers were seen after many of them.
    assert sum(r["mid_write"] for r in results) >= 10

    for name in accounts:
        assert check_account(settings, name) == []
        assert check_history(settings, name) == []
        assert store.inspect(name).consistent
        with user_lock(settings, name, timeout=0):  # no stale lock survives its process
            pass
        started = time.monotonic()
        config = store.read(name)
        notes = config.meta.model_copy(update={"notes": "after the storm"})
        result = store.write(
            config.with_(meta=notes), expected_revision=config.revision, actor="test", action="t"
        )
        assert time.monotonic() - started < 10.0  # loose: a busy disk makes fsyncs slow
        assert result.changed is True
        assert leftovers(settings, name) == []  # the next write swept them away
        assert check_account(settings, name) == []
        kept = list((settings.revisions_dir / name).iterdir())
        assert len(kept) <= settings.history_limit


def test_a_killed_lock_holder_releases_the_lock(settings: Settings, root: Path) -> None:
    holder = writer("hold", f"--root={root}", "--user=alpha", "--seconds=60")
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "locked\n"
        with pytest.raises(Conflict, match="timed out waiting for lock user-alpha.lock"):
            with user_lock(settings, "alpha", timeout=0.2):
                pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.communicate(timeout=10)
    with user_lock(settings, "alpha", timeout=0):  # free at once: the kernel released it
        pass
