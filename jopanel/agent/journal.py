"""The audit journal: one JSON line per change the agent made or refused, whoever asked.

Appended by the agent (root) under ROOT/var/log/jopanel/audit.jsonl, so the audit
survives dropping the database: the `audit_logs` table indexes it (jopanel.db.audit
`sync_journal`). Lines are written with O_APPEND in one write each, so concurrent
writers never interleave inside a line; each is flushed to disk before the op answers.
"""

from __future__ import annotations

import grp
import json
import logging
import os
import secrets
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..settings import Settings

log = logging.getLogger("jopanel.agent.journal")

JOURNAL_MODE = 0o640
MAX_DETAIL = 2000
_lock = threading.Lock()


def entry(
    *,
    actor: str,
    action: str,
    target: str | None,
    result: str,
    detail: str = "",
    request_id: str | None = None,
) -> dict[str, Any]:
    """One journal line. `request_id` ties it to the API request that asked (whose own
    audit row carries that id), so the table holds one row per API change."""
    return {
        "id": secrets.token_hex(16),
        "request_id": request_id,
        "at": datetime.now(UTC).isoformat(),
        "actor": actor[:128],
        "action": action[:64],
        "target": target[:255] if target else None,
        "result": result[:32],
        "detail": detail[:MAX_DETAIL],
    }


def _readable_by_service(settings: Settings, path: Path, fd: int) -> None:
    """The unprivileged API indexes the journal: directory and file belong to the service
    user's group (read only). In a sandbox everything runs as one user already."""
    if settings.is_sandbox or os.geteuid() != 0:
        return
    try:
        gid = grp.getgrnam(settings.service_user).gr_gid
    except KeyError:
        return
    if os.fstat(fd).st_gid != gid:
        os.fchown(fd, -1, gid)
    if os.stat(path.parent).st_gid != gid:
        os.chown(path.parent, -1, gid)


def append(settings: Settings, record: dict[str, Any]) -> bool:
    """Append one line; a failure is logged, never raised (the change itself stands)."""
    line = (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
    path = settings.audit_journal
    try:
        with _lock:
            path.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, JOURNAL_MODE)
            try:
                _readable_by_service(settings, path, fd)
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
        return True
    except OSError:
        log.exception("audit journal line not written: %s", record)
        return False
