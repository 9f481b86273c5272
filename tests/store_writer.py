"""Helpers for the store tests, and a child-process driver: `python -m tests.store_writer`.

Sub-commands (each prints one JSON line when done):

    crash --root R --user NAME --kills N --seed S
        Fork a writer that loops ConfigStore writes (and rollbacks) on NAME, SIGKILL it
        after a random delay, check the account on disk right away, repeat N times.
        The driver is a single-threaded process that imported everything once, so a
        fork costs a millisecond instead of a 0.3 s interpreter start.
    cas --root R --user NAME --token T --attempts N --go FILE
        Wait for FILE, then N times: read the account, append "T-i" to meta.notes and
        write with expected_revision set to what was read. Reports accepted and refused.
    hold --root R --user NAME --seconds S
        Take NAME's lock, print "locked", sleep S seconds, exit.
    read --root R --user NAME --seconds S --go FILE
        Wait for FILE, then read NAME without a lock for S seconds; reports any failure.
    claim --root R --user NAME --domain D --go FILE
        Wait for FILE, then add D as an alias domain the way agent flows do: under NAME's
        lock, claim D, then write it into domains.json. Reports whether it won.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from jopanel.agent.ops.build import new_config
from jopanel.errors import Conflict, NotFound, StaleRevision
from jopanel.schemas import Limits, UserConfig
from jopanel.schemas.hosting import Cron, CronJob
from jopanel.settings import Settings, load_settings
from jopanel.store import ConfigStore, DomainClaims
from jopanel.store.locks import user_lock

SIX = ("account", "limits", "domains", "services", "ssh", "meta")


def make_config(username: str, uid: int = 20000, domain: str | None = None) -> UserConfig:
    """A new account's config, as the create op builds it."""
    return new_config(
        username=username,
        uid=uid,
        gid=uid,
        primary_domain=domain or f"{username}.example.com",
        contact_email=f"{username}@example.com",
        package="default",
        limits=Limits(),
        owner="admin",
        shell="/bin/bash",
    )


def create(
    store: ConfigStore, username: str, uid: int = 20000, domain: str | None = None
) -> UserConfig:
    config = make_config(username, uid, domain)
    return store.write(
        config, expected_revision=None, actor="test", action="create", create=True
    ).config


def spec_revision(documents: dict[str, Any]) -> str:
    """SPEC §3's formula, written out again here rather than imported from the code."""
    five = {key: documents[key] for key in ("account", "limits", "domains", "services", "ssh")}
    text = json.dumps(five, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def current_dir(settings: Settings, username: str) -> Path:
    return (settings.users_dir / username).resolve(strict=True)


def load_six(directory: Path) -> dict[str, Any]:
    return {kind: json.loads((directory / f"{kind}.json").read_text("utf-8")) for kind in SIX}


def check_account(settings: Settings, username: str) -> list[str]:
    """Everything wrong with an account on disk, read without its lock; [] when sound."""
    link = settings.users_dir / username
    problems: list[str] = []
    try:
        target = os.readlink(link)
    except OSError as exc:
        return [f"{username}: no symlink ({exc})"]
    prefix = f".revisions/{username}/"
    name = target.removeprefix(prefix)
    if not target.startswith(prefix) or len(name) != 8 or not name.isdigit():
        return [f"{username}: symlink points at {target!r}"]
    directory = settings.users_dir / target
    try:
        entries = sorted(os.listdir(directory))
        documents = load_six(directory)
        config = UserConfig.from_documents(documents)
    except Exception as exc:  # noqa: BLE001 - every failure is a finding to report
        return [f"{username}: {target} unreadable: {type(exc).__name__}: {exc}"]
    if entries != sorted(f"{kind}.json" for kind in SIX):
        problems.append(f"{username}: {target} holds {entries}")
    if documents["meta"]["last_applied_revision"] != spec_revision(documents):
        problems.append(f"{username}: {target} revision stamp does not match its files")
    if config.account.username != username:
        problems.append(f"{username}: {target} belongs to {config.account.username}")
    return problems


def check_history(settings: Settings, username: str) -> list[str]:
    """Every kept revision up to the current one must be whole, as on the day it was written.

    A revision pruned by a concurrent writer while we look is skipped, not reported.
    """
    problems: list[str] = []
    current = int(os.readlink(settings.users_dir / username).rsplit("/", 1)[1])
    for entry in sorted((settings.revisions_dir / username).iterdir()):
        if not entry.name.isdigit() or int(entry.name) > current:
            continue
        try:
            documents = load_six(entry)
            UserConfig.from_documents(documents)
            if documents["meta"]["last_applied_revision"] != spec_revision(documents):
                problems.append(f"{username}: revision {entry.name} stamp does not match")
        except Exception as exc:  # noqa: BLE001 - every failure is a finding to report
            if entry.exists():
                problems.append(f"{username}: revision {entry.name}: {type(exc).__name__}: {exc}")
    return problems


def leftovers(settings: Settings, username: str) -> list[str]:
    """What an interrupted write leaves until the next write: temp dirs, unswapped revisions."""
    found = [p.name for p in settings.users_dir.iterdir() if p.name.startswith(f".{username}.")]
    revisions = settings.revisions_dir / username
    current = int(os.readlink(settings.users_dir / username).rsplit("/", 1)[1])
    for entry in revisions.iterdir():
        if entry.name.startswith(".") or int(entry.name) > current:
            found.append(entry.name)
    return found


# --- the crash driver ----------------------------------------------------------------


def _mutate(config: UserConfig, rng: random.Random, serial: int) -> UserConfig:
    notes = f"write {serial} " + "é" * rng.randrange(0, 3000)
    limits = config.limits.model_copy(
        update={"max_databases": rng.randrange(0, 50), "disk_quota_mb": rng.randrange(0, 10**6)}
    )
    jobs = [
        CronJob(id=f"j{i}", schedule="@daily", command=f"echo ✓ {serial}")
        for i in range(rng.randrange(0, 4))
    ]
    services = config.services.model_copy(update={"cron": Cron(jobs=jobs)})
    ssh = config.ssh.model_copy(update={"allow_port_forwarding": rng.random() < 0.5})
    meta = config.meta.model_copy(update={"notes": notes})
    return config.with_(limits=limits, services=services, ssh=ssh, meta=meta)


def write_forever(settings: Settings, username: str, seed: int, report: Path) -> None:
    """The doomed child: write until killed; an unexpected error is written to `report`."""
    rng = random.Random(seed)
    store = ConfigStore(settings)
    serial = 0
    try:
        while True:
            serial += 1
            current = store.read(username)
            try:
                if serial % 7 == 0:
                    seqs = [info.seq for info in store.history(username) if not info.current]
                    if seqs:
                        store.rollback(
                            username,
                            rng.choice(seqs),
                            expected_revision=current.revision,
                            actor="crash",
                        )
                        continue
                store.write(
                    _mutate(current, rng, serial),
                    expected_revision=current.revision,
                    actor="crash",
                    action="update",
                )
            except (StaleRevision, NotFound):
                continue  # another writer got in first, or pruned the revision we picked
    except BaseException:  # noqa: BLE001 - the test reads the report
        report.write_text(traceback.format_exc(), encoding="utf-8")
        while True:  # stay alive until killed, so the pid is never reused under the driver
            signal.pause()


def crash(args: argparse.Namespace) -> dict[str, Any]:
    settings = load_settings(args.root)
    rng = random.Random(args.seed)
    problems: list[str] = []
    mid_write = 0
    reports = Path(args.reports)
    for kill in range(args.kills):
        report = reports / f"{args.user}-{args.seed}-{kill}.txt"
        pid = os.fork()
        if pid == 0:  # the child never returns into this loop
            try:
                write_forever(settings, args.user, rng.randrange(2**32), report)
            finally:
                os._exit(1)
        time.sleep(rng.uniform(0, args.max_delay_ms / 1000))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        found = check_account(settings, args.user) + check_history(settings, args.user)
        problems += [f"after kill {kill}: {p}" for p in found]
        try:
            mid_write += bool(leftovers(settings, args.user))
        except (OSError, ValueError) as exc:
            problems.append(f"after kill {kill}: cannot list leftovers: {exc}")
    errors = sorted(p.read_text("utf-8") for p in reports.glob(f"{args.user}-{args.seed}-*.txt"))
    return {"kills": args.kills, "problems": problems, "mid_write": mid_write, "errors": errors}


# --- compare-and-swap and lock holders -------------------------------------------------


def cas(args: argparse.Namespace) -> dict[str, Any]:
    store = ConfigStore(load_settings(args.root))
    _wait_for(Path(args.go))
    rng = random.Random(args.token)
    accepted: list[str] = []
    refused: dict[str, str] = {}
    for attempt in range(args.attempts):
        token = f"{args.token}-{attempt}"
        current = store.read(args.user)
        updated = current.with_(
            meta=current.meta.model_copy(update={"notes": f"{current.meta.notes} {token}".strip()})
        )
        try:
            store.write(updated, expected_revision=current.revision, actor=args.token, action="cas")
        except (StaleRevision, Conflict) as exc:
            refused[token] = exc.code
        else:
            accepted.append(token)
        time.sleep(rng.uniform(0, 0.004))
    return {"accepted": accepted, "refused": refused}


def hold(args: argparse.Namespace) -> dict[str, Any]:
    settings = load_settings(args.root)
    with user_lock(settings, args.user, timeout=10):
        print("locked", flush=True)  # noqa: T201 - the parent waits for this line
        time.sleep(args.seconds)
    return {"held": args.seconds}


def read(args: argparse.Namespace) -> dict[str, Any]:
    settings = load_settings(args.root)
    store = ConfigStore(settings)
    _wait_for(Path(args.go))
    reads = 0
    errors: list[str] = []
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        try:
            config = store.read(args.user)
            if config.account.username != args.user:
                errors.append(f"read {config.account.username}")
        except Exception as exc:  # noqa: BLE001 - every failure is a finding to report
            errors.append(f"{type(exc).__name__}: {exc}")
        reads += 1
    return {"reads": reads, "errors": errors[:20]}


def claim(args: argparse.Namespace) -> dict[str, Any]:
    settings = load_settings(args.root)
    store = ConfigStore(settings)
    claims = DomainClaims(settings, store)
    _wait_for(Path(args.go))
    try:
        with store.lock(args.user):
            claims.claim(args.user, [args.domain])
            time.sleep(0.05)  # the window between claiming and writing domains.json
            config = store.read(args.user)
            aliases = [*config.domains.alias_domains, args.domain]
            domains = config.domains.model_copy(update={"alias_domains": aliases})
            store.write(
                config.with_(domains=domains),
                expected_revision=config.revision,
                actor=args.user,
                action="add_alias",
            )
    except Conflict as exc:
        return {"won": False, "error": exc.code}
    return {"won": True, "error": None}


def _wait_for(go: Path) -> None:
    """Say "ready", then wait for the parent's go file: all children start together."""
    print("ready", flush=True)  # noqa: T201 - the parent waits for this line
    deadline = time.monotonic() + 60
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.001)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.store_writer")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("crash", "cas", "hold", "read", "claim"):
        command = sub.add_parser(name)
        command.add_argument("--root", required=True)
        command.add_argument("--user", required=True)
    crash_args = sub.choices["crash"]
    crash_args.add_argument("--kills", type=int, default=100)
    crash_args.add_argument("--seed", type=int, default=0)
    crash_args.add_argument("--max-delay-ms", type=float, default=30.0)
    crash_args.add_argument("--reports", required=True)
    cas_args = sub.choices["cas"]
    cas_args.add_argument("--token", required=True)
    cas_args.add_argument("--attempts", type=int, default=20)
    cas_args.add_argument("--go", required=True)
    sub.choices["hold"].add_argument("--seconds", type=float, default=5.0)
    sub.choices["read"].add_argument("--seconds", type=float, default=2.0)
    sub.choices["read"].add_argument("--go", required=True)
    sub.choices["claim"].add_argument("--domain", required=True)
    sub.choices["claim"].add_argument("--go", required=True)
    args = parser.parse_args(argv)
    commands = {"crash": crash, "cas": cas, "hold": hold, "read": read, "claim": claim}
    result = commands[args.command](args)
    print(json.dumps(result), flush=True)  # noqa: T201 - the parent reads this line
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
