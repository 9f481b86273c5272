"""The audit journal: one JSON line per change the agent made or refused, whoever asked.

Appended by the agent (root) under ROOT/var/log/jopanel/audit.jsonl, so the audit
survives dropping the database: the `audit_logs` table indexes it (jopanel.db.audit
`sync_journal`). Lines are written with O_APPEND in one write each, so concurrent
writers never interleave inside a line; each is flushed to disk before the op answers.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
from datetime import UTC, datetime
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


def append(settings: Settings, record: dict[str, Any]) -> bool:
    """Append one line; a failure is logged, never raised (the change itself stands)."""
    line = (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
    path = settings.audit_journal
    try:
        with _lock:
            path.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, JOURNAL_MODE)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
        return True
    except OSError:
        log.exception("audit journal line not written: %s", record)
        return False
