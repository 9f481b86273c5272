"""Account changes that touch both the system and the panel database, in one place.

The API, the web UI and the CLI all go through `AccountService`, so none of them can skip
what another does: every change goes to the agent first (the truth on disk and in the
system, journaled for the audit), then ends the sessions it must end, then brings the
account index along. The index update never fails a change: if the database refuses,
the index is marked stale and the next read rebuilds it. Details of one account are
always read from disk through the agent, never from the index.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from ..agent.client import Agent
from ..agent.registry import OpResult
from ..auth.sessions import STAFF_ROLES, AccountCheck, Identity, Principal, revoke_sessions
from ..auth.stamps import PasswordStamps
from ..db.audit import sync_journal
from ..db.index import (
    SOURCE_KEY,
    STALE_KEY,
    SummaryRow,
    UserRepositoryDB,
    index_change,
    mark_stale,
    reindex,
)
from ..db.models import AccountIndex, PanelUser
from ..db.session import session_scope
from ..errors import AgentUnavailable, Conflict, Forbidden, NotFound, ValidationFailed
from ..schemas.summary import AccountSummary
from ..settings import Settings

log = logging.getLogger("jopanel.accounts")

DEFAULT_OWNER = "admin"


def may_see(principal: Principal, account: Mapping[str, Any]) -> bool:
    """The one rule of account visibility (the index applies the same in its query)."""
    if principal.role == "admin":
        return True
    if principal.role == "reseller":
        return bool(account.get("owner") == principal.username)
    return bool(account.get("username") == principal.username)


# Ops after which the account's panel sessions end, and what a reseller may not do to an
# account that carries a panel role.
REVOKES = frozenset({"suspend_user", "set_password", "delete_user"})
GUARDED = {
    "suspend_user": "suspend",
    "set_password": "reset the password of",
    "delete_user": "delete",
}


def cli_principal() -> Principal:
    """Whoever runs the CLI as root: an admin named after the person behind sudo."""
    actor = os.environ.get("SUDO_USER") or "root"
    return Principal(username=actor[:64], role="admin", session_id="cli")


def _package_field(exc: NotFound) -> ValidationFailed:
    # An unknown package in a request body is bad input, not a missing resource.
    return ValidationFailed(exc.message, field="package")


@dataclass
class IndexFreshness:
    """Spots changes made behind the service's back (reconcile, hand edits, migration).

    Every change to an account swaps a symlink in ROOT/etc/jopanel/users, which bumps
    that directory's mtime; the directory is stat-able by the unprivileged service user.
    A stamp that differs from the one recorded at the last sync means the index may be
    behind, and the next read rebuilds it.
    """

    settings: Settings

    def stamp(self) -> str | None:
        try:
            return str(os.stat(self.settings.users_dir).st_mtime_ns)
        except OSError:
            return None


def rebuild_index(
    settings: Settings, agent: Agent, sessions: sessionmaker[Session], actor: str
) -> int:
    """`jopanel reindex` and `POST /api/admin/reindex`: the index (and the audit table's
    copy of the journal) from what is on disk."""
    stamp = IndexFreshness(settings).stamp()  # taken first: a change during the read re-triggers
    summaries: list[dict[str, Any]] = agent.execute("index_entries", {}, actor=actor).data
    count = reindex(sessions, summaries, stamp)
    sync_journal(sessions, settings.audit_journal)
    return count


class AccountService:
    """Account flows; each method checks visibility before acting."""

    def __init__(self, settings: Settings, agent: Agent, sessions: sessionmaker[Session]) -> None:
        self.settings = settings
        self.agent = agent
        self.sessions = sessions
        self.freshness = IndexFreshness(settings)
        self._reindex_lock = threading.Lock()
        self.stamps = PasswordStamps(settings.path("etc/shadow"), self._fetch_stamp)

    def run(self, op: str, payload: dict[str, Any], actor: str) -> Any:
        return self.agent.execute(op, payload, actor=actor).data

    # --- lookups ---------------------------------------------------------------------
    def get(self, username: str, actor: str) -> dict[str, Any]:
        data: dict[str, Any] = self.run("get_config", {"username": username}, actor)
        return data

    def visible(self, principal: Principal, username: str) -> dict[str, Any]:
        """An account's documents from disk, or 404 when this principal may not see it."""
        view = self.get(username, principal.actor)
        if not may_see(principal, view["account"]):
            raise NotFound(f"no account {username!r}", field="username")
        return view

    def search(
        self,
        principal: Principal,
        *,
        search: str | None,
        status: str | None,
        package: str | None,
        page: int,
        per_page: int,
    ) -> tuple[list[SummaryRow], int]:
        """A page of the index, rebuilt first when it is stale or behind the disk."""
        self.ensure_fresh(principal.actor)
        with session_scope(self.sessions) as db:
            return UserRepositoryDB(db).search(
                principal, search=search, status=status, package=package, page=page,
                per_page=per_page,
            )  # fmt: skip

    # --- the login side (jopanel.auth.sessions.AccountDirectory) --------------------
    def verify(self, username: str, password: str, ip: str) -> AccountCheck:
        """Check a hosting account's password against its shadow entry (the agent)."""
        before = self.freshness.stamp()
        result = self.agent.execute(
            "verify_password", {"username": username, "password": password, "ip": ip},
            actor=username,
        )  # fmt: skip
        data = result.data
        if not data.get("ok"):
            return AccountCheck(ok=False)
        if result.changed:  # last_login_ip written: keep the index in step, no full rebuild
            self.after_change(before, upsert=data["summary"])
        identity = Identity(data["uid"], data["created_at"], data["status"])
        return AccountCheck(ok=True, identity=identity, password_stamp=data["password_stamp"])

    def password_stamp(self, username: str) -> str | None:
        """The stamp of the account's shadow hash now (sessions are bound to it)."""
        return self.stamps.get(username)

    def _fetch_stamp(self, username: str) -> str | None:
        result = self.agent.execute("password_stamp", {"username": username}, actor=username)
        stamp: str | None = result.data["stamp"]
        return stamp

    def identity(self, username: str) -> Identity | None:
        """The account's identity: from the index when it is in step with the disk, else
        from the account's own files through the agent (the index is rebuilt by the next
        list, not here: this runs inside other transactions and never writes)."""
        if self._behind(self.freshness.stamp()):
            try:
                account = self.get(username, "session check")["account"]
            except NotFound:
                return None
            except AgentUnavailable:
                log.warning("agent unreachable: session checked against the index")
            else:
                summary = AccountSummary.of_view({"account": account, "revision": ""})
                return Identity(summary.uid, summary.created_at, summary.status, summary.owner)
        with session_scope(self.sessions) as db:
            row = db.get(AccountIndex, username)
            if row is None:
                return None
            return Identity(row.uid, row.created_at, row.status, row.owner)

    # --- index -----------------------------------------------------------------------
    def reindex(self, actor: str) -> int:
        """Rebuild the index from disk (through the agent)."""
        with self._reindex_lock:
            return rebuild_index(self.settings, self.agent, self.sessions, actor)

    def _behind(self, stamp: str | None) -> bool:
        try:
            with session_scope(self.sessions) as db:
                states = UserRepositoryDB(db).states()
        except SQLAlchemyError:
            log.exception("cannot read the index state")
            return False
        return STALE_KEY in states or (stamp is not None and states.get(SOURCE_KEY) != stamp)

    def ensure_fresh(self, actor: str) -> None:
        """Reindex when the index is marked stale or the accounts changed behind our back."""
        if not self._behind(self.freshness.stamp()):
            return
        log.info("account index is behind the disk; rebuilding")
        try:
            self.reindex(actor)
        except AgentUnavailable:
            # Reads are answered from the index; a stale answer beats none.
            log.warning("agent unreachable: answering from a possibly stale index")

    def sync_audit(self) -> int:
        """Copy the agent's journal lines the audit table has not seen yet."""
        return sync_journal(self.sessions, self.settings.audit_journal)

    def after_change(
        self,
        before: str | None,
        *,
        upsert: Mapping[str, Any] | None = None,
        remove: str | None = None,
    ) -> None:
        """Bring the index in line after a change through the agent succeeded.

        `before` is `self.freshness.stamp()` taken before the agent call; when nothing but
        this change happened since the last sync the stamp moves on, so the next read need
        not rebuild.
        """
        if not index_change(self.sessions, upsert=upsert, remove=remove):
            return
        after = self.freshness.stamp()
        try:
            with session_scope(self.sessions) as db:
                repo = UserRepositoryDB(db)
                # Only our own change happened since `before` was recorded: stay in sync.
                if (
                    before is not None
                    and repo.get_state(SOURCE_KEY) == before
                    and after is not None
                ):
                    repo.set_state(SOURCE_KEY, after)
        except SQLAlchemyError:
            mark_stale(self.sessions, "stamp update failed")

    # --- flows -----------------------------------------------------------------------
    def _staff_row(self, username: str) -> PanelUser | None:
        with session_scope(self.sessions) as db:
            return db.scalar(select(PanelUser).where(PanelUser.username == username))

    def _check_owner(self, principal: Principal, owner: str | None) -> str:
        if principal.role == "reseller":
            if owner not in (None, principal.username):
                raise Forbidden("a reseller can only create accounts it owns", field="owner")
            return principal.username
        if owner is None or owner == principal.username:
            return principal.username
        if owner == DEFAULT_OWNER:  # the owner accounts have unless someone else is named
            return owner
        row = self._staff_row(owner)
        if row is None or row.role not in STAFF_ROLES:
            raise ValidationFailed(f"{owner!r} is not an admin or reseller", field="owner")
        return owner

    def change(
        self,
        principal: Principal,
        op: str,
        payload: dict[str, Any],
        *,
        dry_run: bool = False,
    ) -> OpResult:
        """Run one op that changes an account, and everything that goes with it.

        Before: the principal may see the account; a reseller may not touch an account
        that carries a panel role; a new account's name is not a staff login's. After: the
        sessions the change must end are revoked, and the index follows the disk.
        """
        username = str(payload.get("username", ""))
        if op == "create_user":
            payload = {**payload, "owner": self._check_owner(principal, payload.get("owner"))}
            if self._staff_row(username) is not None:
                raise Conflict(f"{username!r} is a panel staff login", field="username")
        else:
            self.visible(principal, username)
        if op in GUARDED:
            self.guard_staff_account(principal, username, GUARDED[op])
        before = self.freshness.stamp()
        try:
            result = self.agent.execute(op, payload, actor=principal.actor, dry_run=dry_run)
        except NotFound as exc:
            if op == "create_user" or (op == "update_user_config" and exc.field == "package"):
                raise _package_field(exc) from None
            raise
        if dry_run:
            return result
        if op == "delete_user":
            self.revoke(username, drop_role=True)
            self.after_change(before, remove=username)
            return result
        summary = result.account  # ops that change an account answer with its summary
        if summary is None and before != self.freshness.stamp():  # written, not summarised
            summary = AccountSummary.of_view(self.get(username, principal.actor))
        if summary is not None:
            self.after_change(before, upsert=summary.row())
        if op in REVOKES or (summary is not None and summary.status != "active"):
            self.revoke(username)
        return result

    def create(
        self,
        principal: Principal,
        *,
        username: str,
        password: str | None,
        contact_email: str,
        primary_domain: str,
        package: str | None = None,
        owner: str | None = None,
    ) -> dict[str, Any]:
        """CreateUser: agent (config → Linux user → password → services) → index.

        The account's password is its shadow entry: it logs in to SFTP and the panel."""
        payload: dict[str, Any] = {
            "username": username, "contact_email": contact_email,
            "primary_domain": primary_domain, "package": package or "default", "owner": owner,
        }  # fmt: skip
        if password is not None:
            payload["password"] = password
        view: dict[str, Any] = self.change(principal, "create_user", payload).data
        return view

    def update(
        self,
        principal: Principal,
        username: str,
        patch: dict[str, Any],
        expected: str | None,
    ) -> dict[str, Any]:
        """UpdateUser: lock → config → apply → unlock (in the agent) → index."""
        account_patch = patch.get("account", {}) or {}
        if principal.role != "admin":
            if "owner" in account_patch:
                raise Forbidden(
                    "only an admin can change an account's owner", field="account.owner"
                )
            if patch.get("limits"):
                raise Forbidden(
                    "only an admin can override limits; choose a package", field="limits"
                )
            if patch.get("force"):
                raise Forbidden("only an admin can force limits below usage", field="force")
        old_owner = None
        if "owner" in account_patch:
            old_owner = self.visible(principal, username)["account"].get("owner")
            account_patch["owner"] = self._check_owner(principal, account_patch["owner"])
        payload = {"username": username, "expected_revision": expected, **patch}
        view: dict[str, Any] = self.change(principal, "update_user_config", payload).data
        if old_owner and old_owner != view["account"].get("owner"):
            # The old owner may no longer see the account: its login-as sessions on it end.
            with session_scope(self.sessions) as db:
                revoke_sessions(db, username, opened_by=old_owner)
        return view

    def guard_staff_account(self, principal: Principal, username: str, what: str) -> None:
        """An account that carries a panel role (a V1 reseller) is an admin's to manage:
        its password or existence would hand over that role's accounts."""
        if principal.role != "admin" and self._staff_row(username) is not None:
            raise Forbidden(f"only an admin can {what} an account with a panel role")

    def set_status(self, principal: Principal, username: str, suspend: bool) -> dict[str, Any]:
        """Suspend (ends its sessions at once) or unsuspend an account."""
        op = "suspend_user" if suspend else "unsuspend_user"
        view: dict[str, Any] = self.change(principal, op, {"username": username}).data
        return view

    def account_op(self, principal: Principal, op: str, payload: dict[str, Any]) -> Any:
        """Run another op on the caller's own account (domains, keys, PHP), then reindex it."""
        return self.change(principal, op, {"username": principal.username, **payload}).data

    def delete(self, principal: Principal, username: str) -> dict[str, Any]:
        """Terminate an account: everything of it ends (sessions, role, processes, files)."""
        data: dict[str, Any] = self.change(principal, "delete_user", {"username": username}).data
        return data

    def reset_password(self, principal: Principal, username: str, password: str) -> None:
        """A new password for the account (SFTP, SSH and the panel); ends open sessions."""
        self.change(principal, "set_password", {"username": username, "password": password})

    def rollback(
        self, principal: Principal, username: str, seq: int, expected: str | None = None
    ) -> dict[str, Any]:
        """Make an earlier revision current again (as a new revision) and apply it."""
        payload: dict[str, Any] = {"username": username, "seq": seq}
        if expected is not None:
            payload["expected_revision"] = expected
        data: dict[str, Any] = self.change(principal, "user_rollback", payload).data
        return data

    def read(self, principal: Principal, op: str, username: str, **payload: Any) -> Any:
        """A read-only op about one account this principal may see (history, diff, its
        domains or keys)."""
        self.visible(principal, username)
        return self.run(op, {"username": username, **payload}, principal.actor)

    def stats(self, principal: Principal, username: str, refresh: bool = False) -> dict[str, Any]:
        """GetStats: limits.json next to usage measured by the agent (`refresh`: walk the
        home again rather than answer from a recent cached walk)."""
        self.visible(principal, username)
        payload = {"username": username, "refresh": refresh}
        data: dict[str, Any] = self.run("user_stats", payload, principal.actor)
        return data

    def revoke(self, username: str, *, drop_role: bool = False) -> None:
        """End the account's sessions (and, on delete, the panel role granted to it).

        Raises when the database refuses: a caller must not report a suspension or a new
        password as done while old sessions might still work. (Sessions are bound to the
        account's identity too, so a deleted or suspended account's sessions end anyway.)
        """
        with session_scope(self.sessions) as db:
            revoke_sessions(db, username)
            if drop_role:
                db.execute(
                    delete(PanelUser).where(
                        PanelUser.username == username, PanelUser.password_hash.is_(None)
                    )
                )
