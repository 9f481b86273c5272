"""Plan the MariaDB side of an account: its config's `databases` section vs the server.

    listed database missing            → recreated (empty), reported
    listed user missing                → recreated with its stored hash, grants, lock state
    user's hash / lock / grants differ → set (grants: exactly ALL on its own databases)
    database not listed, made by us    → dumped to the archive (when it has tables), dropped
    user not listed, holding only ALL on databases made by us (or nothing) → dropped

"Made by us" is the database comment naming this JoPanel root (system/mariadb.root_tag):
what a failed change or a removal leaves behind is cleaned up, while a database some
other tool created under the same prefix is never touched. An account that lists
nothing is not looked up on the server at all (no connection per account change, and a
sandbox root never reaches the host's server for accounts that never had a database),
except inside a database op (`server_checked`), whose rollback must see what it made.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path

from ..schemas import UserConfig
from ..schemas.databases import Databases
from ..system.mariadb import (
    MariaDB,
    MariaDBUnavailable,
    ServerState,
    check_name,
    expected_grants,
    root_tag,
)
from .context import AgentContext
from .drift import Drift

_CHECK_SERVER: ContextVar[bool] = ContextVar("jopanel_db_check_server", default=False)


@contextmanager
def server_checked() -> Iterator[None]:
    """Plan the MariaDB side even for an account whose section is empty (a database op:
    the first create's rollback and the last delete need the server's view)."""
    token = _CHECK_SERVER.set(True)
    try:
        yield
    finally:
        _CHECK_SERVER.reset(token)


def check_owned(username: str, wanted: Databases) -> None:
    """Every name in the section is in the account's own namespace (a hand edit that
    lists another account's database must not grant it)."""
    for db in wanted.names():
        check_name(username, db, field_name="services.databases")
    for user in wanted.users:
        check_name(username, user.name, user=True, field_name="services.databases")


def orphan_dump_path(ctx: AgentContext, username: str, database: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return ctx.settings.archive_dir / "databases" / username / f"{database}-{stamp}.sql"


def plan_databases(ctx: AgentContext, config: UserConfig) -> list[Drift]:
    username = config.username
    wanted = config.services.databases
    check_owned(username, wanted)
    listed = bool(wanted.databases or wanted.users)
    if not listed and not _CHECK_SERVER.get():
        return []
    server = MariaDB(ctx.settings, ctx.runner)
    try:
        state = server.state(username)
    except MariaDBUnavailable:
        if not listed:
            return []
        raise
    return _plan(ctx, server, state, config)


def _plan(
    ctx: AgentContext, server: MariaDB, state: ServerState, config: UserConfig
) -> list[Drift]:
    username = config.username
    wanted = config.services.databases
    locked = config.account.status == "suspended"
    tag = root_tag(ctx.settings)
    ours = {n for n, d in state.databases.items() if d.comment == tag}
    drift: list[Drift] = []
    for db in wanted.names():
        if db not in state.databases:
            drift.append(
                Drift(
                    "db_missing",
                    f"database {db} is missing (recreated empty)",
                    lambda db=db: server.create_database(db),  # type: ignore[misc]
                )
            )
    for user in wanted.users:
        have = state.users.get(user.name)
        dbs = list(user.databases)
        if have is None:
            drift.append(
                Drift(
                    "db_user_missing",
                    f"DB user {user.name} is missing (recreated)",
                    lambda u=user, d=dbs: server.create_user(  # type: ignore[misc]
                        u.name, u.password_hash, d, locked
                    ),
                )
            )
            continue
        if have.password_hash != user.password_hash:
            drift.append(
                Drift(
                    "db_password",
                    f"DB user {user.name}: password differs from the config",
                    lambda u=user: server.set_hash(u.name, u.password_hash),  # type: ignore[misc]
                )
            )
        if have.locked != locked:
            drift.append(
                Drift(
                    "db_lock",
                    f"DB user {user.name} is {'unlocked' if locked else 'locked'}",
                    lambda u=user: server.set_locked(u.name, locked),  # type: ignore[misc]
                )
            )
        if have.grants != expected_grants(user.name, dbs):
            drift.append(
                Drift(
                    "db_grants",
                    f"DB user {user.name}: grants are not exactly ALL on "
                    f"{', '.join(dbs) or 'nothing'}",
                    lambda u=user, d=dbs: server.reset_grants(u.name, d),  # type: ignore[misc]
                )
            )
    listed_users = {u.name for u in wanted.users}
    for name, have in sorted(state.users.items()):
        if name in listed_users:
            continue
        # Ours: it holds nothing but ALL on databases this root made (or nothing at all,
        # as a user whose databases went away); a user with other rights is left alone.
        mine = have.granted_dbs <= ours
        if mine and have.grants == expected_grants(name, sorted(have.granted_dbs)):
            drift.append(
                Drift(
                    "db_user_unlisted",
                    f"DB user {name} is not in the config (dropped)",
                    lambda n=name: server.drop_user(n),  # type: ignore[misc]
                )
            )
    for name in sorted(ours - set(wanted.names())):
        info = state.databases[name]

        def drop(name: str = name, tables: int = info.tables) -> None:
            if tables:
                server.dump(name, orphan_dump_path(ctx, username, name))
            server.drop_database(name)

        kept = " (dumped to the archive first)" if info.tables else ""
        drift.append(
            Drift("db_unlisted", f"database {name} is not in the config: dropped{kept}", drop)
        )
    return drift


def dump_account(ctx: AgentContext, config: UserConfig, archive: Path) -> list[Path]:
    """Dump every listed database that exists into `archive`/databases/<db>.sql (0600)."""
    server = MariaDB(ctx.settings, ctx.runner)
    present = server.state(config.username).databases
    return [
        server.dump(db, archive / "databases" / f"{db}.sql")
        for db in config.services.databases.names()
        if db in present
    ]


def drop_account(ctx: AgentContext, config: UserConfig) -> None:
    """Drop the account's DB users first (no new logins), then its databases: the listed
    ones and those this root made under its prefix."""
    server = MariaDB(ctx.settings, ctx.runner)
    state = server.state(config.username)
    tag = root_tag(ctx.settings)
    for user in config.services.databases.users:
        server.drop_user(user.name)
    ours = {n for n, d in state.databases.items() if d.comment == tag}
    for name, have in state.users.items():
        if have.granted_dbs <= ours and have.grants == expected_grants(
            name, sorted(have.granted_dbs)
        ):
            server.drop_user(name)
    listed = set(config.services.databases.names())
    for name, info in state.databases.items():
        if name in listed or info.comment == tag:
            server.drop_database(name)


def restore_account(ctx: AgentContext, config: UserConfig, archive: Path) -> None:
    """Undo of `drop_account`: databases and users back, each database from its dump."""
    server = MariaDB(ctx.settings, ctx.runner)
    for item in _plan(ctx, server, server.state(config.username), config):
        item.fix()
    for db in config.services.databases.names():
        dump = archive / "databases" / f"{db}.sql"
        if dump.is_file():
            server.restore(db, dump)
