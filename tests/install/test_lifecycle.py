"""upgrade and uninstall on a sandbox root, and install with --database-url on MariaDB."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import pymysql
import pytest

from tests.conftest import cli

MARIADB_SOCKET = "/run/mysqld/mysqld.sock"


def test_upgrade_then_uninstall_keeps_accounts(tmp_path: Path) -> None:
    root = tmp_path / "root"
    cli(root, "install", "--no-systemd")
    cli(root, "user", "create", "joko", "--domain", "joko.example.com",
        "--email", "joko@example.com", "--password-stdin", input="correct horse 1\n")  # fmt: skip
    vhost = root / "etc/nginx/sites-available/jopanel-joko.conf"
    vhost.unlink()  # a lost config: upgrade regenerates it
    upgraded = json.loads(cli(root, "--json", "upgrade", "--no-systemd").stdout)
    assert "regenerated the configs of 1 accounts" in upgraded["done"]
    assert vhost.is_file()

    removed = json.loads(cli(root, "--json", "uninstall", "--no-systemd").stdout)["done"]
    assert any(line.endswith("jopanel-api.service") for line in removed)
    assert not (root / "etc/systemd/system/jopanel-agent.service").exists()
    assert not (root / "etc/nginx/sites-enabled/jopanel.conf").exists()
    assert not (root / "etc/nginx/sites-available/jopanel.conf").exists()
    # Accounts, their files, the settings, the database and the service user stay.
    assert (root / "etc/jopanel/users/joko/account.json").is_file()
    assert vhost.is_file() and (root / "home/joko/public_html").is_dir()
    assert (root / "etc/jopanel/jopanel.toml").is_file()
    assert (root / "var/lib/jopanel-api/jopanel.db").is_file()
    assert "jopanel:" in (root / "etc/passwd").read_text()
    again = json.loads(cli(root, "--json", "uninstall", "--no-systemd").stdout)
    assert again["done"] == []
    assert "joko" in cli(root, "user", "list").stdout


def test_a_bad_database_url_is_refused_before_anything(tmp_path: Path) -> None:
    root = tmp_path / "root"
    proc = cli(root, "install", "--no-systemd", "--database-url", "oracle://x@y/z", check=False)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "database URL" in proc.stderr
    assert not root.exists()


@pytest.fixture
def mariadb_url() -> Iterator[tuple[str, str]]:
    name = f"jptest_{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(12)
    yield name, f"mysql+pymysql://{name}:{password}@localhost/{name}?unix_socket={MARIADB_SOCKET}"
    conn = pymysql.connect(user="root", unix_socket=MARIADB_SOCKET, autocommit=True)
    with conn.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        for host in ("localhost", "127.0.0.1"):
            cursor.execute("DROP USER IF EXISTS %s@%s", (name, host))
    conn.close()


def test_install_with_a_mariadb_url_creates_migrates_and_tests_it(
    tmp_path: Path, mariadb_url: tuple[str, str]
) -> None:
    name, url = mariadb_url
    root = tmp_path / "root"
    report = json.loads(
        cli(root, "--json", "install", "--no-systemd", "--database-url", url).stdout
    )
    assert f"created the MariaDB database {name}" in report["done"]
    assert report["admin_password"]
    assert f'database_url = "{url}"' in (root / "etc/jopanel/jopanel.toml").read_text()
    conn = pymysql.connect(user="root", unix_socket=MARIADB_SOCKET, database=name)
    with conn.cursor() as cursor:
        cursor.execute("SELECT username, role FROM users")
        assert cursor.fetchall() == (("admin", "admin"),)
    conn.close()
    again = json.loads(cli(root, "--json", "install", "--no-systemd", "--database-url", url).stdout)
    assert again == {"done": [], "admin_password": None}
    rows = {r["check"]: r for r in json.loads(cli(root, "--json", "doctor").stdout)}
    assert rows["database"]["status"] == "ok"
