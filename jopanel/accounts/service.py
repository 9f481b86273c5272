"""The seed's flows behind the API, in one place: create, update, stats, and the rest.

Every change goes to the agent first (the truth on disk and in the system); then the
login table, then the account index. The index update never fails a request: if the
database refuses, the index is marked stale and the next reindex repairs it. Details of
one account are always read from disk through the agent, never from the index.
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

from .. import validate
from ..agent.client import Agent
from ..db.index import (
    SOURCE_KEY,
    STALE_KEY,
    SummaryRow,
    UserRepositoryDB,
    index_change,
    mark_stale,
    reindex,
)
from ..db.models import PanelUser
from ..db.session import session_scope
from ..errors import AgentUnavailable, Conflict, Forbidden, NotFound, ValidationFailed
from ..settings import Settings
from .auth import AuthService, Principal, hash_password
from .schemas import UserCreate, UserUpdate

log = logging.getLogger("jopanel.api.services")

STAFF_ROLES = ("admin", "reseller")


def summary_of(view: Mapping[str, Any]) -> dict[str, Any]:
    """The index row of an account, from its documents as the agent returned them."""
    account = view["account"]
    return {
        "username": account["username"],
        "contact_email": account["contact_email"],
        "primary_domain": account["primary_domain"],
        "package": account["package"],
        "status": account["status"],
        "owner": account["owner"],
        "revision": view["revision"],
        "updated_at": account["updated_at"],
    }


def may_see(principal: Principal, account: Mapping[str, Any]) -> bool:
    """The one rule of account visibility (the index applies the same in its query)."""
    if principal.role == "admin":
        return True
    if principal.role == "reseller":
        return bool(account.get("owner") == principal.username)
    return bool(account.get("username") == principal.username)


def _package_field(exc: NotFound) -> ValidationFailed:
    # An unknown package in a request body is bad input, not a missing resource.
    return ValidationFailed(exc.message, field="package")


class UserRepositoryFS:
    """Accounts as the agent reads and writes them on disk: the source of truth."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent

    def get(self, username: str, actor: str) -> dict[str, Any]:
        data: dict[str, Any] = self.agent.execute(
            "get_config", {"username": username}, actor=actor
        ).data
        return data

    def list_summaries(self, actor: str, search: str | None = None) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = self.agent.execute(
            "list_users", {"search": search}, actor=actor
        ).data
        return data

    def index_entries(self, actor: str) -> list[dict[str, Any]]:
        """Every account's index fields (two files per account: the fast read for reindex)."""
        data: list[dict[str, Any]] = self.agent.execute("index_entries", {}, actor=actor).data
        return data

    def run(self, op: str, payload: dict[str, Any], actor: str) -> Any:
        return self.agent.execute(op, payload, actor=actor).data


@dataclass
class IndexFreshness:
    """Spots changes made behind the API's back (CLI, reconcile, migration).

    Every change to an account swaps a symlink in ROOT/etc/jopanel/users, which bumps
    that directory's mtime; the directory is stat-able by the unprivileged service user.
    A stamp that differs from the one recorded at the last sync means the index may be
    behind, and the next list rebuilds it.
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
    """`jopanel reindex` and `POST /api/admin/reindex`: the index from what is on disk."""
    stamp = IndexFreshness(settings).stamp()  # taken first: a change during the read re-triggers
    summaries = UserRepositoryFS(agent).index_entries(actor)
    return reindex(sessions, summaries, stamp)


class AccountService:
    """Account flows for the API; each method checks visibility before acting."""

    def __init__(
        self, settings: Settings, agent: Agent, sessions: sessionmaker[Session], auth: AuthService
    ) -> None:
        self.settings = settings
        self.fs = UserRepositoryFS(agent)
        self.sessions = sessions
        self.auth = auth
        self.freshness = IndexFreshness(settings)
        self._reindex_lock = threading.Lock()

    # --- lookups ---------------------------------------------------------------------
    def visible(self, principal: Principal, username: str) -> dict[str, Any]:
        """An account's documents from disk, or 404 when this principal may not see it."""
        view = self.fs.get(username, principal.actor)
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
        stamp = self.freshness.stamp()
        for attempt in (1, 2):
            with session_scope(self.sessions) as db:
                repo = UserRepositoryDB(db)
                if attempt == 2 or not self._behind(repo, stamp):
                    return repo.search(
                        principal,
                        search=search,
                        status=status,
                        package=package,
                        page=page,
                        per_page=per_page,
                    )
            self._rebuild_or_carry_on(principal.actor)
        raise AssertionError("unreachable")

    # --- index -----------------------------------------------------------------------
    def reindex(self, actor: str) -> int:
        """Rebuild the index from disk (through the agent)."""
        with self._reindex_lock:
            return rebuild_index(self.settings, self.fs.agent, self.sessions, actor)

    @staticmethod
    def _behind(repo: UserRepositoryDB, stamp: str | None) -> bool:
        try:
            states = repo.states()
        except SQLAlchemyError:
            log.exception("cannot read the index state")
            return False
        return STALE_KEY in states or (stamp is not None and states.get(SOURCE_KEY) != stamp)

    def _rebuild_or_carry_on(self, actor: str) -> None:
        log.info("account index is behind the disk; rebuilding")
        try:
            self.reindex(actor)
        except AgentUnavailable:
            # The list is answered from the index; a stale answer beats none.
            log.warning("agent unreachable: answering from a possibly stale index")

    def ensure_fresh(self, actor: str) -> None:
        """Reindex when the index is marked stale or the accounts changed behind our back."""
        with session_scope(self.sessions) as db:
            behind = self._behind(UserRepositoryDB(db), self.freshness.stamp())
        if behind:
            self._rebuild_or_carry_on(actor)

    def after_change(
        self,
        before: str | None,
        *,
        upsert: Mapping[str, Any] | None = None,
        remove: str | None = None,
    ) -> None:
        """Bring the index in line after a change through the agent succeeded.

        `before` is `self.freshness.stamp()` taken before the agent call; when nothing but
        this change happened since the last sync the stamp moves on, so the next list need
        not rebuild. Routes that change an account through other agent ops call this too.
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
    def _check_owner(self, principal: Principal, owner: str | None) -> str:
        if principal.role == "reseller":
            if owner not in (None, principal.username):
                raise Forbidden("a reseller can only create accounts it owns", field="owner")
            return principal.username
        if owner is None or owner == principal.username:
            return principal.username
        with session_scope(self.sessions) as db:
            row = db.scalar(select(PanelUser).where(PanelUser.username == owner))
        if row is None or row.role not in STAFF_ROLES:
            raise ValidationFailed(f"{owner!r} is not an admin or reseller", field="owner")
        return owner

    def create(self, principal: Principal, request: UserCreate) -> dict[str, Any]:
        """CreateUser: agent (config → Linux user → services) → panel login → index."""
        owner = self._check_owner(principal, request.owner)
        with session_scope(self.sessions) as db:
            if (
                db.scalar(select(PanelUser.id).where(PanelUser.username == request.username))
                is not None
            ):
                raise Conflict(f"account {request.username!r} already exists", field="username")
        password_hash = hash_password(request.password)
        payload: dict[str, Any] = {
            "username": request.username,
            "password": request.password,
            "contact_email": request.contact_email,
            "primary_domain": request.primary_domain,
            "package": request.package or "default",
            "owner": owner,
        }
        before = self.freshness.stamp()
        try:
            view: dict[str, Any] = self.fs.run("create_user", payload, principal.actor)
        except NotFound as exc:
            raise _package_field(exc) from None
        try:
            with session_scope(self.sessions) as db:
                db.add(
                    PanelUser(username=request.username, password_hash=password_hash, role="user")
                )
        except SQLAlchemyError:
            # Without its login the account is half made: take it back out.
            log.exception("panel login for %s not stored; removing the account", request.username)
            self.fs.run("delete_user", {"username": request.username}, principal.actor)
            raise
        self.after_change(before, upsert=summary_of(view))
        return view

    def update(
        self, principal: Principal, username: str, request: UserUpdate, expected: str | None
    ) -> dict[str, Any]:
        """UpdateUser: lock → config → apply → unlock (in the agent) → index."""
        self.visible(principal, username)
        patch = request.model_dump(exclude_none=True)
        account_patch = patch.get("account", {})
        if principal.role != "admin":
            if "owner" in account_patch:
                raise Forbidden(
                    "only an admin can change an account's owner", field="account.owner"
                )
            if patch.get("limits"):
                raise Forbidden(
                    "only an admin can override limits; choose a package", field="limits"
                )
        if "owner" in account_patch:
            account_patch["owner"] = self._check_owner(principal, account_patch["owner"])
        before = self.freshness.stamp()
        try:
            view: dict[str, Any] = self.fs.run(
                "update_user_config",
                {"username": username, "expected_revision": expected, **patch},
                principal.actor,
            )
        except NotFound as exc:
            if exc.field == "package":
                raise _package_field(exc) from None
            raise
        self.after_change(before, upsert=summary_of(view))
        return view

    def set_status(self, principal: Principal, username: str, suspend: bool) -> dict[str, Any]:
        self.visible(principal, username)
        before = self.freshness.stamp()
        op = "suspend_user" if suspend else "unsuspend_user"
        view: dict[str, Any] = self.fs.run(op, {"username": username}, principal.actor)
        if suspend:
            self._revoke(username)
        self.after_change(before, upsert=summary_of(view))
        return view

    def account_op(self, principal: Principal, op: str, payload: dict[str, Any]) -> Any:
        """Run another op on the caller's own account (domains, keys, PHP), then reindex it."""
        before = self.freshness.stamp()
        data = self.fs.run(op, {"username": principal.username, **payload}, principal.actor)
        if before != self.freshness.stamp():  # a new revision was written
            view = self.fs.get(principal.username, principal.actor)
            self.after_change(before, upsert=summary_of(view))
        return data

    def delete(self, principal: Principal, username: str) -> None:
        self.visible(principal, username)
        before = self.freshness.stamp()
        self.fs.run("delete_user", {"username": username}, principal.actor)
        try:
            with session_scope(self.sessions) as db:
                db.execute(
                    delete(PanelUser).where(
                        PanelUser.username == username, PanelUser.role == "user"
                    )
                )
                self.auth.revoke_user(db, username)
        except SQLAlchemyError:
            log.exception("login of deleted account %s not removed", username)
        self.after_change(before, remove=username)

    def reset_password(self, principal: Principal, username: str, password: str) -> None:
        """New password for the Linux account and the panel login; ends open sessions."""
        self.visible(principal, username)
        password_hash = hash_password(password)
        self.fs.run("set_password", {"username": username, "password": password}, principal.actor)
        with session_scope(self.sessions) as db:
            row = db.scalar(select(PanelUser).where(PanelUser.username == username))
            if row is None:
                db.add(PanelUser(username=username, password_hash=password_hash, role="user"))
            else:
                row.password_hash = password_hash
            self.auth.revoke_user(db, username)

    def stats(self, principal: Principal, username: str) -> dict[str, Any]:
        """GetStats: limits.json plus a real-time measurement by the agent."""
        self.visible(principal, username)
        data: dict[str, Any] = self.fs.run("user_stats", {"username": username}, principal.actor)
        return data

    def _revoke(self, username: str) -> None:
        try:
            with session_scope(self.sessions) as db:
                self.auth.revoke_user(db, username)
        except SQLAlchemyError:
            log.exception("sessions of %s not revoked", username)

    def account_may_log_in(self, user: PanelUser) -> None:
        """Refuse the panel login of a suspended (or vanished) hosting account."""
        if user.role != "user":
            return
        try:
            view = self.fs.get(user.username, "login")
        except NotFound:
            raise Forbidden("this account no longer exists", field="username") from None
        if view["account"]["status"] == "suspended":
            raise Forbidden("this account is suspended", field="username")


def create_panel_user(
    sessions: sessionmaker[Session], username: str, password: str, role: str
) -> None:
    """A panel login for an admin or reseller (`jopanel admin create`, `jopanel demo`)."""
    validate.panel_name(username)
    if role not in STAFF_ROLES:
        raise ValidationFailed(f"role must be one of {', '.join(STAFF_ROLES)}", field="role")
    if not 8 <= len(password) <= 1024:
        raise ValidationFailed("must be 8 to 1024 characters", field="password")
    password_hash = hash_password(password)
    with session_scope(sessions) as db:
        if db.scalar(select(PanelUser.id).where(PanelUser.username == username)) is not None:
            raise Conflict(f"panel user {username!r} already exists", field="username")
        db.add(PanelUser(username=username, password_hash=password_hash, role=role))
