"""The audit log: one row per login and per mutating request (SPEC §6, §7)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from .models import AuditLog
from .session import session_scope

log = logging.getLogger("jopanel.db.audit")


@dataclass(frozen=True)
class AuditEntry:
    actor: str
    action: str
    target: str | None
    ip: str | None
    result: str
    detail: str | None = None


def record(sessions: sessionmaker[Session], entry: AuditEntry) -> bool:
    """Write one row in its own transaction; a failure is logged, never raised."""
    try:
        with session_scope(sessions) as db:
            db.add(
                AuditLog(
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
        stmt = stmt.where(AuditLog.actor.like(f"%{escaped}%", escape="\\"))
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
        stmt.order_by(AuditLog.id.desc()).offset((page - 1) * per_page).limit(per_page)
    )
    return list(rows), int(total)
