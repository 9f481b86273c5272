"""The panel database at install: created (MariaDB on this host), migrated, tested."""

from __future__ import annotations

import re

from sqlalchemy import text
from sqlalchemy.engine import make_url

from ..db.schema import upgrade_head
from ..db.session import make_engine
from ..errors import ValidationFailed
from ..settings import Settings
from ..system.mariadb import MariaDB

NAME_RE = re.compile(r"^[A-Za-z0-9_]{1,64}$")
BACKENDS = {"sqlite", "mysql", "postgresql"}


def check_url(url: str) -> None:
    try:
        parsed = make_url(url)
    except Exception as exc:  # noqa: BLE001 - sqlalchemy raises several kinds
        raise ValidationFailed(f"not a database URL: {exc}", field="database_url") from None
    if parsed.get_backend_name() not in BACKENDS:
        raise ValidationFailed(
            "database URL must be sqlite:///, mysql+pymysql:// or postgresql+psycopg://",
            field="database_url",
        )


def _create_mariadb(settings: Settings, url: str) -> list[str]:
    """CREATE DATABASE / USER on the local server (as root or JoPanel's login), when missing."""
    parsed = make_url(url)
    if parsed.host not in (None, "", "localhost", "127.0.0.1"):
        return []  # a remote server: the administrator creates it
    name, user = parsed.database or "", parsed.username or ""
    if not NAME_RE.fullmatch(name) or not NAME_RE.fullmatch(user):
        raise ValidationFailed(
            "database and user names must be letters, digits and _", field="database_url"
        )
    done: list[str] = []
    server = MariaDB(settings)
    with server.connect() as cursor:
        cursor.execute("SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (name,))
        if cursor.fetchone() is None:
            cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
            done.append(f"created the MariaDB database {name}")
        for host in ("localhost", "127.0.0.1"):
            cursor.execute("SELECT 1 FROM mysql.user WHERE User = %s AND Host = %s", (user, host))
            if cursor.fetchone() is None:
                cursor.execute(
                    "CREATE USER %s@%s IDENTIFIED BY %s", (user, host, parsed.password or "")
                )
                done.append(f"created the MariaDB user {user}@{host}")
            cursor.execute(f"GRANT ALL PRIVILEGES ON `{name}`.* TO %s@%s", (user, host))
    return done


def prepare_database(settings: Settings) -> list[str]:
    """Create (MariaDB), migrate to Alembic head and run a query; what it did."""
    url = settings.db_url
    check_url(url)
    done: list[str] = []
    if make_url(url).get_backend_name() == "mysql":
        done += _create_mariadb(settings, url)
    engine = make_engine(url)
    try:
        upgrade_head(engine)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    finally:
        engine.dispose()
    return done


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    from ..db.schema import alembic_config

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    return head or ""


def current_revision(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
