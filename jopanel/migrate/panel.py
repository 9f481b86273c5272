"""The panel database side of the migration: logins (`users`) and the account index.

A hosting account's login is its shadow entry (V1's bcrypt copied there by the import
op), so a V1 `user` gets no row here; a V1 `reseller` gets a row granting the role to
its hosting account (no password of its own); a V1 `admin` gets a staff login with
V1's bcrypt hash as it is, rehashed to argon2id at the first login
(jopanel.auth.passwords). A login that exists already is never overwritten: it may have
been rehashed by a V2 login, or be the V2 admin's own.
In a dry run nothing is opened for writing, and a SQLite file that does not exist yet
is not created.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from ..auth.passwords import ARGON2ID_PREFIX, BCRYPT_PREFIXES
from ..db.index import index_change
from ..db.models import AuditLog, PanelUser
from ..db.session import engine_for, init_db, make_sessionmaker, session_scope
from ..schemas.summary import AccountSummary
from ..settings import Settings
from .mapping import LoginPlan
from .normalise import BCRYPT_RE

AUDIT_ACTOR = "migrate-v1"
AUDIT_ACTION = "import_login"


def _db_missing(settings: Settings) -> bool:
    url = make_url(settings.db_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return False
    return not Path(url.database).exists()


class PanelDB:
    """Logins and index rows, written only when not a dry run."""

    def __init__(self, settings: Settings, *, dry_run: bool) -> None:
        self.dry_run = dry_run
        self.engine: Engine | None = None
        self.sessions: sessionmaker[Session] | None = None
        if dry_run:
            if not _db_missing(settings):
                engine = engine_for(settings)
                if inspect(engine).has_table(PanelUser.__tablename__):
                    self.engine = engine
                else:
                    engine.dispose()
        else:
            self.engine = init_db(settings)
        if self.engine is not None:
            self.sessions = make_sessionmaker(self.engine)

    def close(self) -> None:
        if self.engine is not None:
            self.engine.dispose()

    def login(self, username: str) -> tuple[str | None, str] | None:
        """(password_hash, role) of a panel login, if there is one (no hash: a role
        granted to the hosting account of that name)."""
        if self.sessions is None:
            return None
        with session_scope(self.sessions) as db:
            row = db.scalar(select(PanelUser).where(PanelUser.username == username))
            return (row.password_hash, row.role) if row is not None else None

    def imported(self, username: str) -> bool:
        """Whether migrate-v1 created this login (its audit row says so)."""
        if self.sessions is None:
            return False
        with session_scope(self.sessions) as db:
            found = db.scalar(
                select(AuditLog.id)
                .where(AuditLog.target == username)
                .where(AuditLog.actor == AUDIT_ACTOR)
                .where(AuditLog.action == AUDIT_ACTION)
                .limit(1)
            )
            return found is not None

    def ensure_login(self, plan: LoginPlan) -> tuple[str, str]:
        """Create the login if missing. Returns (action, note).

        The login and an audit row naming migrate-v1 are written in one transaction, so
        a later run can tell a login it made (maybe rehashed since by a V2 login, or
        given a new password in V2) from one V2 had of its own (kept, and reported).
        """
        current = self.login(plan.username)
        wanted = plan.password_hash if plan.role == "admin" else None
        if plan.role == "user":
            if current is None:
                return "unchanged", ""
            return "kept", f"a V2 panel login {plan.username!r} ({current[1]}) exists already"
        if current is not None:
            hashed, role = current
            if hashed == wanted and role == plan.role:
                return "unchanged", ""
            if role == plan.role and self.imported(plan.username) and hashed is not None:
                if hashed.startswith(ARGON2ID_PREFIX):
                    return "unchanged", "panel password rehashed at a V2 login since"
                return "unchanged", "panel password changed in V2 since: kept"
            return "kept", f"a V2 panel login {plan.username!r} ({role}) exists already: kept"
        if self.dry_run or self.sessions is None:
            return "would create", ""
        with session_scope(self.sessions) as db:
            now = datetime.now(UTC)
            db.add(
                PanelUser(
                    username=plan.username,
                    password_hash=wanted,
                    role=plan.role,
                    created_at=plan.created_at or now,
                )
            )
            db.add(
                AuditLog(
                    at=now,
                    actor=AUDIT_ACTOR,
                    action=AUDIT_ACTION,
                    target=plan.username,
                    result="ok",
                    detail=(
                        "admin login with the V1 bcrypt hash"
                        if wanted
                        else "reseller role for the hosting account (its V1 password)"
                    ),
                )
            )
        return "created", ""

    def index(self, summary: AccountSummary) -> None:
        """Put the account in the list/search index (every change reaches it,
        whichever path made it),
        from the summary the op that wrote it answered (OpResult.account)."""
        if self.dry_run or self.sessions is None:
            return
        index_change(self.sessions, upsert=summary.row())


def login_problems(
    current: tuple[str | None, str] | None, plan: LoginPlan, imported: bool
) -> list[str]:
    """Why the panel would not log this V1 user in with the V1 password, if it would not.

    A V1 user logs in as its hosting account (the shadow entry, checked separately): no
    staff login may hold its name. A V1 reseller also needs the role row without a
    password of its own. A V1 admin needs a login with the role holding exactly V1's
    hash in a form the panel's verifier takes (bcrypt $2a$/$2b$/$2y$, a well-formed cost
    and salt), or the login migrate-v1 made, rehashed (or reset) in V2 since.
    """
    if plan.role == "user":
        return [] if current is None else [f"a panel login {current[1]!r} holds the name"]
    if current is None:
        return ["no panel login"]
    hashed, role = current
    problems = [] if role == plan.role else [f"panel role {role!r}, V1 role {plan.role!r}"]
    if plan.role == "reseller":
        if hashed is not None:
            problems.append("the reseller login has a password of its own")
        return problems
    if hashed is None:
        problems.append("the admin login has no password")
    elif hashed != plan.password_hash:
        if not imported:
            problems.append("the panel login is V2's own, not V1's")
    elif not hashed.startswith(BCRYPT_PREFIXES) or not BCRYPT_RE.fullmatch(hashed):
        problems.append("V1 hash is not one the panel verifies")
    elif not 4 <= int(hashed[4:6]) <= 31:
        problems.append("V1 bcrypt cost out of range")
    return problems
