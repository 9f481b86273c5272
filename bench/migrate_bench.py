"""Migrate 1,000 V1 accounts; print the time and accounts/s next to same-run baselines.

    .venv/bin/python -m bench.migrate_bench [--accounts N]

Needs root and the local MariaDB (unix socket). Builds a throwaway V1 database in the
documented shape (every account with a package and a primary domain), migrates it into a
fresh sandbox root, runs the migration again (nothing to do), and compares with the
floor of any migration: a bare `useradd -U` loop creating as many Linux users.
"""

from __future__ import annotations

import argparse
import secrets
import shutil
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import bcrypt
import pymysql
from rich.console import Console
from rich.table import Table

from jopanel.migrate.introspect import V1Source
from jopanel.migrate.run import MigrateOptions, migrate
from jopanel.settings import load_settings
from jopanel.system.runner import Runner
from jopanel.system.sandbox import init_root

SOCKET = "/run/mysqld/mysqld.sock"
DDL = [
    """CREATE TABLE users (id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
        username VARCHAR(64) NOT NULL UNIQUE, email VARCHAR(255) NOT NULL UNIQUE,
        password_hash VARCHAR(255) NOT NULL,
        role ENUM('admin', 'reseller', 'user') NOT NULL DEFAULT 'user', package_id INT UNSIGNED,
        status ENUM('active', 'suspended', 'pending') NOT NULL DEFAULT 'active',
        created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
        updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
        deleted_at TIMESTAMP NULL)""",
    """CREATE TABLE packages (id INT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
        name VARCHAR(100) NOT NULL, disk_quota_mb INT NOT NULL DEFAULT 1000,
        bandwidth_mb INT NOT NULL DEFAULT 10000, max_domains INT NOT NULL DEFAULT 1,
        max_databases INT NOT NULL DEFAULT 1, max_ftp INT NOT NULL DEFAULT 1,
        max_emails INT NOT NULL DEFAULT 1)""",
    """CREATE TABLE domains (id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
        user_id BIGINT UNSIGNED NOT NULL, domain_name VARCHAR(255) NOT NULL UNIQUE,
        document_root VARCHAR(255) NOT NULL,
        type ENUM('primary', 'addon', 'subdomain', 'alias') NOT NULL DEFAULT 'primary',
        is_ssl_active BOOLEAN DEFAULT FALSE, php_version VARCHAR(10) DEFAULT '8.2')""",
]


def build_v1(database: str, accounts: int) -> None:
    hashes = [bcrypt.hashpw(f"pw{i}".encode(), bcrypt.gensalt(4)).decode() for i in range(4)]
    base = datetime(2023, 1, 1)
    conn: Any = pymysql.connect(unix_socket=SOCKET, user="root", autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4")
            cur.execute(f"USE `{database}`")
            for ddl in DDL:
                cur.execute(ddl)
            cur.executemany(
                "INSERT INTO packages (id, name, disk_quota_mb, max_domains)"
                " VALUES (%s, %s, %s, %s)",
                [(1, "Basic", 1000, 1), (2, "Pro", 5000, 5)],
            )
            users: list[tuple[Any, ...]] = [
                (1, "admin", "admin@example.com", hashes[0], "admin", None, "active", base)
            ]
            for i in range(accounts):
                status = "suspended" if i % 25 == 0 else "active"
                users.append((i + 2, f"site{i:05d}", f"site{i}@example.com", hashes[i % 4],
                              "user", 1 + i % 2, status, base + timedelta(minutes=i)))  # fmt: skip
            cur.executemany(
                "INSERT INTO users (id, username, email, password_hash, role, package_id, status,"
                " created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                users,
            )
            cur.executemany(
                "INSERT INTO domains (user_id, domain_name, document_root, type)"
                " VALUES (%s, %s, %s, 'primary')",
                [(i + 2, f"site{i:05d}.example.com", f"/home/site{i:05d}/public_html")
                 for i in range(accounts)],
            )  # fmt: skip
    finally:
        conn.close()


def drop_v1(database: str) -> None:
    conn: Any = pymysql.connect(unix_socket=SOCKET, user="root", autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{database}`")
    finally:
        conn.close()


def useradd_loop(root: Path, accounts: int) -> float:
    """The floor: create the same number of Linux users (group, home) and nothing else."""
    init_root(load_settings(root))
    runner = Runner()
    started = time.perf_counter()
    for i in range(accounts):
        name = f"site{i:05d}"
        runner.run(["useradd", "--prefix", str(root), "-u", str(20000 + i), "-U",
                    "-d", f"/home/{name}", "-m", "-s", "/bin/bash", name])  # fmt: skip
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=1000)
    args = parser.parse_args()
    accounts: int = args.accounts
    database = f"jopanel_v1_bench_{secrets.token_hex(3)}"
    work = Path(tempfile.mkdtemp(prefix="jopanel-migrate-bench-"))
    console = Console()
    try:
        build_v1(database, accounts)
        settings = load_settings(work / "root")
        init_root(settings)
        options = MigrateOptions(
            source=V1Source.from_url(f"mysql+pymysql://root@localhost/{database}"),
            backup_dir=work / "backups",
            default_domain_suffix="example.net",
            progress=False,
        )
        first = migrate(settings, options)
        second = migrate(settings, options)
        dry = migrate(settings, MigrateOptions(**{**options.__dict__, "dry_run": True}))
        floor = useradd_loop(work / "floor", accounts)
    finally:
        drop_v1(database)
        shutil.rmtree(work, ignore_errors=True)

    migrated = first.counts()["migrated"] - 3  # the admin and the two packages
    table = Table(title=f"migrate-v1: {accounts} V1 accounts (documented shape)")
    for column in ("run", "accounts", "seconds", "accounts/s", "result"):
        table.add_column(column, justify="right" if column != "run" else "left")
    rows = [
        ("migrate-v1 (backup, configs, users, services, logins, verify)", first, migrated),
        ("migrate-v1 again (nothing to do)", second, migrated),
        ("migrate-v1 --dry-run", dry, migrated),
    ]
    for label, report, count in rows:
        result = ", ".join(f"{n} {k}" for k, n in report.counts().items() if n)
        table.add_row(label, str(count), f"{report.seconds:.1f}",
                      f"{count / report.seconds:.1f}", result)  # fmt: skip
    table.add_row("baseline: bare useradd -U -m loop", str(accounts), f"{floor:.1f}",
                  f"{accounts / floor:.1f}", "users only")  # fmt: skip
    console.print(table)
    if first.backup:
        console.print(f"backup verified: {first.backup['tables']}")


if __name__ == "__main__":
    main()
