"""The audit log: one row per login and per mutating request, and the
agent's journal of changes from every path, indexed (`sync_journal`).

The journal (ROOT/var/log/jopanel/audit.jsonl) is the record that survives dropping
the database: rows copied from it carry its `event_id`, so copying twice adds nothing,
and a new database is filled from the whole file again.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from .models import AuditLog, IndexState
from .session import session_scope

log = logging.getLogger("jopanel.db.audit")

JOURNAL_OFFSET_KEY = "audit_journal_offset"
SYNC_BATCH = 500
_sync_lock = threading.Lock()


@dataclass(frozen=True)
class AuditEntry:
    actor: str
    action: str
    target: str | None
    ip: str | None
    result: str
    detail: str | None = None
    event_id: str | None = None


def record(sessions: sessionmaker[Session], entry: AuditEntry) -> bool:
    """Write one row in its own transaction; a failure is logged, never raised."""
    try:
        with session_scope(sessions) as db:
            db.add(
                AuditLog(
                    event_id=entry.event_id,
                    at=datetime.now(UTC),
                    actor=entry.actor[:128],
                    action=entry.action[:64],
                    target=entry.target[:255] if entry.target else None,
                    ip=entry.ip[:64] if entry.ip else None,
                    result=entry.result[:32],
                    detail=entry.detail[:4000] if entry.detail else None,
                )
            )
        return True
    except SQLAlchemyError:
        log.exception("audit row not written: %s", entry)
        return False


def search(
    db: Session,
    *,
    actor: str | None = None,
    action: str | None = None,
    target: str | None = None,
    result: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[list[AuditLog], int]:
    """Newest first, filtered; returns one page and the total."""
    stmt = select(AuditLog)
    if actor:
        escaped = actor.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(AuditLog.actor.ilike(f"%{escaped}%", escape="\\"))
    if action:
        stmt = stmt.where(AuditLog.action == action)
    if target:
        stmt = stmt.where(AuditLog.target == target)
    if result:
        stmt = stmt.where(AuditLog.result == result)
    if since:
        stmt = stmt.where(AuditLog.at >= since)
    if until:
        stmt = stmt.where(AuditLog.at < until)
    total = db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = db.scalars(
        stmt.order_by(AuditLog.at.desc(), AuditLog.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    return list(rows), int(total)


def _journal_row(line: bytes) -> dict[str, Any] | None:
    try:
        data = json.loads(line)
        return {
            "event_id": str(data["id"])[:32],
            "request_id": str(data["request_id"])[:32] if data.get("request_id") else None,
            "at": datetime.fromisoformat(data["at"]).astimezone(UTC),
            "actor": str(data.get("actor") or "unknown")[:128],
            "action": str(data["action"])[:64],
            "target": str(data["target"])[:255] if data.get("target") else None,
            "ip": None,
            "result": str(data.get("result") or "ok")[:32],
            "detail": str(data.get("detail") or "")[:4000] or None,
        }
    except (ValueError, KeyError, TypeError):
        log.warning("unreadable audit journal line skipped")
        return None


def sync_journal(sessions: sessionmaker[Session], path: Path) -> int:
    """Copy journal lines past the recorded offset into `audit_logs`; returns how many.

    The offset is kept with the file's inode, so a rotated (replaced) journal is read
    from its start; event ids already present are skipped. Never raises.
    """
    with _sync_lock:
        try:
            with open(path, "rb") as handle:
                inode = str(os.fstat(handle.fileno()).st_ino)
                with session_scope(sessions) as db:
                    state = db.get(IndexState, JOURNAL_OFFSET_KEY)
                    saved_inode, _, saved_offset = (state.value if state else "").partition(":")
                    offset = int(saved_offset) if saved_inode == inode and saved_offset else 0
                    handle.seek(offset)
                    data = handle.read()
                    end = data.rfind(b"\n") + 1  # a line still being written waits
                    rows = [r for r in map(_journal_row, data[:end].splitlines()) if r]
                    added = 0
                    for start in range(0, len(rows), SYNC_BATCH):
                        batch = rows[start : start + SYNC_BATCH]
                        # A line whose API request has its own row is that row, unless
                        # the row says the request failed and the agent's change stood.
                        ids = [r["event_id"] for r in batch] + [
                            r["request_id"] for r in batch if r["request_id"]
                        ]
                        query = select(AuditLog.event_id, AuditLog.result).where(
                            AuditLog.event_id.in_(ids)
                        )
                        known: dict[str, str] = dict(db.execute(query).all())  # type: ignore[arg-type]
                        fresh = [
                            AuditLog(**{k: v for k, v in r.items() if k != "request_id"})
                            for r in batch
                            if r["event_id"] not in known
                            and not (
                                r["request_id"] in known
                                and (known[r["request_id"]] == "ok" or r["result"] != "ok")
                            )
                        ]
                        db.add_all(fresh)
                        db.flush()
                        added += len(fresh)
                    value = f"{inode}:{offset + end}"
                    if state is None:
                        db.add(IndexState(key=JOURNAL_OFFSET_KEY, value=value))
                    else:
                        state.value = value
                return added
        except FileNotFoundError:
            return 0
        except (OSError, SQLAlchemyError):
            log.exception("audit journal not copied into the database")
            return 0
