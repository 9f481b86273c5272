"""Fixtures for the database tests: unique account names, DB logins, and cleanup of every
MariaDB object a test made on the shared server (even when the test fails)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pymysql
import pytest

SOCKET = "/run/mysqld/mysqld.sock"


def root_conn() -> pymysql.Connection:
    return pymysql.connect(user="root", unix_socket=SOCKET, autocommit=True)


def login(user: str, password: str, database: str | None = None) -> pymysql.Connection:
    """Connect as a DB user the way a hosted site would (socket, password)."""
    return pymysql.connect(
        user=user, password=password, unix_socket=SOCKET, database=database, autocommit=True
    )


def drop_prefix(prefix: str) -> None:
    conn = root_conn()
    try:
        with conn.cursor() as cur:
            like = prefix + r"\_%"
            cur.execute(
                "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE %s",
                (like,),
            )
            for (name,) in cur.fetchall():
                cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
            cur.execute(
                "SELECT User, Host FROM mysql.global_priv WHERE User LIKE %s OR User = %s",
                (like, prefix),
            )
            for user, host in cur.fetchall():
                cur.execute("DROP USER IF EXISTS %s@%s", (user, host))
    finally:
        conn.close()


@pytest.fixture
def names() -> Iterator[list[str]]:
    """Unique account names; every database and DB user under them is dropped afterwards."""
    made: list[str] = []
    yield made
    for name in made:
        drop_prefix(name)


@pytest.fixture
def uname(names: list[str]) -> str:
    name = "dbt" + secrets.token_hex(4)
    names.append(name)
    return name
