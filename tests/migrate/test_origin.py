"""Where an imported account came from is `meta.origin`, which only `import_user` writes.

The notes (which the API may rewrite) repeat it for people but decide nothing: a re-import
recognises, keeps, updates or refuses an account by the field alone. Accounts imported
before the field existed are recognised from a revision the import itself wrote.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from jopanel.agent.context import AgentContext
from jopanel.agent.registry import OpResult, execute
from jopanel.errors import Conflict, ValidationFailed
from jopanel.schemas.changes import MetaPatch
from jopanel.settings import Settings, load_settings
from jopanel.store import ConfigStore
from tests.conftest import Op
from tests.migrate.test_import_op import payload
from tests.test_rollback import snapshot

ORIGIN = "v1:users.id=7"


def as_(ctx: AgentContext, actor: str, op_name: str, **body: Any) -> OpResult:
    return execute(ctx, op_name, body, actor=actor)


def meta(settings: Settings, name: str = "sari") -> Any:
    return ConfigStore(settings).read(name).meta


def make_legacy(settings: Settings, name: str = "sari") -> None:
    """Turn an import into one made before meta.origin existed (origin only in the notes)."""
    for path in sorted((settings.revisions_dir / name).glob("*/meta.json")):
        document = json.loads(path.read_text())
        document.pop("origin", None)
        path.write_text(json.dumps(document, indent=2) + "\n")
    assert meta(settings, name).origin is None


def test_the_import_records_its_origin_in_its_own_field(op: Op, settings: Settings) -> None:
    op("import_user", **payload())
    recorded = meta(settings)
    assert recorded.origin == ORIGIN
    assert recorded.notes.startswith(f"Imported ({ORIGIN}).")  # for people
    assert json.loads((settings.users_dir / "sari/meta.json").read_text())["origin"] == ORIGIN


@pytest.mark.parametrize(
    "notes",
    ["Imported (v1:users.id=8).", "", "a note of the reseller's", f"Imported ({ORIGIN}). edited"],
    ids=["claims-another-id", "line-removed", "replaced", "line-edited"],
)
def test_rewriting_the_notes_changes_no_decision(
    op: Op, ctx: AgentContext, settings: Settings, notes: str
) -> None:
    op("import_user", **payload())
    as_(ctx, "reseller1", "update_user_config", username="sari", meta={"notes": notes})
    assert meta(settings).origin == ORIGIN
    before = ConfigStore(settings).read("sari")
    # Still this V1 row's account; edited in V2 since the import, so kept as it is...
    again = op("import_user", **payload())
    assert again.data["action"] == "kept"
    assert ConfigStore(settings).read("sari") == before
    # ...and never another row's, whatever the notes now say.
    with pytest.raises(Conflict, match="was not imported from v1:users.id=8"):
        op("import_user", **payload(origin="v1:users.id=8"))
    assert ConfigStore(settings).read("sari") == before


def test_notes_naming_a_v1_row_do_not_make_a_v2_account_importable(
    root: Path, op: Op, ctx: AgentContext
) -> None:
    as_(ctx, "reseller1", "create_user", username="sari", contact_email="s@example.com",
        primary_domain="sari.example.com")  # fmt: skip
    as_(ctx, "reseller1", "update_user_config", username="sari",
        meta={"notes": f"Imported ({ORIGIN}).\nAdopted the Linux user that existed."})  # fmt: skip
    before = snapshot(root)
    with pytest.raises(Conflict, match=f"was not imported from {ORIGIN}"):
        op("import_user", **payload())
    with pytest.raises(Conflict, match=f"was not imported from {ORIGIN}"):
        op("import_user", dry_run=True, **payload())
    assert snapshot(root) == before


def test_no_api_or_cli_payload_carries_origin(op: Op, ctx: AgentContext) -> None:
    # One MetaPatch (jopanel.schemas.changes) for the API body and the agent payload.
    assert set(MetaPatch.model_fields) == {"notes"}
    op("import_user", **payload())
    with pytest.raises(ValidationFailed):
        as_(ctx, "reseller1", "update_user_config", username="sari",
            meta={"origin": "v1:users.id=8"})  # fmt: skip


def test_a_rollback_keeps_the_origin(op: Op, ctx: AgentContext, settings: Settings) -> None:
    op("import_user", **payload())
    make_legacy(settings)  # revision 1: no field
    assert op("import_user", **payload()).data["action"] == "updated"  # 2: field recorded
    as_(ctx, "reseller1", "update_user_config", username="sari",
        account={"contact_email": "new@example.org"})  # fmt: skip
    as_(ctx, "reseller1", "user_rollback", username="sari", seq=1)  # 4: revision 1's content
    restored = ConfigStore(settings).read("sari")
    assert restored.account.contact_email == "sari@example.com"
    assert restored.meta.origin == ORIGIN
    assert restored.meta.audit.last_action == "rollback:1"
    assert op("import_user", **payload()).data["action"] == "unchanged"


# --- accounts imported before meta.origin existed ---------------------------------------


def test_a_legacy_import_is_recognised_and_its_origin_recorded(op: Op, settings: Settings) -> None:
    op("import_user", **payload())
    make_legacy(settings)
    first = op("import_user", **payload())
    assert (first.changed, first.data["action"]) == (True, "updated")
    assert meta(settings).origin == ORIGIN
    again = op("import_user", **payload())
    assert (again.changed, again.data["action"]) == (False, "unchanged")


def test_a_legacy_import_edited_in_v2_is_kept_and_its_origin_recorded(
    op: Op, ctx: AgentContext, settings: Settings
) -> None:
    op("import_user", **payload())
    as_(ctx, "reseller1", "update_user_config", username="sari",
        meta={"notes": "Imported (v1:users.id=8)."},
        account={"contact_email": "new@example.org"})  # fmt: skip
    make_legacy(settings)
    # The current notes name row 8; the revision the import wrote names row 7.
    with pytest.raises(Conflict, match="was not imported from v1:users.id=8"):
        op("import_user", **payload(origin="v1:users.id=8"))
    assert meta(settings).origin is None
    store = ConfigStore(settings)
    before = store.read("sari")
    dry = op("import_user", dry_run=True, **payload())
    assert dry.data["action"] == "kept" and store.read("sari") == before
    kept = op("import_user", **payload())
    assert kept.data["action"] == "kept"
    after = store.read("sari")
    assert after.meta.origin == ORIGIN
    assert after.meta.notes == before.meta.notes
    assert after.account.contact_email == "new@example.org"
    assert after.meta.audit.last_action == "import:origin"
    # Recorded once: from now on the field decides, and the account stays V2's.
    again = op("import_user", **payload())
    assert (again.changed, again.data["action"]) == (False, "kept")
    assert store.read("sari") == after


def test_a_legacy_import_whose_import_revision_is_gone_is_refused(root: Path) -> None:
    ctx = AgentContext(load_settings(root, history_limit=2))
    as_(ctx, "migrate-v1", "import_user", **payload())
    for email in ("a@example.org", "b@example.org"):
        as_(ctx, "reseller1", "update_user_config", username="sari",
            account={"contact_email": email})  # fmt: skip
    make_legacy(ctx.settings)
    history = as_(ctx, "x", "user_history", username="sari").data
    assert "import" not in [h["action"] for h in history]
    with pytest.raises(Conflict, match=f"was not imported from {ORIGIN}"):
        as_(ctx, "migrate-v1", "import_user", **payload())


# --- the same through migrate-v1 (local MariaDB) -----------------------------------------


def test_migrate_v1_reruns_go_by_the_origin_field_not_the_notes(
    settings: Settings, tmp_path: Path
) -> None:
    from tests.migrate import v1fixture
    from tests.migrate.conftest import _db, run_migration

    def outcomes() -> dict[str, Any]:
        report = run_migration(settings, fx.database, tmp_path / "backups")
        return {o.v2_name: o for o in report.outcomes if o.kind == "account" and o.v2_name}

    with v1fixture.built("documented", 6) as fx:
        ids = {name: v1_id for v1_id, name in fx.accounts.items()}
        ctx = AgentContext(settings)
        # A V2 account of a V1 row's name whose notes claim that row: not the row's account.
        as_(ctx, "reseller1", "create_user", username="user0003",
            contact_email="n@example.org", primary_domain="native3.example.org")  # fmt: skip
        as_(ctx, "reseller1", "update_user_config", username="user0003",
            meta={"notes": f"Imported (v1:users.id={ids['user0003']})."})  # fmt: skip
        first = outcomes()
        assert (first["user0003"].result, first["user0003"].reason) == (
            "failed",
            f"V2 account 'user0003' exists and was not imported from v1:users.id={ids['user0003']}",
        )
        assert "user0003" not in {u for u, _h, _r in _db(settings)["logins"]}
        store = ConfigStore(settings)
        assert store.read("user0003").meta.origin is None
        for name in ("user0000", "user0001", "user0002", "user0004"):
            assert first[name].action == "created"
            assert store.read(name).meta.origin == f"v1:users.id={ids[name]}"
        # Resellers rewrite notes: claim another row, drop the line; user0004 is the control.
        edits = {
            "user0001": f"Imported (v1:users.id={ids['user0002']}).",
            "user0002": "",
            "user0004": "a reseller's note",
        }
        for name, notes in edits.items():
            as_(ctx, "reseller1", "update_user_config", username=name, meta={"notes": notes})
        second = outcomes()
        for name in edits:
            assert (second[name].result, second[name].action) == ("migrated", "kept"), name
            assert store.read(name).meta.origin == f"v1:users.id={ids[name]}"
            assert store.read(name).meta.notes == edits[name]
        assert second["user0000"].action == "unchanged"
        assert second["user0003"].result == "failed"
