"""Per-user and global locks: flock on files under ROOT/run/jopanel/locks.

flock locks belong to the open file description, so a process killed while holding one
releases it with its file descriptors: a crash never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..atomic import ensure_dir
from ..errors import Conflict, ValidationFailed
from ..settings import Settings

GLOBAL_LOCKS = frozenset({"domains", "uids", "packages", "shadow"})


def _lock_path(settings: Settings, name: str) -> Path:
    return ensure_dir(settings.locks_dir, 0o700) / f"{name}.lock"


@contextmanager
def _flock(path: Path, timeout: float) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        deadline = time.monotonic() + timeout
        delay = 0.001
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise Conflict(f"timed out waiting for lock {path.name}") from None
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
        yield
    finally:
        os.close(fd)  # closing releases the flock


@contextmanager
def user_lock(settings: Settings, username: str, timeout: float = 30.0) -> Iterator[None]:
    """Exclusive lock for every change to one account."""
    if "/" in username or username.startswith("."):
        raise ValidationFailed("is not a plain name", field="username")
    with _flock(_lock_path(settings, f"user-{username}"), timeout):
        yield


@contextmanager
def global_lock(settings: Settings, name: str, timeout: float = 30.0) -> Iterator[None]:
    """Lock for state truly shared between accounts (domain ownership, uid allocation)."""
    if name not in GLOBAL_LOCKS:
        raise ValueError(f"unknown global lock {name}")
    with _flock(_lock_path(settings, name), timeout):
        yield
