"""README: "soft-deleted package: migrated if a live account still uses it, else skipped".

Checked on the pure plan and end to end on a V1 database (schema.sql's shape with the
ORM's `packages.deleted_at`, so accounts can point at soft-deleted packages).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from jopanel.migrate.introspect import V1Data, V1Package, V1Shape, V1User
from jopanel.migrate.mapping import Options, build_plan
from jopanel.schemas import Limits
from jopanel.settings import Settings
from jopanel.store import ConfigStore
from tests.migrate import v1fixture
from tests.migrate.conftest import run_migration

GONE = datetime(2024, 1, 2, 3, 4, 5)
UNUSED = "soft-deleted in V1 and used by no account"


def _user(i: int, name: str, package_id: int | None, deleted_at: datetime | None) -> V1User:
    return V1User(
        id=i, username=name, email=f"{name}@example.com", password_hash="$2a$04$" + "a" * 53,
        role="user", package_id=package_id, status="active", created_at=datetime(2024, 1, 1),
        updated_at=None, deleted_at=deleted_at, owner_id=None,
    )  # fmt: skip


def test_the_plan_skips_soft_deleted_packages_no_live_account_uses() -> None:
    shape = V1Shape(
        "v1",
        {
            "users": dict.fromkeys(
                ("id", "username", "password_hash", "role", "package_id", "deleted_at"), "x"
            ),
            "packages": {"id": "x", "deleted_at": "x"},
        },
    )
    data = V1Data(shape)
    data.packages = [
        V1Package(1, "Gold", 100, 200, 3, 4, 5, 6, None),  # live, used
        V1Package(2, "Old Plan", 300, 400, 2, 2, 2, 2, GONE),  # gone, used by a live account
        V1Package(3, "Never Used", 1, 1, 1, 1, 1, 1, GONE),  # gone, used by nobody
        V1Package(4, "Ghost", 1, 1, 1, 1, 1, 1, GONE),  # gone, used by a gone account only
        V1Package(5, "Spare", 1, 1, 1, 1, 1, 1, None),  # live, unused: migrated all the same
    ]
    data.users = [
        _user(1, "joko", 1, None),
        _user(2, "sari", 2, None),
        _user(3, "tina", 4, GONE),
        _user(4, "budi", None, None),
    ]
    plan = build_plan(data, Options("example.net", Limits().model_dump(exclude={"schema_version"})))
    assert [(p.v1.id, p.name) for p in plan.packages] == [
        (1, "gold"),
        (2, "old-plan"),
        (5, "spare"),
    ]
    old = plan.packages[1]
    assert "soft-deleted in V1 but used by live accounts: migrated" in old.notes
    skipped = {s.v1_id: s.reason for s in plan.skipped if s.kind == "package"}
    assert skipped == {3: UNUSED, 4: UNUSED}
    packages = {a.username: a.payload["package"] for a in plan.accounts}
    assert packages == {"joko": "gold", "sari": "old-plan", "budi": "default"}


def test_migrate_v1_migrates_a_soft_deleted_package_only_while_a_live_account_uses_it(
    settings: Settings, tmp_path: Path
) -> None:
    with v1fixture.built("documented", 6) as fx:
        used = {
            u["package_id"] for u in fx.users if u["deleted_at"] is None and u["role"] != "admin"
        }
        assert 3 in used and 4 not in used
        gone_user = next(u for u in fx.users if u["username"] == "gone0001")
        conn = v1fixture.connect(fx.database)
        try:
            with conn.cursor() as cur:
                cur.execute("ALTER TABLE packages ADD COLUMN deleted_at TIMESTAMP NULL")
                cur.execute("UPDATE packages SET deleted_at = %s WHERE id IN (3, 4)", (GONE,))
                cur.execute(
                    "INSERT INTO packages (id, name, deleted_at) VALUES (7, 'Ghost Plan', %s)",
                    (GONE,),
                )
                cur.execute("UPDATE users SET package_id = 7 WHERE id = %s", (gone_user["id"],))
            conn.commit()
        finally:
            conn.close()
        report = run_migration(settings, fx.database, tmp_path / "backups")
    outcomes = {o.v1_id: o for o in report.outcomes if o.kind == "package"}
    assert {i: o.result for i, o in outcomes.items()} == {
        1: "migrated",
        2: "migrated",
        3: "migrated",  # soft-deleted, but live accounts still use it
        4: "skipped",  # soft-deleted and used by nobody
        7: "skipped",  # soft-deleted and used only by a soft-deleted account
    }
    assert outcomes[4].reason == outcomes[7].reason == UNUSED
    files = sorted(p.name for p in (settings.root / "etc/jopanel/packages").iterdir())
    assert "unlimited.json" in files
    assert not any(name.startswith(("default-", "ghost")) for name in files), files
    store = ConfigStore(settings)
    for v1_id, name in fx.accounts.items():
        if fx.user(v1_id)["package_id"] == 3:
            assert store.read(name).account.package == "unlimited"
