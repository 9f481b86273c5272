"""The one seam to the MariaDB server (used by the agent only, never by the API).

JoPanel logs in with the `[client]` section of a root-only file
(`settings.mariadb_credentials`, default ROOT/etc/jopanel/mariadb.cnf); without that file
it is root over the local socket (unix_socket authentication, Debian's default).

Identifiers are validated (`^<username>_[a-z0-9_]+$`, 64/80 characters) before any
statement is built and are quoted with backticks; since they hold only [a-z0-9_], the one
thing left to escape is `_`, a wildcard in a GRANT's database name (`joko_db` would also
match `jokoXdb`), written `joko\\_db` there. Passwords and hashes travel as query
parameters, never inside the statement text. Users are always `'<name>'@'localhost'`.

Databases JoPanel creates carry a comment naming the JoPanel root that made them
(`tag`), so a database left behind by a failed change can be told from one that some
other tool (or another sandbox root sharing the server) created under the same prefix.
"""

from __future__ import annotations

import configparser
import hashlib
import json
import os
import re
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pymysql
import pymysql.cursors

from ..errors import JoPanelError, ValidationFailed
from ..schemas.databases import DB_NAME_MAX, DB_USER_MAX
from ..settings import Settings
from .runner import Runner

NAME_PART_RE = re.compile(r"^[a-z0-9_]+$")
IDENT_RE = re.compile(r"^[a-z][a-z0-9]{2,15}_[a-z0-9_]+$")
DUMP_MODE = 0o600
CONNECT_TIMEOUT = 5


class MariaDBUnavailable(JoPanelError):
    """The DB server cannot be reached or refuses JoPanel's login."""

    code = "mariadb_down"
    http_status = 503
    exit_code = 6


class MariaDBRefused(JoPanelError):
    """The DB server refused a statement (a change half-way is rolled back)."""

    code = "mariadb"
    http_status = 500
    exit_code = 7


# --- names -------------------------------------------------------------------------------
def full_name(username: str, name: str, *, user: bool = False, field_name: str = "name") -> str:
    """`<username>_<name>` (a name already carrying the prefix is taken as it is), checked."""
    prefix = f"{username}_"
    full = name if name.startswith(prefix) else prefix + name
    check_name(username, full, user=user, field_name=field_name)
    return full


def check_name(username: str, full: str, *, user: bool = False, field_name: str = "name") -> str:
    """Refuse anything but `<username>_[a-z0-9_]+` within MariaDB's length limit."""
    limit = DB_USER_MAX if user else DB_NAME_MAX
    part = full[len(username) + 1 :] if full.startswith(f"{username}_") else ""
    if not part or not NAME_PART_RE.fullmatch(part) or not IDENT_RE.fullmatch(full):
        raise ValidationFailed(
            f"must be {username}_ followed by lowercase letters, digits or _ (got {full!r})",
            field=field_name,
        )
    # A GRANT names the database with each `_` escaped (`\\_`), and MariaDB holds that
    # form to the 64 characters too.
    length = len(full) if user else len(full) + full.count("_")
    if length > limit:
        raise ValidationFailed(
            f"{full!r} is {length} characters (each _ counts twice in a database name);"
            f" MariaDB allows {limit}",
            field=field_name,
        )
    return full


def quote(ident: str) -> str:
    """Backtick-quote an identifier that `check_name` (or IDENT_RE) already accepted."""
    if not IDENT_RE.fullmatch(ident):
        raise ValidationFailed(f"refusing identifier {ident!r}", field="name")
    return f"`{ident}`"


def grant_pattern(db: str) -> str:
    """A database name as a GRANT needs it: `_` and `%` are wildcards there."""
    return quote(db).replace("_", r"\_").replace("%", r"\%")


def account(user: str) -> str:
    return f"{quote(user)}@'localhost'"


def native_hash(password: str) -> str:
    """MariaDB's mysql_native_password hash: `*` + upper hex of SHA1(SHA1(password))."""
    inner = hashlib.sha1(password.encode()).digest()  # noqa: S324 - the server's own scheme
    return "*" + hashlib.sha1(inner).hexdigest().upper()  # noqa: S324


def root_tag(settings: Settings) -> str:
    """The comment on databases this JoPanel root created."""
    return "jopanel:" + hashlib.sha256(str(settings.root).encode()).hexdigest()[:16]


# --- what the server holds ---------------------------------------------------------------
@dataclass(frozen=True)
class DbState:
    name: str
    comment: str
    tables: int = 0
    size_bytes: int = 0


@dataclass(frozen=True)
class UserState:
    name: str
    password_hash: str
    locked: bool
    grants: frozenset[str]
    # databases the user holds database-level grants on (unescaped names)
    granted_dbs: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class ServerState:
    databases: dict[str, DbState]
    users: dict[str, UserState]


_IDENTIFIED = re.compile(r" IDENTIFIED (BY PASSWORD '[^']*'|VIA .*)$")


def expected_grants(user: str, databases: list[str]) -> frozenset[str]:
    """SHOW GRANTS lines (authentication clause stripped) of a user with ALL on `databases`."""
    lines = {f"GRANT USAGE ON *.* TO {quote(user)}@`localhost`"}
    for db in databases:
        lines.add(f"GRANT ALL PRIVILEGES ON {grant_pattern(db)}.* TO {quote(user)}@`localhost`")
    return frozenset(lines)


def _like_prefix(username: str) -> str:
    return username + r"\_%"


class MariaDB:
    """Statements JoPanel runs, one short connection per call."""

    def __init__(self, settings: Settings, runner: Runner | None = None) -> None:
        self.settings = settings
        self.runner = runner or Runner()

    # --- login ---------------------------------------------------------------------------
    def credentials(self) -> dict[str, Any]:
        """The `[client]` login from the credentials file, or root over the socket."""
        path = self.settings.mariadb_credentials
        try:
            st = path.stat()
        except FileNotFoundError:
            return {"user": "root", "unix_socket": self.settings.mariadb_socket}
        if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO) or (os.geteuid() == 0 and st.st_uid != 0):
            raise MariaDBUnavailable(f"{path} must be 0600 and owned by root; refusing to read it")
        parser = configparser.ConfigParser(interpolation=None)
        parser.read(path, encoding="utf-8")
        section = parser["client"] if parser.has_section("client") else {}
        login: dict[str, Any] = {"user": section.get("user", "root")}
        if section.get("password"):
            login["password"] = section["password"].strip("'\"")
        if section.get("host") and section.get("host") != "localhost":
            login["host"] = section["host"]
            login["port"] = int(section.get("port", "3306"))
        else:
            login["unix_socket"] = section.get("socket", self.settings.mariadb_socket)
        return login

    @contextmanager
    def connect(self) -> Iterator[pymysql.cursors.Cursor]:
        try:
            conn = pymysql.connect(
                **self.credentials(),
                autocommit=True,
                connect_timeout=CONNECT_TIMEOUT,
                charset="utf8mb4",
            )
        except pymysql.err.MySQLError as exc:
            raise MariaDBUnavailable(f"cannot reach MariaDB: {exc.args[-1]}") from None
        try:
            with conn.cursor() as cursor:
                yield cursor
        except pymysql.err.MySQLError as exc:
            raise MariaDBRefused(f"MariaDB refused: {exc.args[-1]}") from None
        finally:
            conn.close()

    # --- reads ---------------------------------------------------------------------------
    def state(self, username: str) -> ServerState:
        """Every database and `'…'@'localhost'` user named `<username>_…`."""
        like = _like_prefix(username)
        with self.connect() as cur:
            cur.execute(
                "SELECT SCHEMA_NAME, SCHEMA_COMMENT FROM information_schema.SCHEMATA"
                " WHERE SCHEMA_NAME LIKE %s",
                (like,),
            )
            dbs = {}
            for name, comment in cur.fetchall():
                # One schema at a time: an equality lets MariaDB open only that directory
                # (a join over information_schema.TABLES reads every schema's tables).
                cur.execute(
                    "SELECT COUNT(*), COALESCE(SUM(DATA_LENGTH + INDEX_LENGTH), 0)"
                    " FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s",
                    (name,),
                )
                tables, size = cur.fetchone() or (0, 0)
                dbs[name] = DbState(name, comment or "", int(tables), int(size))
            cur.execute(
                "SELECT User, Priv FROM mysql.global_priv"
                " WHERE Host = 'localhost' AND User LIKE %s",
                (like,),
            )
            rows = cur.fetchall()
            cur.execute(
                "SELECT User, Db FROM mysql.db WHERE Host = 'localhost' AND User LIKE %s", (like,)
            )
            granted: dict[str, set[str]] = {}
            for user, db in cur.fetchall():
                granted.setdefault(user, set()).add(db.replace("\\", ""))
            users = {}
            for name, priv in rows:
                if not IDENT_RE.fullmatch(name):
                    continue  # not a name JoPanel could have made; never touched
                info = json.loads(priv or "{}")
                cur.execute(f"SHOW GRANTS FOR {account(name)}")
                grants = frozenset(_IDENTIFIED.sub("", g[0]) for g in cur.fetchall())
                users[name] = UserState(
                    name,
                    str(info.get("authentication_string", "")),
                    bool(info.get("account_locked", False)),
                    grants,
                    frozenset(granted.get(name, set())),
                )
        return ServerState(dbs, users)

    def exists(self, database: str | None = None, user: str | None = None) -> bool:
        with self.connect() as cur:
            if database is not None:
                cur.execute(
                    "SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (database,)
                )
            else:
                cur.execute(
                    "SELECT 1 FROM mysql.global_priv WHERE User = %s AND Host = 'localhost'",
                    (user,),
                )
            return cur.fetchone() is not None

    # --- changes -------------------------------------------------------------------------
    def create_database(self, name: str) -> None:
        with self.connect() as cur:
            cur.execute(
                f"CREATE DATABASE IF NOT EXISTS {quote(name)} CHARACTER SET utf8mb4"
                " COLLATE utf8mb4_unicode_ci COMMENT %s",
                (root_tag(self.settings),),
            )

    def drop_database(self, name: str) -> None:
        with self.connect() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {quote(name)}")

    def create_user(
        self, name: str, password_hash: str, databases: list[str], locked: bool
    ) -> None:
        """CREATE USER with its hash, lock state and grants; dropped again if a grant fails,
        so a half-made user never stays behind."""
        lock = "ACCOUNT LOCK" if locked else "ACCOUNT UNLOCK"
        with self.connect() as cur:
            cur.execute(
                f"CREATE USER {account(name)} IDENTIFIED BY PASSWORD %s {lock}", (password_hash,)
            )
            try:
                for db in databases:
                    cur.execute(f"GRANT ALL PRIVILEGES ON {grant_pattern(db)}.* TO {account(name)}")
            except pymysql.err.MySQLError:
                cur.execute(f"DROP USER IF EXISTS {account(name)}")
                raise

    def drop_user(self, name: str) -> None:
        with self.connect() as cur:
            cur.execute(f"DROP USER IF EXISTS {account(name)}")

    def set_hash(self, name: str, password_hash: str) -> None:
        with self.connect() as cur:
            cur.execute(f"ALTER USER {account(name)} IDENTIFIED BY PASSWORD %s", (password_hash,))

    def set_locked(self, name: str, locked: bool) -> None:
        with self.connect() as cur:
            cur.execute(f"ALTER USER {account(name)} ACCOUNT {'LOCK' if locked else 'UNLOCK'}")

    def reset_grants(self, name: str, databases: list[str]) -> None:
        """Exactly ALL PRIVILEGES on `databases`: everything else is revoked."""
        with self.connect() as cur:
            cur.execute(f"REVOKE ALL PRIVILEGES, GRANT OPTION FROM {account(name)}")
            for db in databases:
                cur.execute(f"GRANT ALL PRIVILEGES ON {grant_pattern(db)}.* TO {account(name)}")

    # --- dumps ---------------------------------------------------------------------------
    def login_args(self) -> list[str]:
        """mariadb-dump's login: the same credentials file, or root over the socket."""
        path = self.settings.mariadb_credentials
        if path.exists():
            self.credentials()  # refuses a file others can read
            return [f"--defaults-extra-file={path}"]
        return ["--user=root", f"--socket={self.settings.mariadb_socket}"]

    def dump(self, database: str, target: Path) -> Path:
        """`mariadb-dump` of one database into `target` (created 0600 before anything is
        written to it)."""
        quote(database)
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, DUMP_MODE)
        os.close(fd)
        self.runner.run(
            [
                "mariadb-dump",
                *self.login_args(),
                "--single-transaction",
                "--routines",
                "--triggers",
                "--events",
                f"--result-file={target}",
                database,
            ],
            timeout=3600,
        )
        target.chmod(DUMP_MODE)
        return target

    def restore(self, database: str, source: Path) -> None:
        """Load a dump made by `dump` into `database` (which must exist)."""
        self.runner.run(
            ["mariadb", *self.login_args(), quote(database).strip("`")],
            input=source.read_text(encoding="utf-8"),
            timeout=3600,
        )
