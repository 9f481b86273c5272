"""Durable file primitives: write-once files, directory fsync, atomic replace."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def fsync_dir(path: Path) -> None:
    """Persist a directory's entries (a rename is durable only after this)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_new_file(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Create `path` (which must not exist) with `data`, fsynced, with `mode` from birth."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    try:
        os.fchmod(fd, mode)  # the umask must not widen or narrow what we asked for
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_file(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Atomically replace `path` with `data`: temp file in the same dir, fsync, rename."""
    tmp = path.with_name(f".{path.name}.tmp-{secrets.token_hex(6)}")
    try:
        write_new_file(tmp, data, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def replace_symlink(link: Path, target: str, *, temp_name: str | None = None) -> None:
    """Point `link` at `target` atomically (`ln -sfn` unlinks first, which is not atomic).

    `temp_name` fixes the temporary link's name, for callers that hold a lock on `link`:
    a leftover of a crashed call is then simply replaced instead of piling up.
    """
    tmp = link.with_name(temp_name or f".{link.name}.lnk-{secrets.token_hex(6)}")
    if temp_name:
        tmp.unlink(missing_ok=True)
    os.symlink(target, tmp)
    try:
        os.replace(tmp, link)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(link.parent)


PARENT_MODE = 0o755


def ensure_dir(path: Path, mode: int = 0o700, *, parent_mode: int = PARENT_MODE) -> Path:
    """Make sure `path` is a directory; modes are set only on directories made here.

    A missing `path` is created with `mode`, and each missing parent with `parent_mode`
    (0755 by default: root-owned, traversable, writable by the owner only, like `mkdir
    -p` under umask 022, so a service user can still reach e.g. run/jopanel/agent.sock).
    Each is made 0700 first and then given its mode, exactly, whatever the umask (never
    open to others before that); the directory holding it is fsynced, so the new entry
    survives a crash. A directory that already exists keeps its mode: an admin's
    `--backup-dir` or `/home` is never chmodded behind their back. One that appears
    concurrently (another process made it first) is left as its maker set it.
    """
    missing: list[Path] = []
    probe = path
    while not probe.is_dir() and probe.parent != probe:
        missing.append(probe)
        probe = probe.parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, 0o700)
        except FileExistsError:
            if not directory.is_dir():
                raise
            continue
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        try:
            os.fchmod(fd, mode if directory == path else parent_mode)
        finally:
            os.close(fd)
        fsync_dir(directory.parent)
    return path
