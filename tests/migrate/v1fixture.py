"""Build real V1 databases on the local MariaDB, in both known shapes, with awkward data.

`build(conn, name, shape, accounts)` creates database `name` and fills it; the returned
`Fixture` says what every row should become, so tests assert on real values.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import bcrypt
import pymysql

SOCKET = "/run/mysqld/mysqld.sock"

# ../shared/v1/schema.sql, with `databases` quoted (unquoted, the script stops there).
DOCUMENTED_DDL = [
    """CREATE TABLE users (
        id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
        username VARCHAR(64) NOT NULL UNIQUE,
        email VARCHAR(255) NOT NULL UNIQUE,
        password_hash VARCHAR(255) NOT NULL,
        role ENUM('admin', 'reseller', 'user') NOT NULL DEFAULT 'user',
        package_id INT UNSIGNED,
        status ENUM('active', 'suspended', 'pending') NOT NULL DEFAULT 'active',
        created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
        updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
        deleted_at TIMESTAMP NULL)""",
    """CREATE TABLE packages (
        id INT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
        name VARCHAR(100) NOT NULL,
        disk_quota_mb INT NOT NULL DEFAULT 1000,
        bandwidth_mb INT NOT NULL DEFAULT 10000,
        max_domains INT NOT NULL DEFAULT 1,
        max_databases INT NOT NULL DEFAULT 1,
        max_ftp INT NOT NULL DEFAULT 1,
        max_emails INT NOT NULL DEFAULT 1)""",
    """CREATE TABLE domains (
        id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
        user_id BIGINT UNSIGNED NOT NULL,
        domain_name VARCHAR(255) NOT NULL UNIQUE,
        document_root VARCHAR(255) NOT NULL,
        type ENUM('primary', 'addon', 'subdomain', 'alias') NOT NULL DEFAULT 'primary',
        is_ssl_active BOOLEAN DEFAULT FALSE,
        php_version VARCHAR(10) DEFAULT '8.2',
        FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE)""",
    """CREATE TABLE `databases` (
        id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
        user_id BIGINT UNSIGNED NOT NULL,
        db_name VARCHAR(64) NOT NULL,
        db_user VARCHAR(64) NOT NULL,
        FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE)""",
    """CREATE TABLE ftp_accounts (
        id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
        user_id BIGINT UNSIGNED NOT NULL,
        username VARCHAR(64) NOT NULL UNIQUE,
        home_dir VARCHAR(255) NOT NULL,
        FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE)""",
    """CREATE TABLE settings (`key` VARCHAR(100) PRIMARY KEY, `value` TEXT)""",
]

# What GORM's AutoMigrate made of V1's Go structs: no package_id, no domains.
ORM_DDL = [
    """CREATE TABLE `users` (
        `id` bigint unsigned AUTO_INCREMENT,
        `created_at` datetime(3) NULL,
        `updated_at` datetime(3) NULL,
        `deleted_at` datetime(3) NULL,
        `username` varchar(191),
        `email` varchar(191),
        `password_hash` longtext,
        `role` varchar(191) DEFAULT 'user',
        `status` varchar(191) DEFAULT 'active',
        PRIMARY KEY (`id`),
        INDEX `idx_users_deleted_at` (`deleted_at`))""",
    """CREATE TABLE `packages` (
        `id` bigint unsigned AUTO_INCREMENT,
        `created_at` datetime(3) NULL,
        `updated_at` datetime(3) NULL,
        `deleted_at` datetime(3) NULL,
        `name` longtext,
        `disk_quota_mb` bigint,
        `bandwidth_mb` bigint,
        `max_domains` bigint,
        `max_databases` bigint,
        `max_emails` bigint,
        PRIMARY KEY (`id`),
        INDEX `idx_packages_deleted_at` (`deleted_at`))""",
]

PASSWORDS = ["V1 secret one", "hunter2 hunter2", "correct horse battery", "admin123"]


def connect(database: str | None = None) -> Any:
    return pymysql.connect(
        unix_socket=SOCKET, user="root", database=database, charset="utf8mb4", autocommit=True
    )


def url(name: str) -> str:
    return f"mysql+pymysql://root@localhost/{name}?unix_socket={SOCKET}"


def random_name() -> str:
    return f"jopanel_v1_{secrets.token_hex(4)}"


_HASHES: list[str] = []


def hashes() -> list[str]:
    """A few real bcrypt hashes (cost 4: bcrypt is slow on purpose), Go's $2a$ and $2b$."""
    if not _HASHES:
        for i, password in enumerate(PASSWORDS):
            hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode()
            _HASHES.append("$2a$" + hashed[4:] if i % 2 == 0 else hashed)
    return _HASHES


@dataclass
class Fixture:
    """The V1 rows written and what V2 should make of them."""

    database: str
    shape: str
    users: list[dict[str, Any]] = field(default_factory=list)
    packages: list[dict[str, Any]] = field(default_factory=list)
    domains: list[dict[str, Any]] = field(default_factory=list)
    # V1 user id -> expected V2 name (accounts) / admins; V1 user id -> skip reason fragment.
    accounts: dict[int, str] = field(default_factory=dict)
    admins: dict[int, str] = field(default_factory=dict)
    skipped: dict[int, str] = field(default_factory=dict)
    passwords: dict[str, str] = field(default_factory=dict)  # V2 name -> plain password

    def user(self, v1_id: int) -> dict[str, Any]:
        return next(u for u in self.users if u["id"] == v1_id)


def _packages(shape: str) -> list[dict[str, Any]]:
    rows = [
        {"id": 1, "name": "Basic", "disk_quota_mb": 1000, "bandwidth_mb": 10000, "max_domains": 1,
         "max_databases": 1, "max_ftp": 1, "max_emails": 5},
        {"id": 2, "name": "Pro Plan", "disk_quota_mb": 5000, "bandwidth_mb": 50000,
         "max_domains": 5, "max_databases": 10, "max_ftp": 5, "max_emails": 50},
        {"id": 3, "name": "Unlimited", "disk_quota_mb": 0, "bandwidth_mb": 0, "max_domains": 0,
         "max_databases": 0, "max_ftp": 0, "max_emails": 0},
        {"id": 4, "name": "default", "disk_quota_mb": 200, "bandwidth_mb": 2000,
         "max_domains": 1, "max_databases": 1, "max_ftp": 1, "max_emails": 1},
    ]  # fmt: skip
    if shape == "orm":
        rows += [
            {"id": 5, "name": "Old Plan", "disk_quota_mb": 300, "bandwidth_mb": 3000,
             "max_domains": 2, "max_databases": 2, "max_ftp": None, "max_emails": 2,
             "deleted_at": datetime(2024, 1, 2, 3, 4, 5)},
            {"id": 6, "name": "Never Used", "disk_quota_mb": 1, "bandwidth_mb": 1,
             "max_domains": 1, "max_databases": 1, "max_ftp": None, "max_emails": 1,
             "deleted_at": datetime(2024, 1, 2, 3, 4, 5)},
        ]  # fmt: skip
    return rows


def generate(database: str, shape: str, accounts: int, seed: int = 7) -> Fixture:
    """Rows for `accounts` plain hosting accounts plus every awkward case, deterministic."""
    rng = random.Random(seed)
    fx = Fixture(database, shape)
    fx.packages = _packages(shape)
    hashed = hashes()
    base = datetime(2023, 5, 1, 12, 0, 0)
    next_id = 1

    def add(username: str, role: str = "user", **extra: Any) -> dict[str, Any]:
        nonlocal next_id
        index = next_id % len(hashed)
        row = {
            "id": next_id,
            "username": username,
            "email": f"{username.strip().lower()}-{next_id}@example.com",
            "password_hash": hashed[index],
            "role": role,
            "package_id": 1 + next_id % 3,
            "status": "active",
            "created_at": base + timedelta(hours=next_id),
            "updated_at": base + timedelta(hours=next_id, minutes=5),
            "deleted_at": None,
            "_password": PASSWORDS[index],
        }
        row.update(extra)
        fx.users.append(row)
        next_id += 1
        return row

    # V1's own seeded admin, and a second admin with an uppercase name.
    admin = add("admin", "admin", email="admin@jopanel.local", package_id=None)
    fx.admins[admin["id"]] = "admin"
    ops = add("Ops", "admin", package_id=None)
    fx.admins[ops["id"]] = "ops"
    gone_admin = add("oldadmin", "admin", deleted_at=base)
    fx.skipped[gone_admin["id"]] = "soft-deleted"
    resellers = []
    for i in range(3):
        row = add(f"reseller{i}", "reseller")
        fx.accounts[row["id"]] = row["username"]
        resellers.append(row)
    for i in range(accounts):
        name = f"user{i:04d}"
        row = add(name)
        fx.accounts[row["id"]] = name
        roll = rng.random()
        if roll < 0.04:
            row["status"] = "suspended"
        elif roll < 0.08:
            row["status"] = "pending"
        if i % 50 == 7:
            row["package_id"] = None
        elif i % 50 == 9 and shape == "documented":
            row["package_id"] = 999  # dangling
        elif i % 50 == 11 and shape == "orm":
            row["package_id"] = 5  # soft-deleted package, still used (ORM: no column anyway)
        if i % 40 == 3:
            row["email"] = f"not-an-email-{i}"
    # Awkward usernames: migrated after normalisation, or skipped with a reason.
    upper = add("CamelCase1")
    fx.accounts[upper["id"]] = "camelcase1"
    spaced = add(" padded9")
    fx.accounts[spaced["id"]] = "padded9"
    for bad, reason in (("ab", "is not valid"), ("bad.name", "is not valid"),
                        ("1abc", "is not valid"), ("waytoolongusername17", "is not valid"),
                        ("root", "reserved"), ("josé", "non-ASCII")):  # fmt: skip
        row = add(bad)
        fx.skipped[row["id"]] = reason
    # A duplicate once lowercased: the lowercase spelling wins.
    if shape == "orm":  # the documented schema's UNIQUE (case-insensitive) forbids it
        first = add("Dupuser")
        second = add("dupuser")
        fx.accounts[second["id"]] = "dupuser"
        fx.skipped[first["id"]] = "duplicate"
    else:
        first = add("dupuser")
        second = add(" dupuser")
        fx.accounts[first["id"]] = "dupuser"
        fx.skipped[second["id"]] = "duplicate"
    # Soft-deleted hosting accounts, one sharing its name with a live one (not a duplicate).
    for name in ("gone0001", "gone0002", "user0003" if shape == "orm" else "gone0003"):
        row = add(name, deleted_at=base + timedelta(days=3))
        fx.skipped[row["id"]] = "soft-deleted"
    if shape == "orm":  # the documented schema's ENUM refuses it
        weird_role = add("oddrole", "operator")
        fx.skipped[weird_role["id"]] = "unknown V1 role"
    nohash = add("nohash1", password_hash="plaintext!")
    fx.accounts[nohash["id"]] = "nohash1"
    if shape == "orm":
        owned = add("owned1", status="")
        fx.accounts[owned["id"]] = "owned1"
    for row in fx.users:
        if shape == "orm":
            row["package_id"] = None
        if row["id"] in fx.accounts and row["password_hash"].startswith("$2"):
            fx.passwords[fx.accounts[row["id"]]] = row["_password"]
        if row["id"] in fx.admins:
            fx.passwords[fx.admins[row["id"]]] = row["_password"]
    if shape == "documented":
        _domains(fx, rng)
    return fx


def _domains(fx: Fixture, rng: random.Random) -> None:
    next_id = 1
    used: set[str] = set()

    def add(user_id: int, name: str, kind: str, docroot: str, **extra: Any) -> None:
        nonlocal next_id
        if name.lower() in used:  # the column is UNIQUE (case-insensitive)
            return
        used.add(name.lower())
        row = {"id": next_id, "user_id": user_id, "domain_name": name, "type": kind,
               "document_root": docroot, "is_ssl_active": False, "php_version": "8.2"}  # fmt: skip
        row.update(extra)
        fx.domains.append(row)
        next_id += 1

    for user in fx.users:
        if user["role"] == "admin":
            continue
        name = user["username"].strip()
        home = f"/home/{name}"
        i = user["id"]
        if name == "user0010":
            add(i, "bad_domain!.com", "primary", f"{home}/public_html")  # illegal primary
            continue
        if name == "user0011":
            continue  # no domain at all
        primary = f"{name.lower()}.example.com"
        php = "7.4" if i % 9 == 0 else "8.2"
        add(i, primary, "primary", f"{home}/public_html", php_version=php,
            is_ssl_active=i % 5 == 0)  # fmt: skip
        if i % 4 == 0:
            add(
                i,
                f"shop{i}.example.net",
                "addon",
                f"{home}/domains/shop{i}.example.net/public_html",
            )
            add(i, f"blog.shop{i}.example.net", "subdomain", f"{home}/blog")
        if i % 6 == 0:
            add(i, f"www{i}.example.org", "alias", f"{home}/public_html")
        if i % 10 == 1:
            add(i, f"news.{primary}", "subdomain", "/var/www/elsewhere")
        if i % 97 == 5:
            add(i, f"-bad{i}.example.com", "addon", f"{home}/x")  # illegal addon
        if i % 101 == 3:
            add(i, f"bücher{i}.de", "addon", f"{home}/domains/b/public_html")
        if i % 101 == 4:
            # The punycode of another account's IDN addon: a duplicate once normalised.
            add(i, f"xn--bcher{i - 1}-{_puny_tail(i - 1)}.de", "addon", f"{home}/d")
    rng.shuffle(fx.domains)  # ids stay; insertion order must not matter


def _puny_tail(i: int) -> str:
    import idna

    return idna.encode(f"bücher{i}.de").decode().split(".")[0].rsplit("-", 1)[1]


def create(conn: Any, fx: Fixture, *, as_written: bool = False) -> None:
    """Create the database and insert every row of `fx`.

    `as_written`: schema.sql run as it stands stops at the unquoted `databases`, leaving
    users, packages and domains only.
    """
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{fx.database}` CHARACTER SET utf8mb4")
        cur.execute(f"USE `{fx.database}`")
        ddls = DOCUMENTED_DDL if fx.shape == "documented" else ORM_DDL
        for ddl in ddls[:3] if as_written else ddls:
            cur.execute(ddl)
        package_columns = ["id", "name", "disk_quota_mb", "bandwidth_mb", "max_domains",
                           "max_databases", "max_emails"]  # fmt: skip
        if fx.shape == "documented":
            package_columns.append("max_ftp")
        else:
            package_columns.append("deleted_at")
        _insert(cur, "packages", package_columns, fx.packages)
        user_columns = ["id", "username", "email", "password_hash", "role", "status",
                        "created_at", "updated_at", "deleted_at"]  # fmt: skip
        if fx.shape == "documented":
            user_columns.append("package_id")
        _insert(cur, "users", user_columns, fx.users)
        if fx.shape == "documented":
            columns = ["id", "user_id", "domain_name", "document_root", "type", "is_ssl_active",
                       "php_version"]  # fmt: skip
            _insert(cur, "domains", columns, fx.domains)
            if as_written:
                return
            first = fx.users[5]["id"]
            cur.execute(
                "INSERT INTO `databases` (user_id, db_name, db_user) VALUES (%s, %s, %s)",
                (first, "reseller2_wp", "reseller2_wp"),
            )
            cur.execute(
                "INSERT INTO ftp_accounts (user_id, username, home_dir) VALUES (%s, %s, %s)",
                (first, "reseller2_ftp", "/home/reseller2/public_html"),
            )
            cur.execute("INSERT INTO settings VALUES ('site_name', 'JoPanel V1')")


def _insert(cur: Any, table: str, columns: list[str], rows: list[dict[str, Any]]) -> None:
    quoted = ", ".join(f"`{c}`" for c in columns)
    marks = ", ".join(["%s"] * len(columns))
    cur.executemany(
        f"INSERT INTO `{table}` ({quoted}) VALUES ({marks})",
        [tuple(row.get(c) for c in columns) for row in rows],
    )


def checksums(database: str) -> dict[str, Any]:
    """CHECKSUM TABLE of every table: proof that V1 was not modified."""
    conn = connect(database)
    try:
        with conn.cursor() as cur:
            cur.execute("SHOW FULL TABLES WHERE Table_type = 'BASE TABLE'")
            tables = sorted(row[0] for row in cur.fetchall())
            result = {}
            for table in tables:
                cur.execute(f"CHECKSUM TABLE `{table}`")
                result[table] = cur.fetchone()[1]
            return result
    finally:
        conn.close()


def drop(database: str) -> None:
    conn = connect()
    try:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{database}`")
            cur.execute("SHOW DATABASES LIKE %s", (f"{database}_jopanel_verify_%",))
            for (scratch,) in cur.fetchall():
                cur.execute(f"DROP DATABASE IF EXISTS `{scratch}`")
    finally:
        conn.close()


@contextmanager
def built(shape: str, accounts: int) -> Iterator[Fixture]:
    """A throwaway V1 database of `accounts` accounts, dropped afterwards."""
    fx = generate(random_name(), shape, accounts)
    conn = connect()
    try:
        create(conn, fx)
        yield fx
    finally:
        conn.close()
        drop(fx.database)
