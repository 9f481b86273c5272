"""One-line errors, and a failed backup stops everything before anything is written."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import cli
from tests.migrate import v1fixture
from tests.migrate.conftest import tree


@pytest.fixture
def small_v1() -> Iterator[v1fixture.Fixture]:
    with v1fixture.built("documented", 5) as fx:
        yield fx


@pytest.fixture
def not_v1() -> Iterator[str]:
    database = v1fixture.random_name()
    conn = v1fixture.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{database}`")
            cur.execute(f"CREATE TABLE `{database}`.wp_posts (id INT PRIMARY KEY)")
        yield database
    finally:
        conn.close()
        v1fixture.drop(database)


def _fails(root: Path, url: str, *extra: str) -> str:
    proc = cli(root, "migrate-v1", "--from", url, "--no-progress", *extra, check=False)
    assert proc.returncode == 9, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("jopanel: "), proc.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mysql+pymysql://root@127.0.0.1:1/jopanel", "cannot reach MariaDB at root@127.0.0.1:1"),
        (
            f"mysql+pymysql://nobody_here:wrong@localhost/jopanel?unix_socket={v1fixture.SOCKET}",
            "access denied to MariaDB as 'nobody_here': wrong credentials?",
        ),
        (
            f"mysql+pymysql://root@localhost/no_such_db_x?unix_socket={v1fixture.SOCKET}",
            "database 'no_such_db_x' does not exist",
        ),
        ("postgresql://root@localhost/x", "--from must be a mysql+pymysql:// URL"),
    ],
)
def test_connection_errors_are_one_line(root: Path, url: str, expected: str) -> None:
    assert expected in _fails(root, url)


def test_a_database_that_is_not_v1_is_refused(root: Path, not_v1: str) -> None:
    line = _fails(root, v1fixture.url(not_v1))
    assert line == (
        f"jopanel: database {not_v1!r} is not a JoPanel V1 database: no `users` table (wp_posts)"
    )


def test_failed_backup_stops_before_anything_is_written(
    root: Path, small_v1: v1fixture.Fixture, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    before = v1fixture.checksums(small_v1.database)
    files = tree(root, ("run",))
    line = _fails(root, v1fixture.url(small_v1.database), "--backup-dir", str(blocker / "x"))
    assert "cannot use backup directory" in line
    assert tree(root, ("run",)) == files
    assert v1fixture.checksums(small_v1.database) == before


def test_small_migration_through_the_cli(
    root: Path, small_v1: v1fixture.Fixture, tmp_path: Path
) -> None:
    url = v1fixture.url(small_v1.database)
    args = ("migrate-v1", "--from", url, "--backup-dir", str(tmp_path / "b"), "--no-progress")
    proc = cli(root, *args, "--default-domain-suffix", "example.net")
    assert "migrated" in proc.stdout and "Rows not migrated" in proc.stdout
    dumps = list((tmp_path / "b").glob("v1-*.sql"))
    assert len(dumps) == 1
    # Same V1, same dump: a second run keeps the one backup instead of adding a copy.
    cli(root, *args, "--default-domain-suffix", "example.net")
    assert list((tmp_path / "b").glob("v1-*.sql")) == dumps


def test_schema_sql_as_written_stops_at_databases(root: Path, tmp_path: Path) -> None:
    """users, packages and domains only: migrated like the full documented shape."""
    database = v1fixture.random_name()
    fx = v1fixture.generate(database, "documented", 5)
    conn = v1fixture.connect()
    try:
        v1fixture.create(conn, fx, as_written=True)
        args = ("--json", "migrate-v1", "--from", v1fixture.url(database), "--no-progress")
        proc = cli(root, *args, "--backup-dir", str(tmp_path / "b"))
        report = json.loads(proc.stdout)
        assert report["shape"] == "documented shape (users, packages, domains)"
        assert report["counts"]["failed"] == 0
        assert sorted(report["backup"]["tables"]) == ["domains", "packages", "users"]
    finally:
        conn.close()
        v1fixture.drop(database)


def test_users_table_without_password_hash_is_not_v1(root: Path) -> None:
    database = v1fixture.random_name()
    conn = v1fixture.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{database}`")
            cur.execute(f"CREATE TABLE `{database}`.users (id INT PRIMARY KEY, username TEXT)")
        line = _fails(root, v1fixture.url(database))
        assert line.endswith("`users` has no column password_hash, role")
    finally:
        conn.close()
        v1fixture.drop(database)


def test_a_password_login_reads_and_backs_up_with_its_password_off_argv(
    root: Path, small_v1: v1fixture.Fixture, tmp_path: Path
) -> None:
    """A V1 login with a password (quotes, backslash, #, spaces): given on stdin, it reaches
    PyMySQL and mariadb-dump (through the 0600 option file), never a command line."""
    user = f"mig_{small_v1.database[-8:]}"
    password = "p\"w \\ # 1'x"
    conn = v1fixture.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE USER %s@'localhost' IDENTIFIED BY %s", (user, password))
            pattern = small_v1.database.replace("_", "\\_") + "%%"  # %% for PyMySQL
            cur.execute(f"GRANT ALL PRIVILEGES ON `{pattern}`.* TO %s@'localhost'", (user,))
        url = f"mysql+pymysql://{user}@localhost/{small_v1.database}"
        base = ("--json", "migrate-v1", "--from", url, "--no-progress", "--password-stdin")
        wrong = cli(root, *base, input="not it\n", check=False)
        assert wrong.returncode == 9 and "wrong credentials?" in wrong.stderr
        proc = cli(root, *base, "--backup-dir", str(tmp_path / "b"), input=password + "\n")
        assert json.loads(proc.stdout)["backup"]["verified"] is True
    finally:
        with conn.cursor() as cur:
            cur.execute("DROP USER IF EXISTS %s@'localhost'", (user,))
        conn.close()
