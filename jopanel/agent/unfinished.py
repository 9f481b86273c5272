"""Creates and deletes cut short by the death of the process running them (SIGKILL, OOM,
power loss).

create_user writes its config first and then makes the group, the user, the password and
the services; delete_user archives the config first and then removes the rest. Their
rollback covers failures, not a process that dies half-way. Found by the soak harness
(issue 15): killed after the config was written, a create left an account whose Linux
user reconcile later made with no password and whose name a retried create refused;
killed while dumping its databases, a delete left the Linux user, home, databases and DB
users of an account that no longer existed, for good.

So both mark the name (ROOT/var/lib/jopanel/{creating,deleting}/<name>) under the
account's lock and unmark it when they return, done or rolled back. A marker whose lock
nobody holds belongs to an op that died: `ops.users.finish_unfinished` rolls the create
back and carries the delete through (agent start-up and a full reconcile run it). The
client never got an answer, so either outcome keeps every promise.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..atomic import ensure_dir, fsync_dir, write_new_file
from ..settings import Settings

NAME_RE = re.compile(r"^[a-z][a-z0-9]{2,15}$")
KINDS = {"create": "creating", "delete": "deleting"}


def marker_dir(settings: Settings, kind: str = "create") -> Path:
    return settings.state_dir / KINDS[kind]


@contextmanager
def marked(settings: Settings, kind: str, name: str) -> Iterator[None]:
    """Hold a durable marker while the op runs (the caller holds the account's lock)."""
    directory = ensure_dir(marker_dir(settings, kind))
    marker = directory / name
    marker.unlink(missing_ok=True)  # one left by an older crash: ours now
    write_new_file(marker, b"")
    fsync_dir(directory)  # durable before the changes it guards
    try:
        yield
    finally:
        marker.unlink(missing_ok=True)
        fsync_dir(directory)


def creating(settings: Settings, name: str) -> contextlib.AbstractContextManager[None]:
    return marked(settings, "create", name)


def deleting(settings: Settings, name: str) -> contextlib.AbstractContextManager[None]:
    return marked(settings, "delete", name)


def markers(settings: Settings) -> list[tuple[str, str]]:
    """(kind, name) of every marker: an op running now, or one that died."""
    found: list[tuple[str, str]] = []
    for kind in KINDS:
        directory = marker_dir(settings, kind)
        if directory.is_dir():
            found += sorted(
                (kind, p.name) for p in directory.iterdir() if NAME_RE.fullmatch(p.name)
            )
    return found


def still_marked(settings: Settings, kind: str, name: str) -> bool:
    return (marker_dir(settings, kind) / name).exists()


def unmark(settings: Settings, kind: str, name: str) -> None:
    (marker_dir(settings, kind) / name).unlink(missing_ok=True)


def newest_archive(settings: Settings, name: str) -> Path | None:
    """The archive a delete of `name` that died after archiving made (the newest one)."""
    pattern = re.compile(rf"^{name}-(orphan-)?[0-9]{{8}}T[0-9]{{6}}Z-[0-9a-f]{{6}}$")
    directory = settings.archive_dir
    if not directory.is_dir():
        return None
    found = [p for p in directory.iterdir() if pattern.fullmatch(p.name) and p.is_dir()]
    return max(found, key=lambda p: p.stat().st_ctime_ns, default=None)
