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


def ensure_dir(path: Path, mode: int = 0o700) -> Path:
    """Create `path` (and parents) if missing and force its mode."""
    path.mkdir(mode=mode, parents=True, exist_ok=True)
    os.chmod(path, mode)
    return path
