"""The database layer on SQLite, the real MariaDB and the real PostgreSQL (a throwaway
database per test on each server)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import bcrypt
import psycopg
import pymysql
import pytest
from alembic import command as alembic_command
from sqlalchemy import Engine, inspect, select
from sqlalchemy.orm import Session, sessionmaker

from jopanel.api.errors import NotAuthenticated
from jopanel.auth.passwords import hash_login_password as hash_password
from jopanel.auth.passwords import verify_login_password as verify_password
from jopanel.auth.sessions import (
    AccountCheck,
    AuthService,
    Identity,
    LoginThrottle,
    Principal,
    TokenSigner,
)
from jopanel.db import audit
from jopanel.db.index import STALE_KEY, UserRepositoryDB, index_change, mark_stale, reindex
from jopanel.db.models import AccountIndex, AuditLog, AuthSession, PanelUser, RefreshToken
from jopanel.db.schema import alembic_config, check
from jopanel.db.session import init_db, make_engine, make_sessionmaker, session_scope
from jopanel.errors import Throttled
from jopanel.settings import Settings

MARIADB_SOCKET = "/run/mysqld/mysqld.sock"
POSTGRES_SOCKET_DIR = "/var/run/postgresql"
BACKENDS = ["sqlite", "mariadb", "postgresql"]


@dataclass(frozen=True)
class Viewer:
    username: str
    role: str


def mariadb_database() -> Iterator[str]:
    name = f"jopanel_test_{secrets.token_hex(4)}"
    try:
        conn = pymysql.connect(user="root", unix_socket=MARIADB_SOCKET)
    except pymysql.err.OperationalError as exc:
        pytest.fail(f"MariaDB is not reachable on {MARIADB_SOCKET} (make test starts it): {exc}")
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        yield f"mysql+pymysql://root@localhost/{name}?unix_socket={MARIADB_SOCKET}"
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        conn.close()


def postgresql_database() -> Iterator[str]:
    name = f"jopanel_test_{secrets.token_hex(4)}"
    try:
        conn = psycopg.connect(
            host=POSTGRES_SOCKET_DIR, user="root", dbname="postgres", autocommit=True
        )
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is not reachable in {POSTGRES_SOCKET_DIR} (make test starts it): {exc}"
        )
    try:
        conn.execute(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8'")
        yield f"postgresql+psycopg://root@/{name}?host={POSTGRES_SOCKET_DIR}"
    finally:
        # WITH (FORCE): a connection a failed test left open does not keep the database.
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.close()


def database_urls(backend: str, settings: Settings) -> Iterator[str]:
    """A fresh, empty panel database on `backend`, dropped when the iterator is closed."""
    if backend == "sqlite":
        return iter([settings.db_url])
    return mariadb_database() if backend == "mariadb" else postgresql_database()


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, settings: Settings) -> Iterator[Engine]:
    urls = database_urls(request.param, settings)
    url = next(urls)
    db_settings = settings.model_copy(update={"database_url": url})
    built = init_db(db_settings)
    try:
        yield built
    finally:
        built.dispose()
        next(urls, None)


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(engine)


def summary(name: str, owner: str = "admin", **extra: Any) -> dict[str, Any]:
    return {
        "username": name,
        "contact_email": f"{name}@Example.com",
        "primary_domain": f"{name}.example.com",
        "package": "default",
        "status": "active",
        "owner": owner,
        "revision": "sha256:" + "0" * 64,
        "updated_at": "2026-01-01T10:00:00+02:00",
        "uid": 20000 + sum(map(ord, name)),
        "created_at": "2026-01-01T08:00:00+00:00",
        **extra,
    }


def test_init_db_is_idempotent_and_matches_the_models(engine: Engine, settings: Settings) -> None:
    init_db(settings, engine)
    tables = set(inspect(engine).get_table_names())
    assert {
        "users",
        "audit_logs",
        "account_index",
        "auth_sessions",
        "refresh_tokens",
        "index_state",
    } <= tables
    check(engine.url.render_as_string(hide_password=False))


def test_migrations_go_down_to_nothing_and_up_again(engine: Engine) -> None:
    """Every revision's downgrade runs on this backend, and the upgrade after it gives
    the models' schema again (an upgrade that cannot be undone is found here, not on a
    server rolling back a release)."""
    config = alembic_config(engine)
    alembic_command.downgrade(config, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    alembic_command.upgrade(config, "head")
    check(engine.url.render_as_string(hide_password=False))


def test_audit_rows_of_one_second_list_in_the_order_they_happened(
    sessions: sessionmaker[Session],
) -> None:
    """A row copied in later (a journal line) but timed earlier lists after the newer one,
    on MariaDB too (its plain DATETIME would cut both to the same second)."""
    now = datetime.now(UTC).replace(microsecond=500_000)
    with session_scope(sessions) as db:
        db.add(AuditLog(at=now, actor="admin", action="newer", result="ok"))
        db.flush()
        db.add(
            AuditLog(
                at=now - timedelta(milliseconds=300), actor="agent", action="older", result="ok"
            )
        )
    with session_scope(sessions) as db:
        rows, _ = audit.search(db)
        assert [r.action for r in rows] == ["newer", "older"]
        assert rows[0].at.microsecond == 500_000


def test_audit_actor_search_ignores_case(sessions: sessionmaker[Session]) -> None:
    audit.record(sessions, audit.AuditEntry("Admin as Anna", "users.update", "anna", None, "ok"))
    with session_scope(sessions) as db:
        assert audit.search(db, actor="as anna")[1] == 1


def test_sqlite_runs_in_wal_mode(settings: Settings) -> None:
    engine = init_db(settings)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    engine.dispose()
    # It holds password hashes.
    assert (settings.state_dir / "jopanel.db").stat().st_mode & 0o777 == 0o600


def test_index_restricts_by_viewer_and_searches(sessions: sessionmaker[Session]) -> None:
    rows = [
        summary("anna", "resone"),
        summary("bert", "restwo"),
        summary("cara", "resone", status="suspended"),
    ]
    assert reindex(sessions, rows, "1") == 3
    with session_scope(sessions) as db:
        repo = UserRepositoryDB(db)
        assert [r.username for r in repo.search(Viewer("admin", "admin"))[0]] == [
            "anna",
            "bert",
            "cara",
        ]
        assert [r.username for r in repo.search(Viewer("resone", "reseller"))[0]] == [
            "anna",
            "cara",
        ]
        assert [r.username for r in repo.search(Viewer("bert", "user"))[0]] == ["bert"]
        assert [
            r.username
            for r in repo.search(
                Viewer("admin", "admin"), search="EXAMPLE.COM", status="suspended"
            )[0]
        ] == ["cara"]
        assert repo.search(Viewer("admin", "admin"), search="_")[1] == 0
        page, total = repo.search(Viewer("admin", "admin"), page=2, per_page=2)
        assert ([r.username for r in page], total) == (["cara"], 3)
        found = repo.search(Viewer("admin", "admin"), search="anna")[0][0]
        assert found._asdict() == {
            "username": "anna",
            "primary_domain": "anna.example.com",
            "contact_email": "anna@Example.com",
            "package": "default",
            "status": "active",
            "owner": "resone",
        }
        anna = db.get(AccountIndex, "anna")
        assert anna is not None
        assert anna.updated_at.replace(tzinfo=anna.updated_at.tzinfo or UTC) == datetime(
            2026, 1, 1, 8, tzinfo=UTC
        )


def test_index_change_and_stale_flag(sessions: sessionmaker[Session], engine: Engine) -> None:
    reindex(sessions, [summary("anna")], "1")
    assert index_change(sessions, upsert=summary("anna", contact_email="new@example.com"))
    assert index_change(sessions, upsert=summary("dora"))
    assert index_change(sessions, remove="dora")
    with session_scope(sessions) as db:
        rows = UserRepositoryDB(db).search(Viewer("admin", "admin"))[0]
        assert [(r.username, r.contact_email) for r in rows] == [("anna", "new@example.com")]
        assert not UserRepositoryDB(db).is_stale()
    assert not index_change(sessions, upsert={"username": "broken"})  # missing fields
    mark_stale(sessions, "test")
    with session_scope(sessions) as db:
        assert UserRepositoryDB(db).get_state(STALE_KEY) == "test"
    reindex(sessions, [summary("anna")], "2")
    with session_scope(sessions) as db:
        assert not UserRepositoryDB(db).is_stale()


def test_audit_search(sessions: sessionmaker[Session]) -> None:
    for i in range(5):
        audit.record(
            sessions,
            audit.AuditEntry(
                "admin as anna" if i % 2 else "admin",
                "users.update",
                f"u{i}",
                "10.0.0.1",
                "ok",
                "200",
            ),
        )
    audit.record(
        sessions, audit.AuditEntry("eve", "auth.login", "eve", "10.0.0.9", "denied", "401")
    )
    with session_scope(sessions) as db:
        rows, total = audit.search(db, per_page=2)
        assert total == 6 and [r.action for r in rows] == ["auth.login", "users.update"]
        assert audit.search(db, actor="as anna")[1] == 2
        assert audit.search(db, actor="%")[1] == 0
        assert audit.search(db, result="denied")[0][0].ip == "10.0.0.9"
        assert audit.search(db, target="u3")[1] == 1
        assert audit.search(db, since=datetime.now(UTC) - timedelta(hours=1))[1] == 6
        assert audit.search(db, until=datetime.now(UTC) - timedelta(hours=1))[1] == 0


class NoAccounts:
    """A directory with no hosting accounts: staff logins only."""

    def verify(self, username: str, password: str, ip: str) -> AccountCheck:
        return AccountCheck(ok=False)

    def identity(self, username: str) -> Identity | None:
        return None

    def password_stamp(self, username: str) -> str | None:
        return None


def test_auth_sessions_on_every_backend(sessions: sessionmaker[Session]) -> None:
    throttle = LoginThrottle(sessions=sessions)
    service = AuthService(TokenSigner(b"k" * 48), throttle, NoAccounts(), failure_floor=0)
    with session_scope(sessions) as db:
        db.add(
            PanelUser(
                username="admin", password_hash=hash_password("a long password"), role="admin"
            )
        )
    with session_scope(sessions) as db:
        pair = service.login(db, "admin", "a long password", "10.0.0.1")
    with session_scope(sessions) as db:
        principal = service.authenticate(db, pair.access_token)
    assert principal == Principal("admin", "admin", principal.session_id)
    with session_scope(sessions) as db:
        rotated = service.refresh(db, pair.refresh_token)
    with pytest.raises(NotAuthenticated), session_scope(sessions) as db:
        service.refresh(db, pair.refresh_token)
    with pytest.raises(NotAuthenticated), session_scope(sessions) as db:
        service.authenticate(db, rotated.access_token)
    with pytest.raises(NotAuthenticated), session_scope(sessions) as db:
        service.login(db, "admin", "wrong password", "10.0.0.1")
    # Ended sessions are pruned at the user's next login, with their refresh tokens.
    with session_scope(sessions) as db:
        old = db.get(AuthSession, principal.session_id)
        assert old is not None
        old.expires_at = datetime.now(UTC) - timedelta(days=1)
    with session_scope(sessions) as db:
        service.login(db, "admin", "a long password", "10.0.0.1")
    with session_scope(sessions) as db:
        assert db.get(AuthSession, principal.session_id) is None
        assert (
            db.scalars(
                select(RefreshToken).where(RefreshToken.session_id == principal.session_id)
            ).all()
            == []
        )


def test_password_helpers() -> None:
    stored = hash_password("s3cret pass")
    assert stored.startswith("$argon2id$")
    assert verify_password("s3cret pass", stored) == (True, False)
    assert verify_password("nope", stored) == (False, False)
    assert verify_password("x", "") == (False, False)
    assert verify_password("x", "$1$md5crypt$") == (False, False)
    legacy = bcrypt.hashpw(b"s3cret pass", bcrypt.gensalt(rounds=4)).decode()
    assert verify_password("s3cret pass", legacy) == (True, True)
    assert verify_password("s3cret pass", legacy.replace("$2b$", "$2y$", 1)) == (True, True)
    assert verify_password("y" * 80, legacy) == (False, False)


def test_make_engine_adds_utf8mb4_for_mariadb() -> None:
    engine = make_engine("mysql+pymysql://root@localhost/x")
    assert engine.url.query["charset"] == "utf8mb4"
    engine.dispose()
    with session_scope(make_sessionmaker(make_engine("sqlite://"))) as db:
        assert db.scalar(select(1)) == 1


def test_throttle_counts_each_attempt_before_its_check(sessions: sessionmaker[Session]) -> None:
    now = [1_000_000.0]
    throttle = LoginThrottle(
        per_account=3, per_ip=100, window_seconds=60, clock=lambda: now[0], sessions=sessions
    )
    for _ in range(3):
        throttle.attempt("joko", "10.0.0.1")  # three in flight, none answered yet
    now[0] += 10
    with pytest.raises(Throttled) as refused:
        throttle.attempt("joko", "10.0.0.2")
    assert refused.value.retry_after == 50  # the first of the three leaves the window then
    throttle.success("joko", "10.0.0.1")
    throttle.attempt("joko", "10.0.0.1")
    now[0] += 61
    for _ in range(3):
        throttle.attempt("anna", "10.0.0.1")


def test_throttle_counts_per_address_and_a_success_takes_one_back(
    sessions: sessionmaker[Session],
) -> None:
    now = [1_000_000.0]
    throttle = LoginThrottle(
        per_account=100, per_ip=2, window_seconds=60, clock=lambda: now[0], sessions=sessions
    )
    throttle.attempt("anna", "10.0.0.1")
    throttle.attempt("bert", "10.0.0.1")
    with pytest.raises(Throttled):
        throttle.attempt("carl", "10.0.0.1")
    throttle.attempt("carl", "10.0.0.2")  # another address has its own budget
    throttle.success("bert", "10.0.0.1")
    throttle.attempt("dora", "10.0.0.1")
    with pytest.raises(Throttled):
        throttle.attempt("emil", "10.0.0.1")


def test_throttle_sweeps_expired_attempts_and_keeps_recent_ones(
    sessions: sessionmaker[Session],
) -> None:
    from jopanel.db.models import LoginAttempt

    now = [1_000_000.0]
    throttle = LoginThrottle(
        per_account=2, per_ip=10**6, window_seconds=60, clock=lambda: now[0], sessions=sessions
    )
    throttle.SWEEP_EVERY = 10
    for i in range(8):  # a spray of names, long gone by the sweep
        throttle.attempt(f"spray{i}", "10.0.0.9")
    now[0] += 100
    throttle.attempt("victim", "10.0.0.1")
    throttle.attempt("victim", "10.0.0.1")  # the tenth attempt sweeps
    with session_scope(sessions) as db:
        left = sorted(db.scalars(select(LoginAttempt.key)).all())
    assert left == ["ip:10.0.0.1", "ip:10.0.0.1", "user:victim", "user:victim"]
    with pytest.raises(Throttled):
        throttle.attempt("victim", "10.0.0.1")
