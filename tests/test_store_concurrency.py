"""Many processes on the store: CAS loses nothing, accounts do not wait on each other."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from jopanel.errors import Conflict, StaleRevision
from jopanel.settings import Settings, load_settings
from jopanel.store import ConfigStore, DomainClaims
from jopanel.store.locks import user_lock
from tests.conftest import Op, new_user
from tests.store_writer import check_account, create

REPO = Path(__file__).resolve().parent.parent


def spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.store_writer", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def start_together(processes: list[subprocess.Popen[str]], go: Path) -> None:
    """Wait until every child has started and said "ready", then let them all go at once."""
    for process in processes:
        assert process.stdout is not None
        assert process.stdout.readline() == "ready\n"
    go.touch()


def finish(processes: list[subprocess.Popen[str]], timeout: float = 90) -> list[dict[str, Any]]:
    """Each process's JSON report; a process still running after `timeout` is a deadlock."""
    results = []
    deadline = time.monotonic() + timeout
    for process in processes:
        out, err = process.communicate(timeout=max(1.0, deadline - time.monotonic()))
        assert process.returncode == 0, err
        results.append(json.loads(out.splitlines()[-1]))
    return results


def flock_holders(path: Path) -> list[int]:
    """PIDs holding an flock on `path`, from /proc/locks (matched by device and inode)."""
    info = path.stat()
    wanted = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
    pids = []
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if fields[1] == "FLOCK" and fields[5] == wanted:
            pids.append(int(fields[4]))
    return pids


def with_history_limit(root: Path, limit: int) -> Settings:
    (root / "etc/jopanel/jopanel.toml").write_text(f"history_limit = {limit}\n", encoding="utf-8")
    return load_settings(root)


def test_cas_updates_from_many_processes_lose_nothing(root: Path, tmp_path: Path) -> None:
    settings = with_history_limit(root, 1000)  # keep every revision to audit the chain
    store = ConfigStore(settings)
    for uid, name in enumerate(["alpha", "bravo", "charlie"], start=20001):
        create(store, name, uid)
    go = tmp_path / "go"
    contended = [
        spawn(
            "cas", f"--root={root}", "--user=alpha", f"--token=p{n}", "--attempts=12", f"--go={go}"
        )
        for n in range(8)
    ]
    alone = [
        spawn(
            "cas",
            f"--root={root}",
            f"--user={name}",
            f"--token={name}",
            "--attempts=12",
            f"--go={go}",
        )
        for name in ("bravo", "charlie")
    ]
    start_together(contended + alone, go)
    results = finish(contended + alone)

    accepted = [t for r in results[:8] for t in r["accepted"]]
    refused = {t: code for r in results[:8] for t, code in r["refused"].items()}
    assert len(accepted) + len(refused) == 8 * 12
    assert set(refused.values()) <= {"stale"}
    assert len(refused) > 0  # the writers did collide
    assert len(accepted) > 0

    # Every accepted update is in the history, exactly once and in a single chain:
    # each revision's notes are the previous revision's notes plus one accepted token.
    history = store.history("alpha")
    assert [h.seq for h in history] == list(range(1, len(accepted) + 2))
    chain = []
    previous = ""
    for info in history[1:]:
        notes = store.revision_documents("alpha", info.seq)["meta"]["notes"]
        assert notes.startswith(previous)
        chain.append(notes[len(previous) :].strip())
        previous = notes
    assert sorted(chain) == sorted(accepted)
    assert store.read("alpha").meta.notes.split() == chain
    assert not set(chain) & set(refused)

    for result, name in zip(results[8:], ("bravo", "charlie"), strict=True):
        assert result["refused"] == {}  # nobody else writes these accounts
        assert store.read(name).meta.notes.split() == [f"{name}-{n}" for n in range(12)]
    for name in ("alpha", "bravo", "charlie"):
        assert check_account(settings, name) == []


def test_lock_free_readers_never_see_a_broken_revision(root: Path, tmp_path: Path) -> None:
    # A history of 2 prunes a revision on every write, right under the readers' feet.
    settings = with_history_limit(root, 2)
    create(ConfigStore(settings), "alpha")
    go = tmp_path / "go"
    writers = [
        spawn(
            "cas", f"--root={root}", "--user=alpha", f"--token=w{n}", "--attempts=40", f"--go={go}"
        )
        for n in range(3)
    ]
    readers = [
        spawn("read", f"--root={root}", "--user=alpha", "--seconds=2", f"--go={go}")
        for _ in range(2)
    ]
    start_together(writers + readers, go)
    results = finish(writers + readers)
    assert sum(len(r["accepted"]) for r in results[:3]) > 10
    for result in results[3:]:
        assert result["errors"] == []
        assert result["reads"] > 20
    assert check_account(settings, "alpha") == []


def test_a_domain_raced_for_by_many_accounts_ends_up_with_one(root: Path, tmp_path: Path) -> None:
    settings = load_settings(root)
    store = ConfigStore(settings)
    names = [f"racer{n}" for n in range(6)]
    for uid, name in enumerate(names, start=20001):
        create(store, name, uid)
    go = tmp_path / "go"
    racers = [
        spawn(
            "claim",
            f"--root={root}",
            f"--user={name}",
            "--domain=Contested.Example.com",
            f"--go={go}",
        )
        for name in names
    ]
    start_together(racers, go)
    results = finish(racers)
    winners = [name for name, result in zip(names, results, strict=True) if result["won"]]
    assert len(winners) == 1
    assert {r["error"] for r in results if not r["won"]} == {"conflict"}
    listed = [n for n in names if "contested.example.com" in store.read(n).domains.all_names()]
    assert listed == winners
    assert DomainClaims(settings, store).owner("contested.example.com") == winners[0]


def test_different_accounts_are_not_serialised_behind_one_lock(
    settings: Settings, root: Path
) -> None:
    store = ConfigStore(settings)
    for uid, name in enumerate(["alpha", "bravo", "charlie"], start=20001):
        create(store, name, uid)
    holders = [
        spawn("hold", f"--root={root}", f"--user={name}", "--seconds=60")
        for name in ("alpha", "bravo")
    ]
    try:
        for holder in holders:  # both locks are held at the same time, by two processes
            assert holder.stdout is not None
            assert holder.stdout.readline() == "locked\n"
        for name, holder in zip(("alpha", "bravo"), holders, strict=True):
            lock_file = settings.locks_dir / f"user-{name}.lock"
            assert flock_holders(lock_file) == [holder.pid]  # an flock, held by that process
            with pytest.raises(Conflict, match=f"user-{name}.lock"):
                with user_lock(settings, name, timeout=0.2):
                    pass
        started = time.monotonic()
        config = store.read("charlie")
        store.write(
            config.with_(meta=config.meta.model_copy(update={"notes": "not blocked"})),
            expected_revision=config.revision,
            actor="test",
            action="update",
        )
        # Done while both other locks are still held (for 60 s): nothing waited on them.
        # The bound is loose on purpose; a loaded disk can make nine fsyncs slow.
        assert time.monotonic() - started < 10.0
        for name, holder in zip(("alpha", "bravo"), holders, strict=True):
            assert flock_holders(settings.locks_dir / f"user-{name}.lock") == [holder.pid]
        assert store.read("charlie").meta.notes == "not blocked"
    finally:
        for holder in holders:
            holder.send_signal(signal.SIGKILL)
            holder.communicate(timeout=10)


def test_agent_update_with_a_stale_revision_is_refused(op: Op) -> None:
    created = new_user(op)
    base = created.data["revision"]
    first = op("update_user_config", username="joko", expected_revision=base, meta={"notes": "one"})
    assert first.changed is True
    with pytest.raises(StaleRevision):
        op("update_user_config", username="joko", expected_revision=base, meta={"notes": "two"})
    shown = op("get_config", username="joko").data
    assert shown["meta"]["notes"] == "one"
    assert shown["revision"] == first.data["revision"]
