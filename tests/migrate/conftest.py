"""Session-wide migrations of both V1 shapes (500+ accounts each), built once and shared.

Each shape gets its own throwaway MariaDB database (dropped at the end) and its own
sandbox root prepared like a server that already runs V2: a Linux user to adopt, one
that cannot be adopted, and a native V2 account holding a domain V1 also has.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from jopanel.agent.context import AgentContext
from jopanel.agent.registry import execute
from jopanel.db.models import AccountIndex, PanelUser
from jopanel.db.session import engine_for, make_sessionmaker, session_scope
from jopanel.migrate.introspect import V1Source
from jopanel.migrate.report import Report
from jopanel.migrate.run import MigrateOptions, migrate
from jopanel.settings import Settings, load_settings
from jopanel.system.sandbox import init_root
from tests.migrate import v1fixture

ACCOUNTS = 500
SUFFIX = "example.net"
SHADOW_OF_ADOPTED = "$6$saltsalt$" + "a" * 86  # the adopted user's own password: kept


@dataclass
class Migrated:
    shape: str
    fx: v1fixture.Fixture
    root: Path
    settings: Settings
    report: Report
    checksums: dict[str, Any]
    backup_dir: Path

    def outcome(self, kind: str, v1_id: int) -> Any:
        return next(o for o in self.report.outcomes if o.kind == kind and o.v1_id == v1_id)

    def account(self, v2_name: str) -> Any:
        return next(o for o in self.report.outcomes if o.kind == "account" and o.v2_name == v2_name)


def native_domain(shape: str) -> str:
    """A hostname a native V2 account holds before the migration, which V1 also wants."""
    return "user0012.example.com" if shape == "documented" else f"user0012.{SUFFIX}"


def prepare_root(root: Path, shape: str) -> Settings:
    """A V2 server before the migration: init, two existing Linux users, one V2 account."""
    settings = load_settings(root)
    init_root(settings)
    prefix = ["--prefix", str(root)]
    # user0005 exists already: adopted with its uid, home (and the file in it), password.
    subprocess.run(["groupadd", *prefix, "-g", "15005", "user0005"], check=True)
    subprocess.run(
        ["useradd", *prefix, "-u", "15005", "-g", "15005", "-d", "/home/user0005", "-M",
         "-s", "/bin/sh", "-p", SHADOW_OF_ADOPTED, "user0005"],
        check=True,
    )  # fmt: skip
    home = root / "home/user0005"
    home.mkdir(parents=True)
    (home / "keep.txt").write_text("site data from before\n")
    os.chown(home, 15005, 15005)
    # user0006 exists with a home elsewhere: not adoptable, reported as failed.
    subprocess.run(["groupadd", *prefix, "-g", "15006", "user0006"], check=True)
    subprocess.run(
        ["useradd", *prefix, "-u", "15006", "-g", "15006", "-d", "/srv/user0006", "-M",
         "user0006"],
        check=True,
    )  # fmt: skip
    ctx = AgentContext(settings)
    execute(
        ctx,
        "create_user",
        {"username": "nativeone", "contact_email": "n@example.com",
         "primary_domain": native_domain(shape)},
        actor="test",
    )  # fmt: skip
    return settings


def run_migration(
    settings: Settings, database: str, backup_dir: Path | None, **extra: Any
) -> Report:
    options = MigrateOptions(
        source=V1Source.from_url(v1fixture.url(database)),
        backup_dir=backup_dir,
        default_domain_suffix=SUFFIX,
        progress=False,
        **extra,
    )
    return migrate(settings, options)


def _build(shape: str, factory: pytest.TempPathFactory) -> Iterator[Migrated]:
    database = v1fixture.random_name()
    fx = v1fixture.generate(database, shape, ACCOUNTS)
    conn = v1fixture.connect()
    try:
        v1fixture.create(conn, fx)
    finally:
        conn.close()
    try:
        base = factory.mktemp(f"migrate-{shape}")
        settings = prepare_root(base / "root", shape)
        checksums = v1fixture.checksums(database)
        backup_dir = base / "backups"
        report = run_migration(settings, database, backup_dir)
        yield Migrated(shape, fx, base / "root", settings, report, checksums, backup_dir)
    finally:
        v1fixture.drop(database)


@pytest.fixture(scope="session")
def documented(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Migrated]:
    """schema.sql's shape, migrated once for the whole session."""
    yield from _build("documented", tmp_path_factory)


@pytest.fixture(scope="session")
def orm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Migrated]:
    """The Go ORM's shape, migrated once for the whole session."""
    yield from _build("orm", tmp_path_factory)


@pytest.fixture(scope="session", params=["documented", "orm"])
def migrated(request: pytest.FixtureRequest) -> Migrated:
    """Each shape in turn."""
    result: Migrated = request.getfixturevalue(str(request.param))
    return result


# --- comparing end states ----------------------------------------------------------------

VOLATILE_ACCOUNT = ("updated_at",)


def _documents(root: Path) -> dict[str, Any]:
    import json

    users = root / "etc/jopanel/users"
    result: dict[str, Any] = {}
    for entry in sorted(users.iterdir()):
        if entry.name.startswith("."):
            continue
        docs = {f.stem: json.loads(f.read_text()) for f in sorted(entry.iterdir())}
        for key in VOLATILE_ACCOUNT:
            docs["account"].pop(key)
        if not docs["meta"]["notes"].startswith("Imported ("):
            docs["account"].pop("created_at")  # made by prepare_root, not migrated
        docs["meta"].pop("audit")
        docs["meta"].pop("last_applied_revision")
        result[entry.name] = docs
    return result


def _lines(path: Path, keep: int) -> list[str]:
    """Account lines (uid/gid >= 1000), only the first `keep` fields (no change dates)."""
    out = []
    for line in path.read_text().splitlines():
        fields = line.split(":")
        out.append(":".join(fields[:keep]))
    return sorted(out)


def _generated(root: Path) -> dict[str, str]:
    """Generated web/PHP/SSH files, with the root path written as ROOT."""
    files = {}
    for base in ("etc/nginx", "etc/php", "etc/ssh"):
        for path in sorted((root / base).rglob("*jopanel-*")):
            if path.is_file():
                text = path.read_text().replace(str(root), "ROOT")
                files[str(path.relative_to(root))] = hashlib.sha256(text.encode()).hexdigest()
    return files


def _db(settings: Settings) -> dict[str, Any]:
    engine = engine_for(settings)
    try:
        with session_scope(make_sessionmaker(engine)) as db:
            logins = sorted(
                (u.username, u.password_hash, u.role) for u in db.scalars(select(PanelUser))
            )
            index = sorted(
                (r.username, r.contact_email, r.primary_domain, r.package, r.status, r.owner)
                for r in db.scalars(select(AccountIndex))
            )
        return {"logins": logins, "index": index}
    finally:
        engine.dispose()


def end_state(root: Path) -> dict[str, Any]:
    """Everything the migration decides, comparable between two roots."""
    settings = load_settings(root)
    claims = root / "etc/jopanel/domains"
    homes = {
        p.name: (p.stat().st_uid, p.stat().st_gid, oct(p.stat().st_mode))
        for p in sorted((root / "home").iterdir())
    }
    return {
        "documents": _documents(root),
        "passwd": _lines(root / "etc/passwd", 7),
        "group": _lines(root / "etc/group", 4),
        "shadow": _lines(root / "etc/shadow", 2),
        "claims": {p.name: os.readlink(p) for p in sorted(claims.iterdir())},
        "packages": {
            p.name: p.read_text() for p in sorted((root / "etc/jopanel/packages").iterdir())
        },
        "homes": homes,
        "generated": _generated(root),
        "db": _db(settings),
    }


def tree(root: Path, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """Every path under root with its type, mode, owner and content hash."""
    result: dict[str, Any] = {}
    for directory, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(directory, root)
        if any(rel_dir == s or rel_dir.startswith(s + "/") for s in skip):
            dirnames[:] = []
            continue
        for name in dirnames + filenames:
            path = Path(directory) / name
            rel = str(path.relative_to(root))
            st = path.lstat()
            if path.is_symlink():
                result[rel] = ("link", os.readlink(path))
            elif path.is_file():
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                result[rel] = ("file", oct(st.st_mode), st.st_uid, st.st_gid, digest)
            else:
                result[rel] = ("dir", oct(st.st_mode), st.st_uid, st.st_gid)
    return result
