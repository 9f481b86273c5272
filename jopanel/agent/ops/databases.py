"""MariaDB databases and DB users of an account: list, create, delete, extra
users, grants, password reset.

Every change edits the `databases` section of services.json through `change_account`
(locked, revisioned, journaled, rolled back on failure); the server is then brought in
line by the planner in jopanel/agent/databases.py, the same one reconcile uses.
Names may be given with or without the `<username>_` prefix. Passwords are SecretStr
(never logged), checked by `password_problem`, and stored only as MariaDB's native hash;
no response and no journal line ever carries either.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, SecretStr

from ...errors import Conflict, NotFound, ValidationFailed
from ...schemas import UserConfig
from ...schemas.base import Username
from ...schemas.databases import Database, Databases, DbUser
from ...system.mariadb import MariaDB, MariaDBUnavailable, full_name, native_hash
from ..context import Call
from ..databases import server_checked
from ..registry import OpResult, Payload, op
from ..transaction import Mutate, change_account

MIN_PASSWORD = 12
NamePart = Annotated[str, Field(min_length=1, max_length=96)]
Password = Annotated[SecretStr, Field(min_length=1, max_length=128)]


class DbRef(Payload):
    username: Username


class DbCreate(Payload):
    username: Username
    name: NamePart
    password: Password


class DbDelete(Payload):
    username: Username
    name: NamePart


class DbUserCreate(Payload):
    username: Username
    name: NamePart
    password: Password
    databases: list[NamePart] = Field([], max_length=100)


class DbUserDelete(Payload):
    username: Username
    name: NamePart


class DbUserGrant(Payload):
    username: Username
    name: NamePart
    database: NamePart
    revoke: bool = False


class DbPasswordSet(Payload):
    username: Username
    name: NamePart
    password: Password


def password_problem(password: str, *names: str) -> str | None:
    """Why `password` is too weak for a DB user, or None. At least 12 characters, three
    kinds of character (or 20+ characters), not mostly one character, no name in it."""
    if len(password) < MIN_PASSWORD:
        return f"must be at least {MIN_PASSWORD} characters"
    if any(ord(c) < 32 or ord(c) == 127 for c in password):
        return "must not contain control characters"
    kinds = sum(
        (
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        )
    )
    if kinds < 3 and len(password) < 20:
        return "too weak: mix lowercase, uppercase, digits and symbols (or use 20+ characters)"
    if len(set(password)) < 6:
        return "too weak: too few different characters"
    lowered = password.lower()
    for name in names:
        if name and name.lower() in lowered:
            return f"too weak: contains the name {name!r}"
    return None


def _hash(password: SecretStr, *names: str) -> str:
    plain = password.get_secret_value()
    problem = password_problem(plain, *names)
    if problem:
        raise ValidationFailed(problem, field="password")
    return native_hash(plain)


def _check_limit(config: UserConfig, field: str, used: int) -> None:
    limit = getattr(config.limits, field)
    if limit and used >= limit:
        raise Conflict(f"{field}: {used} in use, limit {limit}", field=field)


def _with(config: UserConfig, section: Databases) -> UserConfig:
    services = config.services.model_copy(update={"databases": section})
    return config.with_(services=services)


def _section(config: UserConfig) -> Databases:
    return config.services.databases


def _known_db(config: UserConfig, name: str) -> str:
    full = full_name(config.username, name)
    if full not in _section(config).names():
        raise NotFound(f"no database {full}", field="name")
    return full


def _known_user(config: UserConfig, name: str) -> DbUser:
    full = full_name(config.username, name, user=True)
    user = _section(config).user(full)
    if user is None:
        raise NotFound(f"no DB user {full}", field="name")
    return user


def _free_on_server(call: Call, database: str | None = None, user: str | None = None) -> None:
    """A name the config does not list but the server holds (made by something else) is
    never taken over."""
    server = MariaDB(call.ctx.settings, call.ctx.runner)
    if server.exists(database=database) if database else server.exists(user=user):
        what = f"database {database}" if database else f"DB user {user}"
        raise Conflict(f"{what} already exists on the server", field="name")


def _change(call: Call, username: str, action: str, mutate: Mutate) -> OpResult:
    with server_checked():
        return change_account(call, username, action, mutate)


def _done(call: Call, result: OpResult, data: Any) -> OpResult:
    """The op's own answer (names only); a dry run keeps the transaction's plan."""
    if not call.dry_run:
        result.data = data
    return result


@op("db_list", DbRef, reads_only=True)
def db_list(call: Call, p: DbRef) -> OpResult:
    """The account's databases (with their size on the server) and DB users."""
    config = call.ctx.store.read(p.username)
    section = _section(config)
    try:
        state = MariaDB(call.ctx.settings, call.ctx.runner).state(p.username)
        reachable = True
    except MariaDBUnavailable:
        if section.databases or section.users:
            raise
        state, reachable = None, False
    databases = []
    for name in section.names():
        info = state.databases.get(name) if state else None
        databases.append(
            {
                "name": name,
                "exists": info is not None,
                "tables": info.tables if info else 0,
                "size_bytes": info.size_bytes if info else 0,
                "users": [u.name for u in section.users if name in u.databases],
            }
        )
    users = []
    for user in section.users:
        have = state.users.get(user.name) if state else None
        users.append(
            {
                "name": user.name,
                "databases": list(user.databases),
                "exists": have is not None,
                "locked": have.locked if have else None,
            }
        )
    limits = config.limits
    return OpResult(
        changed=False,
        data={
            "databases": databases,
            "users": users,
            "max_databases": limits.max_databases,
            "max_db_users": limits.max_db_users,
            "server_reachable": reachable,
        },
    )


@op("db_create", DbCreate)
def db_create(call: Call, p: DbCreate) -> OpResult:
    """Database `<username>_<name>` and a DB user of the same name with ALL on it only."""
    name = full_name(p.username, p.name)
    password_hash = _hash(p.password, p.username, p.name)
    if not call.dry_run:
        _free_on_server(call, database=name)
        _free_on_server(call, user=name)

    def mutate(config: UserConfig) -> UserConfig:
        section = _section(config)
        if name in section.names() or section.user(name) is not None:
            raise Conflict(f"database {name} already exists", field="name")
        _check_limit(config, "max_databases", len(section.databases))
        _check_limit(config, "max_db_users", len(section.users))
        user = DbUser(name=name, databases=[name], password_hash=password_hash)
        return _with(
            config,
            Databases(
                databases=[*section.databases, Database(name=name)], users=[*section.users, user]
            ),
        )

    result = _change(call, p.username, "db_create", mutate)
    return _done(call, result, {"name": name, "user": name})


@op("db_delete", DbDelete)
def db_delete(call: Call, p: DbDelete) -> OpResult:
    """Drop a database (dumped to the archive first when it has tables) and its own DB user
    (unless granted others too); other users lose their grant on it."""

    def mutate(config: UserConfig) -> UserConfig:
        name = _known_db(config, p.name)
        section = _section(config)
        users = []
        for user in section.users:
            kept = [d for d in user.databases if d != name]
            if user.name == name and not kept:
                continue  # the database's own user goes with it
            users.append(user.model_copy(update={"databases": kept}))
        return _with(
            config,
            Databases(databases=[d for d in section.databases if d.name != name], users=users),
        )

    result = _change(call, p.username, "db_delete", mutate)
    return _done(call, result, {"name": full_name(p.username, p.name)})


@op("db_user_create", DbUserCreate)
def db_user_create(call: Call, p: DbUserCreate) -> OpResult:
    """An extra DB user (within max_db_users) with ALL on some of the account's databases."""
    name = full_name(p.username, p.name, user=True)
    password_hash = _hash(p.password, p.username, p.name)
    if not call.dry_run:
        _free_on_server(call, user=name)

    def mutate(config: UserConfig) -> UserConfig:
        section = _section(config)
        if section.user(name) is not None:
            raise Conflict(f"DB user {name} already exists", field="name")
        _check_limit(config, "max_db_users", len(section.users))
        databases = list(dict.fromkeys(_known_db(config, d) for d in p.databases))
        user = DbUser(name=name, databases=databases, password_hash=password_hash)
        return _with(config, section.model_copy(update={"users": [*section.users, user]}))

    result = _change(call, p.username, "db_user_create", mutate)
    return _done(
        call, result, {"name": name, "databases": [full_name(p.username, d) for d in p.databases]}
    )


@op("db_user_delete", DbUserDelete)
def db_user_delete(call: Call, p: DbUserDelete) -> OpResult:
    def mutate(config: UserConfig) -> UserConfig:
        user = _known_user(config, p.name)
        section = _section(config)
        kept = [u for u in section.users if u.name != user.name]
        return _with(config, section.model_copy(update={"users": kept}))

    result = _change(call, p.username, "db_user_delete", mutate)
    return _done(call, result, {"name": full_name(p.username, p.name, user=True)})


@op("db_user_grant", DbUserGrant)
def db_user_grant(call: Call, p: DbUserGrant) -> OpResult:
    """Grant a DB user ALL on one more of the account's databases (or revoke it)."""
    answer: dict[str, Any] = {}

    def mutate(config: UserConfig) -> UserConfig:
        user = _known_user(config, p.name)
        database = _known_db(config, p.database)
        if p.revoke:
            databases = [d for d in user.databases if d != database]
        else:
            databases = list(dict.fromkeys([*user.databases, database]))
        section = _section(config)
        changed = user.model_copy(update={"databases": databases})
        users = [changed if u.name == user.name else u for u in section.users]
        answer.update(name=user.name, databases=databases)
        return _with(config, section.model_copy(update={"users": users}))

    result = _change(call, p.username, "db_user_grant", mutate)
    return _done(call, result, answer)


@op("db_password_set", DbPasswordSet)
def db_password_set(call: Call, p: DbPasswordSet) -> OpResult:
    """A new password for a DB user (reset)."""
    password_hash = _hash(p.password, p.username, p.name)

    def mutate(config: UserConfig) -> UserConfig:
        user = _known_user(config, p.name)
        section = _section(config)
        changed = user.model_copy(update={"password_hash": password_hash})
        users = [changed if u.name == user.name else u for u in section.users]
        return _with(config, section.model_copy(update={"users": users}))

    result = _change(call, p.username, "db_password_set", mutate)
    return _done(call, result, {"name": full_name(p.username, p.name, user=True)})
