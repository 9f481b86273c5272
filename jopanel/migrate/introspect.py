"""Connect to a V1 database, find out which shape it has, and read its rows (read only).

V1 databases come in two known shapes, and probably variations of both:

- ``orm``: what V1's Go backend (GORM) created: only ``users`` and ``packages``, no
  ``users.package_id``, soft deletes through ``deleted_at``, varchar(191)/longtext columns.
- ``documented``: V1's published schema.sql: ``users.package_id``, a ``status`` enum with
  ``pending``, ``packages.max_ftp``, ``domains`` and ``ftp_accounts``; ``databases`` only
  where it was created quoted (it is a reserved word).

Nothing is assumed beyond a ``users`` table with ``id, username, password_hash, role``:
every other table and column is used when present and replaced by a documented default
when not. Reads happen in one read-only snapshot with the session in UTC.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pymysql
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from .errors import NotV1Database, V1AccessDenied, V1Unreachable

DEFAULT_SOCKET = "/run/mysqld/mysqld.sock"
SCHEMES = {"mysql", "mysql+pymysql", "mariadb", "mariadb+pymysql"}
REQUIRED_USER_COLUMNS = ("id", "username", "password_hash", "role")
# Columns that may name the reseller owning an account, in order of preference.
OWNER_COLUMNS = ("owner_id", "reseller_id", "parent_id", "created_by")
KNOWN_TABLES = ("users", "packages", "domains", "databases", "ftp_accounts")


@dataclass(frozen=True)
class V1Source:
    """Where the V1 database is. The password never appears in `display`."""

    database: str
    user: str = "root"
    password: str | None = None
    host: str = "localhost"
    port: int | None = None
    unix_socket: str | None = None

    @classmethod
    def from_url(cls, url: str, password: str | None = None) -> V1Source:
        """Parse `mysql+pymysql://user[:pass]@host[:port]/db[?unix_socket=...]`.

        Like the mysql client, `localhost` without a port means the local socket.
        """
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise V1Unreachable(f"cannot parse --from URL: {exc}") from None
        if parsed.drivername not in SCHEMES:
            raise V1Unreachable(
                f"--from must be a mysql+pymysql:// URL, got scheme {parsed.drivername!r}"
            )
        if not parsed.database:
            raise V1Unreachable("--from URL names no database (mysql+pymysql://user@host/DB)")
        query = dict(parsed.query)
        socket_value = query.get("unix_socket")
        unix_socket = socket_value if isinstance(socket_value, str) else None
        host = parsed.host or "localhost"
        if unix_socket is None and host == "localhost" and parsed.port is None:
            if os.path.exists(DEFAULT_SOCKET):
                unix_socket = DEFAULT_SOCKET
        return cls(
            database=parsed.database,
            user=parsed.username or "root",
            password=password if password is not None else parsed.password,
            host=host,
            port=parsed.port,
            unix_socket=unix_socket,
        )

    @property
    def display(self) -> str:
        where = self.unix_socket or f"{self.host}:{self.port or 3306}"
        return f"{self.user}@{where}/{self.database}"

    def connect(self, database: str | None = None) -> Any:
        """A PyMySQL connection, errors turned into one-line reasons."""
        kwargs: dict[str, Any] = {
            "user": self.user,
            "password": self.password or "",
            "database": database if database is not None else self.database,
            "charset": "utf8mb4",
            "connect_timeout": 10,
            "autocommit": True,
        }
        if self.unix_socket:
            kwargs["unix_socket"] = self.unix_socket
        else:
            kwargs["host"] = self.host
            kwargs["port"] = self.port or 3306
        try:
            return pymysql.connect(**kwargs)
        except pymysql.err.OperationalError as exc:
            raise translate(exc, self) from None
        except pymysql.err.InternalError as exc:
            raise translate(exc, self) from None


def translate(exc: Exception, source: V1Source) -> Exception:
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0
    message = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
    if code in (1045, 1698):
        return V1AccessDenied(f"access denied to MariaDB as {source.user!r}: wrong credentials?")
    if code == 1044:
        return V1AccessDenied(f"user {source.user!r} may not use database {source.database!r}")
    if code == 1049:
        return NotV1Database(f"database {source.database!r} does not exist on {source.display}")
    if code in (2002, 2003, 2005, 2006, 2013):
        return V1Unreachable(f"cannot reach MariaDB at {source.display}: {message}")
    return V1Unreachable(f"MariaDB error {code} at {source.display}: {message}")


@dataclass(frozen=True)
class V1Shape:
    """The tables and columns a V1 database actually has."""

    database: str
    columns: dict[str, dict[str, str]]  # table -> column -> column_type

    def has(self, table: str, column: str | None = None) -> bool:
        cols = self.columns.get(table)
        if cols is None:
            return False
        return column is None or column in cols

    @property
    def kind(self) -> str:
        if self.has("users", "package_id") and self.has("domains"):
            return "documented"
        if not self.has("users", "package_id") and not self.has("domains"):
            return "orm"
        return "mixed"

    @property
    def owner_column(self) -> str | None:
        return next((c for c in OWNER_COLUMNS if self.has("users", c)), None)

    def describe(self) -> str:
        tables = ", ".join(t for t in KNOWN_TABLES if self.has(t))
        return f"{self.kind} shape ({tables})"


def detect(conn: Any, database: str) -> V1Shape:
    """Read information_schema; refuse a database that is not V1 with a one-line reason."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT c.TABLE_NAME, c.COLUMN_NAME, c.COLUMN_TYPE FROM information_schema.COLUMNS c"
            " JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA"
            " AND t.TABLE_NAME = c.TABLE_NAME AND t.TABLE_TYPE = 'BASE TABLE'"
            " WHERE c.TABLE_SCHEMA = %s ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION",
            (database,),
        )
        rows = cur.fetchall()
    columns: dict[str, dict[str, str]] = {}
    for table, column, column_type in rows:
        columns.setdefault(str(table).lower(), {})[str(column).lower()] = str(column_type)
    shape = V1Shape(database, columns)
    if not shape.has("users"):
        found = ", ".join(sorted(columns)) or "no tables"
        raise NotV1Database(
            f"database {database!r} is not a JoPanel V1 database: no `users` table ({found})"
        )
    missing = [c for c in REQUIRED_USER_COLUMNS if not shape.has("users", c)]
    if missing:
        raise NotV1Database(
            f"database {database!r} is not a JoPanel V1 database: "
            f"`users` has no column {', '.join(missing)}"
        )
    return shape


# --- rows ------------------------------------------------------------------------------


@dataclass(frozen=True)
class V1User:
    id: int
    username: str
    email: str | None
    password_hash: str | None
    role: str | None
    package_id: int | None
    status: str | None
    created_at: datetime | None
    updated_at: datetime | None
    deleted_at: datetime | None
    owner_id: int | None


@dataclass(frozen=True)
class V1Package:
    id: int
    name: str | None
    disk_quota_mb: int | None
    bandwidth_mb: int | None
    max_domains: int | None
    max_databases: int | None
    max_ftp: int | None
    max_emails: int | None
    deleted_at: datetime | None


@dataclass(frozen=True)
class V1Domain:
    id: int
    user_id: int
    domain_name: str | None
    document_root: str | None
    type: str | None
    is_ssl_active: bool
    php_version: str | None


@dataclass(frozen=True)
class V1Database:
    id: int
    user_id: int
    db_name: str | None
    db_user: str | None


@dataclass(frozen=True)
class V1Ftp:
    id: int
    user_id: int
    username: str | None
    home_dir: str | None


@dataclass
class V1Data:
    """Everything migrate-v1 reads from V1, soft-deleted rows included (they are reported)."""

    shape: V1Shape
    users: list[V1User] = field(default_factory=list)
    packages: list[V1Package] = field(default_factory=list)
    domains: list[V1Domain] = field(default_factory=list)
    databases: list[V1Database] = field(default_factory=list)
    ftp_accounts: list[V1Ftp] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


def _select(cur: Any, shape: V1Shape, table: str, wanted: dict[str, str]) -> list[dict[str, Any]]:
    """SELECT the wanted columns that exist (as their alias); the others come back None."""
    parts = []
    for alias, column in wanted.items():
        if shape.has(table, column):
            parts.append(f"`{column}` AS `{alias}`")
        else:
            parts.append(f"NULL AS `{alias}`")
    cur.execute(f"SELECT {', '.join(parts)} FROM `{table}` ORDER BY `id`")
    names = list(wanted)
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _datetime(value: Any) -> datetime | None:
    # A zero date ('0000-00-00') comes back as a string from PyMySQL; it means "unknown".
    return value if isinstance(value, datetime) else None


def _int(value: Any) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


@contextmanager
def snapshot(conn: Any) -> Iterator[Any]:
    """One consistent, read-only view of V1, timestamps in UTC."""
    with conn.cursor() as cur:
        cur.execute("SET SESSION time_zone = '+00:00'")
        cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
        try:
            yield cur
        finally:
            cur.execute("ROLLBACK")


def load(conn: Any, shape: V1Shape) -> V1Data:
    """Read every row migrate-v1 needs; V1 is only ever SELECTed from."""
    data = V1Data(shape)
    owner = shape.owner_column or "owner_id"
    with snapshot(conn) as cur:
        for table in KNOWN_TABLES:
            if shape.has(table):
                cur.execute(f"SELECT COUNT(*) FROM `{table}`")
                data.counts[table] = int(cur.fetchone()[0])
        for row in _select(cur, shape, "users", {
            "id": "id", "username": "username", "email": "email",
            "password_hash": "password_hash", "role": "role", "package_id": "package_id",
            "status": "status", "created_at": "created_at", "updated_at": "updated_at",
            "deleted_at": "deleted_at", "owner_id": owner,
        }):  # fmt: skip
            data.users.append(
                V1User(
                    id=int(row["id"]),
                    username=_text(row["username"]) or "",
                    email=_text(row["email"]),
                    password_hash=_text(row["password_hash"]),
                    role=_text(row["role"]),
                    package_id=_int(row["package_id"]),
                    status=_text(row["status"]),
                    created_at=_datetime(row["created_at"]),
                    updated_at=_datetime(row["updated_at"]),
                    deleted_at=_datetime(row["deleted_at"]),
                    owner_id=_int(row["owner_id"]),
                )
            )
        if shape.has("packages", "id"):
            for row in _select(cur, shape, "packages", {
                "id": "id", "name": "name", "disk_quota_mb": "disk_quota_mb",
                "bandwidth_mb": "bandwidth_mb", "max_domains": "max_domains",
                "max_databases": "max_databases", "max_ftp": "max_ftp",
                "max_emails": "max_emails", "deleted_at": "deleted_at",
            }):  # fmt: skip
                data.packages.append(
                    V1Package(
                        id=int(row["id"]),
                        name=_text(row["name"]),
                        disk_quota_mb=_int(row["disk_quota_mb"]),
                        bandwidth_mb=_int(row["bandwidth_mb"]),
                        max_domains=_int(row["max_domains"]),
                        max_databases=_int(row["max_databases"]),
                        max_ftp=_int(row["max_ftp"]),
                        max_emails=_int(row["max_emails"]),
                        deleted_at=_datetime(row["deleted_at"]),
                    )
                )
        if shape.has("domains", "user_id"):
            for row in _select(cur, shape, "domains", {
                "id": "id", "user_id": "user_id", "domain_name": "domain_name",
                "document_root": "document_root", "type": "type",
                "is_ssl_active": "is_ssl_active", "php_version": "php_version",
            }):  # fmt: skip
                data.domains.append(
                    V1Domain(
                        id=int(row["id"]),
                        user_id=int(row["user_id"]),
                        domain_name=_text(row["domain_name"]),
                        document_root=_text(row["document_root"]),
                        type=_text(row["type"]),
                        is_ssl_active=bool(row["is_ssl_active"]),
                        php_version=_text(row["php_version"]),
                    )
                )
        if shape.has("databases", "user_id"):
            for row in _select(cur, shape, "databases", {
                "id": "id", "user_id": "user_id", "db_name": "db_name", "db_user": "db_user",
            }):  # fmt: skip
                data.databases.append(
                    V1Database(int(row["id"]), int(row["user_id"]), _text(row["db_name"]),
                               _text(row["db_user"]))
                )  # fmt: skip
        if shape.has("ftp_accounts", "user_id"):
            for row in _select(cur, shape, "ftp_accounts", {
                "id": "id", "user_id": "user_id", "username": "username", "home_dir": "home_dir",
            }):  # fmt: skip
                data.ftp_accounts.append(
                    V1Ftp(int(row["id"]), int(row["user_id"]), _text(row["username"]),
                          _text(row["home_dir"]))
                )  # fmt: skip
    return data


def open_v1(source: V1Source) -> tuple[Any, V1Shape]:
    """Connect and detect; the caller closes the connection."""
    conn = source.connect()
    try:
        return conn, detect(conn, source.database)
    except BaseException:
        conn.close()
        raise
