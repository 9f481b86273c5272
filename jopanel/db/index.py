"""The account index: a cache of account fields for list and search.

Never the truth: `reindex` rebuilds it from what the agent reads on disk, and nothing
reads it for one account's details. Permissions live in the query (STYLE.md §7):
`restrict` narrows every select to what the viewer may see.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol, TypeAlias, TypeVar

from sqlalchemy import Row, Select, delete, func, insert, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from .models import AccountIndex, IndexState
from .session import session_scope

log = logging.getLogger("jopanel.db.index")

INDEX_FIELDS = (
    "username",
    "contact_email",
    "primary_domain",
    "package",
    "status",
    "owner",
    "revision",
    "updated_at",
    "uid",
    "created_at",
)
# What a list answer shows; selected as plain rows, not ORM objects (the hot path).
LIST_COLUMNS = (
    AccountIndex.username,
    AccountIndex.primary_domain,
    AccountIndex.contact_email,
    AccountIndex.package,
    AccountIndex.status,
    AccountIndex.owner,
)
STALE_KEY = "stale"
SOURCE_KEY = "source_stamp"
REINDEXED_KEY = "reindexed_at"
BATCH = 1000


S = TypeVar("S", bound="Select[*tuple[Any, ...]]")
# username, primary_domain, contact_email, package, status, owner
SummaryRow: TypeAlias = "Row[str, str, str, str, str, str]"


class Viewer(Protocol):
    """Who is looking: an admin, a reseller, or an account (api.auth.Principal)."""

    @property
    def username(self) -> str: ...

    @property
    def role(self) -> str: ...


def restrict(stmt: S, viewer: Viewer) -> S:
    """Admins see every account, a reseller the accounts it owns, an account itself."""
    if viewer.role == "admin":
        return stmt
    if viewer.role == "reseller":
        return stmt.where(AccountIndex.owner == viewer.username)
    return stmt.where(AccountIndex.username == viewer.username)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _row(summary: Mapping[str, Any]) -> dict[str, Any]:
    row = {field: summary[field] for field in INDEX_FIELDS}
    updated = row["updated_at"]
    if isinstance(updated, str):
        updated = datetime.fromisoformat(updated)
    # Stored as UTC without relying on the backend keeping offsets (MariaDB does not).
    row["updated_at"] = updated.astimezone(UTC)
    row["search_text"] = search_text(row["username"], row["contact_email"], row["primary_domain"])
    return row


def search_text(username: str, email: str, domain: str) -> str:
    return f"{username}|{email}|{domain}".lower()[:600]


class UserRepositoryDB:
    """Reads and writes of the account index inside one SQLAlchemy session."""

    def __init__(self, db: Session) -> None:
        self.db = db

    def search(
        self,
        viewer: Viewer,
        *,
        search: str | None = None,
        status: str | None = None,
        package: str | None = None,
        owner: str | None = None,
        page: int = 1,
        per_page: int = 50,
    ) -> tuple[list[SummaryRow], int]:
        """One page of the accounts `viewer` may see (the list columns only, as rows), and
        how many match in all."""
        stmt = restrict(select(*LIST_COLUMNS), viewer)
        if search:
            pattern = f"%{_like_escape(search.lower())}%"
            stmt = stmt.where(AccountIndex.search_text.like(pattern, escape="\\"))
        if status:
            stmt = stmt.where(AccountIndex.status == status)
        if package:
            stmt = stmt.where(AccountIndex.package == package)
        if owner:
            stmt = stmt.where(AccountIndex.owner == owner)
        offset = (page - 1) * per_page
        rows = list(
            self.db.execute(stmt.order_by(AccountIndex.username).offset(offset).limit(per_page))
        )
        if 0 < len(rows) < per_page or (not rows and page == 1):
            return rows, offset + len(rows)  # the last page: no need to count
        total = self.db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        return rows, int(total)

    def upsert(self, summary: Mapping[str, Any]) -> None:
        row = _row(summary)
        existing = self.db.get(AccountIndex, row["username"])
        if existing is None:
            self.db.add(AccountIndex(**row))
        else:
            for key, value in row.items():
                setattr(existing, key, value)

    def remove(self, username: str) -> None:
        self.db.execute(delete(AccountIndex).where(AccountIndex.username == username))

    def replace_all(self, summaries: Iterable[Mapping[str, Any]]) -> int:
        """Make the index exactly `summaries` (one transaction: readers never see it half done)."""
        self.db.execute(delete(AccountIndex))
        batch: list[dict[str, Any]] = []
        count = 0
        for summary in summaries:
            batch.append(_row(summary))
            if len(batch) >= BATCH:
                self.db.execute(insert(AccountIndex), batch)
                count += len(batch)
                batch = []
        if batch:
            self.db.execute(insert(AccountIndex), batch)
            count += len(batch)
        return count

    # --- bookkeeping ---------------------------------------------------------------------
    def get_state(self, key: str) -> str | None:
        row = self.db.get(IndexState, key)
        return row.value if row else None

    def set_state(self, key: str, value: str | None) -> None:
        row = self.db.get(IndexState, key)
        if value is None:
            if row is not None:
                self.db.delete(row)
        elif row is None:
            self.db.add(IndexState(key=key, value=value[:255]))
        else:
            row.value = value[:255]

    def states(self) -> dict[str, str]:
        """Every bookkeeping value in one query (the list endpoint reads them per request)."""
        return {row.key: row.value for row in self.db.scalars(select(IndexState))}

    def is_stale(self) -> bool:
        return self.get_state(STALE_KEY) is not None


def mark_stale(sessions: sessionmaker[Session], reason: str) -> None:
    """Flag the index for the next reindex; never raises (the cache must not fail a request)."""
    try:
        with session_scope(sessions) as db:
            UserRepositoryDB(db).set_state(STALE_KEY, reason)
    except SQLAlchemyError:
        log.exception("could not even mark the account index stale (%s)", reason)


def index_change(
    sessions: sessionmaker[Session],
    *,
    upsert: Mapping[str, Any] | None = None,
    remove: str | None = None,
) -> bool:
    """Apply one account's change to the index after the change itself succeeded.

    Returns False (and marks the index stale) when the database refuses; the change
    on disk stands and the next reindex repairs the index.
    """
    try:
        with session_scope(sessions) as db:
            repo = UserRepositoryDB(db)
            if upsert is not None:
                repo.upsert(upsert)
            if remove is not None:
                repo.remove(remove)
        return True
    except (SQLAlchemyError, KeyError, ValueError, TypeError) as exc:
        target = remove or (upsert or {}).get("username")
        log.warning("account index not updated for %s: %s; marked stale", target, exc)
        mark_stale(sessions, f"update of {target} failed")
        return False


def reindex(
    sessions: sessionmaker[Session], summaries: Iterable[Mapping[str, Any]], stamp: str | None
) -> int:
    """Replace the index with `summaries` (read from disk) and clear the stale flag.

    The index tables are recreated if someone dropped them: they hold nothing that
    the disk does not.
    """
    bind = sessions.kw.get("bind")
    if bind is not None:
        for table in (AccountIndex.__table__, IndexState.__table__):
            table.create(bind, checkfirst=True)  # type: ignore[attr-defined]
    with session_scope(sessions) as db:
        repo = UserRepositoryDB(db)
        count = repo.replace_all(summaries)
        repo.set_state(STALE_KEY, None)
        repo.set_state(SOURCE_KEY, stamp)
        repo.set_state(REINDEXED_KEY, datetime.now(UTC).isoformat())
    return count
