"""Engines and sessions for the panel database, and `init_db` (Alembic `upgrade head`).

SQLite (the default) runs in WAL mode with a busy timeout, so the API's readers never
block behind a writer; MariaDB (`mysql+pymysql://`) and PostgreSQL
(`postgresql+psycopg://`) are chosen by URL. Nothing here runs at import time.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from ..settings import Settings

SQLITE_BUSY_TIMEOUT_MS = 10_000


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL; the DB is only an index
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets WAL and its parent directory created."""
    parsed = make_url(url)
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            path = Path(parsed.database)
            path.parent.mkdir(parents=True, exist_ok=True)
            # Password hashes live here: created 0600 (SQLite gives -wal/-shm the same mode).
            os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        kwargs = {
            "connect_args": {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        }
        engine = create_engine(parsed, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() == "mysql":
        kwargs["pool_recycle"] = 3600  # MariaDB drops idle connections after wait_timeout
        if "charset" not in parsed.query:
            parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    return create_engine(parsed, **kwargs)


def engine_for(settings: Settings) -> Engine:
    """The engine for `settings.db_url`."""
    return make_engine(settings.db_url)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that commits on success and rolls back on any exception."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def init_db(settings: Settings, engine: Engine | None = None) -> Engine:
    """Create or upgrade the schema to the newest migration; idempotent. Returns the engine."""
    from .schema import upgrade_head

    engine = engine or engine_for(settings)
    upgrade_head(engine)
    return engine
