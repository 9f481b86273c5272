"""The store's durability order, seen in the system calls of a real write (strace).

A ConfigStore write (jopanel/store/revisions.py, atomic.py) must, for revision N of NAME:

    mkdir .revisions/NAME                          (first write only, by ensure_dir)
    fsync .revisions                               (... so that directory entry is durable)
    mkdir .revisions/NAME/.tmp-N-<random>
    fsync .tmp-N-<random>/<kind>.json              (each of the six files, written once)
    fsync .tmp-N-<random>                          (the directory holding them)
    rename .tmp-N-<random> -> .revisions/NAME/N    (publishes the revision directory)
    fsync .revisions/NAME                          (... durably)
    symlink .revisions/NAME/N -> users/.NAME.lnk
    rename users/.NAME.lnk -> users/NAME           (publishes the revision: the swap)
    fsync users                                    (... durably)

So: every file is fsynced before the rename that publishes it, and each directory whose
entries changed is fsynced after the rename or mkdir, before the next step builds on it.
Removing the fsyncs, or moving one after its rename, makes this test fail.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from jopanel.settings import Settings

REPO = Path(__file__).resolve().parent.parent
SYSCALLS = "fsync,fdatasync,rename,renameat,renameat2,symlink,symlinkat,mkdir,mkdirat"
KINDS = ("account", "limits", "domains", "services", "ssh", "meta")

CHILD = """
import os, sys
from jopanel.settings import load_settings
from jopanel.store import ConfigStore
import jopanel.atomic as atomic, jopanel.store.revisions as revisions
from tests.store_writer import create

plant = sys.argv[2]
if plant == "no-fsync":
    os.fsync = lambda fd: None
elif plant == "no-dir-fsync":
    atomic.fsync_dir = revisions.fsync_dir = lambda path: None
store = ConfigStore(load_settings(sys.argv[1]))
config = create(store, "joko")
account = config.account.model_copy(update={"contact_email": "new@example.com"})
store.write(
    config.with_(account=account), expected_revision=config.revision, actor="t", action="update"
)
"""

LINE_RE = re.compile(r"^(?:\d+\s+)?(\w+)\((.*)\)\s+=\s+(-?\d+)")
FD_RE = re.compile(r"^-?\d+<(.*)>$")


@dataclass(frozen=True)
class Call:
    name: str  # fsync (fdatasync too), rename, symlink, mkdir
    paths: tuple[str, ...]  # absolute, except a symlink's target (as written)


def _split_args(text: str) -> list[str]:
    """Top-level arguments of a strace call: commas outside quotes and <...>."""
    args, current, quoted, depth = [], "", False, 0
    i = 0
    while i < len(text):
        c = text[i]
        if quoted:
            current += c
            if c == "\\":
                current += text[i + 1]
                i += 1
            elif c == '"':
                quoted = False
        elif c == '"':
            quoted = True
            current += c
        elif c == "<":
            depth += 1
            current += c
        elif c == ">":
            depth -= 1
            current += c
        elif c == "," and depth == 0:
            args.append(current.strip())
            current = ""
        else:
            current += c
        i += 1
    if current.strip():
        args.append(current.strip())
    return args


def _path(arg: str, dirfd: str = "AT_FDCWD") -> str:
    value = arg[1:-1].encode().decode("unicode_escape") if arg.startswith('"') else arg
    if value.startswith("/") or dirfd == "AT_FDCWD":
        return value
    base = FD_RE.match(dirfd)
    assert base, dirfd
    return os.path.join(base.group(1), value)


def parse(trace: str) -> list[Call]:
    """The successful calls of a `strace -f -y` log, paths resolved."""
    calls = []
    for line in trace.splitlines():
        match = LINE_RE.match(line)
        if not match or match.group(3) != "0":
            continue
        name, args = match.group(1), _split_args(match.group(2))
        if name in ("fsync", "fdatasync"):
            fd = FD_RE.match(args[0])
            assert fd, line
            calls.append(Call("fsync", (fd.group(1),)))
        elif name == "rename":
            calls.append(Call("rename", (_path(args[0]), _path(args[1]))))
        elif name in ("renameat", "renameat2"):
            calls.append(Call("rename", (_path(args[1], args[0]), _path(args[3], args[2]))))
        elif name == "symlink":
            calls.append(Call("symlink", (_path(args[0]), _path(args[1]))))
        elif name == "symlinkat":
            calls.append(Call("symlink", (_path(args[0]), _path(args[2], args[1]))))
        elif name == "mkdir":
            calls.append(Call("mkdir", (_path(args[0]),)))
        elif name == "mkdirat":
            calls.append(Call("mkdir", (_path(args[1], args[0]),)))
    return calls


def _first(calls: list[Call], call: Call, after: int = -1) -> int | None:
    for index in range(after + 1, len(calls)):
        if calls[index] == call:
            return index
    return None


def problems_of(calls: list[Call], settings: Settings, name: str, seqs: list[int]) -> list[str]:
    """Everything out of the order in the module docstring; [] when the write was durable."""
    users = str(settings.users_dir)
    revisions = str(settings.revisions_dir)
    mine = f"{revisions}/{name}"
    problems: list[str] = []

    def need(label: str, call: Call, after: int = -1, before: int | None = None) -> int:
        at = _first(calls, call, after)
        if at is None:
            problems.append(f"{label}: no {call.name} {call.paths} after call #{after}")
            return after
        if before is not None and at > before:
            problems.append(f"{label}: {call.name} {call.paths} comes after call #{before}")
        return at

    made = _first(calls, Call("mkdir", (mine,)))
    if made is None:
        problems.append(f"no mkdir of {mine}")
    first_publish = None
    starts = [
        i
        for i, c in enumerate(calls)
        if c.name == "mkdir" and c.paths[0].startswith(f"{mine}/.tmp-")
    ]
    for number, seq in enumerate(seqs):
        # This revision's steps all come before the next revision begins.
        end = starts[number + 1] if number + 1 < len(starts) else len(calls)
        final = f"{mine}/{seq:08d}"
        renames = [
            i
            for i, c in enumerate(calls)
            if c.name == "rename" and c.paths[1] == final and "/.tmp-" in c.paths[0]
        ]
        if len(renames) != 1:
            problems.append(f"revision {seq}: {len(renames)} renames into {final}")
            continue
        publish_dir = renames[0]
        tmp = calls[publish_dir].paths[0]
        start = need(f"revision {seq}", Call("mkdir", (tmp,)))
        synced_files = max(
            need(
                f"revision {seq} file {kind}",
                Call("fsync", (f"{tmp}/{kind}.json",)),
                start,
                publish_dir,
            )
            for kind in KINDS
        )
        synced_tmp = need(f"revision {seq} dir", Call("fsync", (tmp,)), synced_files, publish_dir)
        if synced_tmp < synced_files:
            problems.append(f"revision {seq}: {tmp} fsynced before its files")
        synced_mine = need(f"revision {seq}", Call("fsync", (mine,)), publish_dir, end)
        target = f".revisions/{name}/{seq:08d}"
        links = [
            i
            for i, c in enumerate(calls)
            if c.name == "symlink" and c.paths[0] == target and i > publish_dir
        ]
        if len(links) != 1:
            problems.append(f"revision {seq}: {len(links)} symlinks to {target}")
            continue
        temp_link = calls[links[0]].paths[1]
        if links[0] < synced_mine:
            problems.append(f"revision {seq}: symlinked before {mine} was fsynced")
        swap = need(
            f"revision {seq} swap", Call("rename", (temp_link, f"{users}/{name}")), links[0]
        )
        need(f"revision {seq} swap", Call("fsync", (users,)), swap, end)
        first_publish = swap if first_publish is None else first_publish
    if made is not None and first_publish is not None:
        need("new account dir", Call("fsync", (revisions,)), made, first_publish)
    return problems


def traced_write(settings: Settings, plant: str = "none") -> list[Call]:
    strace = shutil.which("strace")
    assert strace, "strace is missing: scripts/ensure-system.sh installs it"
    log = settings.root.parent / f"strace-{plant}.log"
    proc = subprocess.run(
        [strace, "-f", "-qq", "-y", "-s", "4096", "-e", f"trace={SYSCALLS}", "-o", str(log),
         sys.executable, "-c", CHILD, str(settings.root), plant],
        capture_output=True, text=True, timeout=120, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return parse(log.read_text())


def test_a_store_write_fsyncs_each_file_before_publishing_and_each_dir_after(
    settings: Settings,
) -> None:
    calls = traced_write(settings)

    assert problems_of(calls, settings, "joko", [1, 2]) == []
    assert os.readlink(settings.users_dir / "joko") == ".revisions/joko/00000002"


@pytest.mark.parametrize("plant", ["no-fsync", "no-dir-fsync"])
def test_the_check_catches_a_store_without_fsyncs(settings: Settings, plant: str) -> None:
    calls = traced_write(settings, plant)

    problems = problems_of(calls, settings, "joko", [1, 2])

    assert problems
    if plant == "no-dir-fsync":
        assert all("file" not in p for p in problems), problems  # files still synced


def test_the_check_sees_a_fsync_too_late_or_left_to_the_next_write(settings: Settings) -> None:
    calls = traced_write(settings)
    assert problems_of(calls, settings, "joko", [1, 2]) == []

    def first(path: str) -> int:
        return next(i for i, c in enumerate(calls) if c.name == "fsync" and c.paths[0] == path)

    account = next(
        i for i, c in enumerate(calls) if c.name == "fsync" and c.paths[0].endswith(".json")
    )
    publish = next(i for i, c in enumerate(calls) if c.name == "rename" and i > account)
    late_file = [*calls[:account], *calls[account + 1 : publish + 1], calls[account]]
    late_file += calls[publish + 1 :]
    assert problems_of(late_file, settings, "joko", [1, 2])

    for path in (f"{settings.revisions_dir}/joko", str(settings.users_dir)):
        # Gone from revision 1: revision 2's fsync of the same directory is too late.
        dropped = first(path)
        assert problems_of(calls[:dropped] + calls[dropped + 1 :], settings, "joko", [1, 2])
