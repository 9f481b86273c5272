"""Creates cut short by the death of the process running them (SIGKILL, OOM, power loss).

create_user writes its config first and then makes the group, the user, the password and
the services; its rollback covers failures, not a process that dies half-way. Found by the
soak harness (issue 15): killed after the config was written, a create left an account
whose Linux user reconcile later made with no password (the one asked for never worked)
and whose name a retried create refused as taken.

So a create marks the name (ROOT/var/lib/jopanel/creating/<name>) under the account's
lock once the name is known free, and unmarks it when it returns, done or rolled back. A
marker whose lock nobody holds belongs to a create that died: `ops.users.roll_back_unfinished`
removes what it made (agent start-up and a full reconcile run it). The client never got an
answer, so nothing promised is lost, and retrying the create works.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..atomic import ensure_dir, fsync_dir, write_new_file
from ..settings import Settings

NAME_RE = re.compile(r"^[a-z][a-z0-9]{2,15}$")


def marker_dir(settings: Settings) -> Path:
    return settings.state_dir / "creating"


@contextmanager
def creating(settings: Settings, name: str) -> Iterator[None]:
    """Hold a durable marker while the create of `name` runs (the caller holds its lock)."""
    directory = ensure_dir(marker_dir(settings))
    marker = directory / name
    marker.unlink(missing_ok=True)  # one left by an older crash: ours now
    write_new_file(marker, b"")
    fsync_dir(directory)  # durable before the config it guards
    try:
        yield
    finally:
        marker.unlink(missing_ok=True)
        fsync_dir(directory)


def markers(settings: Settings) -> list[str]:
    """Names with a marker (a create running now, or one that died)."""
    directory = marker_dir(settings)
    if not directory.is_dir():
        return []
    return sorted(p.name for p in directory.iterdir() if NAME_RE.fullmatch(p.name))


def still_marked(settings: Settings, name: str) -> bool:
    return (marker_dir(settings) / name).exists()


def unmark(settings: Settings, name: str) -> None:
    (marker_dir(settings) / name).unlink(missing_ok=True)
