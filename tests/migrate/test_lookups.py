"""The read-only ops migrate-v1 checks accounts with (agent/ops/lookups.py), and the
summary `import_user` answers; the migration itself never reaches into the agent."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from jopanel.agent.client import LocalAgent
from jopanel.agent.context import AgentContext
from jopanel.errors import ValidationFailed
from jopanel.schemas.summary import AccountSummary
from jopanel.settings import Settings
from jopanel.system.accounts import SystemAccounts
from jopanel.system.accounts_cache import CachedAccounts
from tests.conftest import Op, new_user
from tests.migrate.test_import_op import HASH, payload

MIGRATE = Path(__file__).resolve().parents[2] / "jopanel" / "migrate"


def test_domain_owners_counts_only_live_accounts(op: Op, ctx: AgentContext) -> None:
    new_user(op, "joko")
    ctx.claims.claim("ghost", ["left.example.com"])  # a claim whose account is gone
    result = op("domain_owners", domains=["joko.example.com", "left.example.com", "free.example"])
    assert result.changed is False
    assert result.data == {
        "joko.example.com": "joko",
        "left.example.com": None,
        "free.example": None,
    }
    assert op("domain_owners", domains=["JOKO.example.com"]).data == {"joko.example.com": "joko"}
    assert op("domain_owners", domains=[]).data == {}
    with pytest.raises(ValidationFailed):
        op("domain_owners", domains=["not a domain"])
    with pytest.raises(ValidationFailed):
        op("domain_owners", domains=[f"d{i}.example.com" for i in range(10_001)])


def test_account_system_state_never_answers_the_hash(op: Op, root: Path) -> None:
    op("import_user", **payload())  # suspended: the V1 hash, locked
    state = op("account_system_state", username="sari", expected_hash=HASH)
    assert state.changed is False
    user = state.data["user"]
    assert user["home"] == "/home/sari" and user["shell"] and user["uid"] == user["gid"] >= 1000
    assert {k: v for k, v in state.data.items() if k != "user"} == {
        "home_exists": True,
        "locked": True,
        "hash_matches": True,
        "hash_is_bcrypt": True,
    }
    assert HASH not in json.dumps(state.model_dump(mode="json"))
    other = op("account_system_state", username="sari", expected_hash="$2b$04$" + "B" * 53)
    assert other.data["hash_matches"] is False
    assert op("account_system_state", username="sari").data["hash_matches"] is None

    shutil.rmtree(root / "home/sari")
    assert op("account_system_state", username="sari").data["home_exists"] is False


def test_account_system_state_of_a_missing_user(op: Op) -> None:
    assert op("account_system_state", username="nobody1", expected_hash=HASH).data == {
        "user": None,
        "home_exists": False,
        "locked": False,
        "hash_matches": False,
        "hash_is_bcrypt": False,
    }


def test_import_user_answers_the_summary_it_wrote(op: Op) -> None:
    result = op("import_user", **payload())
    view = op("get_config", username="sari").data
    assert result.account == AccountSummary.of_view(view)
    again = op("import_user", **payload())  # unchanged: the same summary
    assert again.account == result.account


def test_local_agent_builds_cached_accounts_on_request(settings: Settings) -> None:
    assert type(LocalAgent(settings).ctx.accounts) is SystemAccounts
    assert isinstance(LocalAgent(settings, cached_accounts=True).ctx.accounts, CachedAccounts)


def test_the_migration_goes_through_ops_only() -> None:
    forbidden = (".ctx", "agent.hosting", "agent.context", "jopanel.store", "..store")
    for path in sorted(MIGRATE.glob("*.py")):
        text = path.read_text()
        for needle in forbidden:
            assert needle not in text, f"{path.name} mentions {needle}"
