"""Running again after V1 or V2 changed: V1 changes are taken in, V2 edits are never undone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from jopanel.agent.context import AgentContext
from jopanel.agent.registry import execute
from jopanel.settings import Settings
from jopanel.store import ConfigStore
from tests.migrate import v1fixture
from tests.migrate.conftest import run_migration


@pytest.fixture
def small_v1() -> Iterator[v1fixture.Fixture]:
    with v1fixture.built("documented", 6) as fx:
        yield fx


def _actions(settings: Settings, fx: v1fixture.Fixture, tmp_path: Path) -> dict[str, str]:
    report = run_migration(settings, fx.database, tmp_path / "backups")
    return {str(o.v2_name): o.action for o in report.outcomes if o.kind == "account" and o.v2_name}


def test_v1_changes_are_taken_in_and_v2_edits_kept(
    settings: Settings, small_v1: v1fixture.Fixture, tmp_path: Path
) -> None:
    assert set(_actions(settings, small_v1, tmp_path).values()) == {"created"}
    # An admin edits user0001 in V2; meanwhile V1 (still live) changes user0002 and user0001.
    ctx = AgentContext(settings)
    execute(
        ctx,
        "update_user_config",
        {"username": "user0001", "account": {"contact_email": "new@example.org"}},
        actor="admin",
    )
    conn = v1fixture.connect(small_v1.database)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "UPDATE users SET email = CONCAT(username, '@moved.example.com'),"
                " status = 'suspended' WHERE username IN ('user0001', 'user0002')"
            )
    finally:
        conn.close()
    actions = _actions(settings, small_v1, tmp_path)
    assert actions["user0001"] == "kept"
    assert actions["user0002"] == "updated"
    assert {a for n, a in actions.items() if n not in ("user0001", "user0002")} == {"unchanged"}
    store = ConfigStore(settings)
    assert store.read("user0001").account.contact_email == "new@example.org"
    updated = store.read("user0002").account
    assert (updated.contact_email, updated.status) == ("user0002@moved.example.com", "suspended")
    shadow = (settings.root / "etc/shadow").read_text().splitlines()
    assert next(line for line in shadow if line.startswith("user0002:")).split(":")[1][0] == "!"
    assert set(_actions(settings, small_v1, tmp_path).values()) == {"unchanged", "kept"}


def test_a_v2_admin_of_the_same_name_is_kept(
    root: Path, settings: Settings, small_v1: v1fixture.Fixture, tmp_path: Path
) -> None:
    from tests.conftest import cli
    from tests.migrate.conftest import _db

    cli(root, "admin", "create", "admin", "--password-stdin", input="the V2 password\n")
    before = {u: h for u, h, _r in _db(settings)["logins"]}["admin"]
    report = run_migration(settings, small_v1.database, tmp_path / "backups")
    admin = next(o for o in report.outcomes if o.kind == "admin" and o.v2_name == "admin")
    assert (admin.result, admin.reason) == (
        "skipped",
        "a V2 panel login 'admin' (admin) exists already: kept",
    )
    assert {u: h for u, h, _r in _db(settings)["logins"]}["admin"] == before
