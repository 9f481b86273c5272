"""The agent op `import_user`: dry-run, apply, re-apply, adoption rules, rollback."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from jopanel.agent.context import AgentContext
from jopanel.agent.registry import execute
from jopanel.errors import Conflict
from jopanel.settings import Settings, load_settings
from jopanel.store import ConfigStore
from jopanel.system.accounts import parse_passwd
from tests.conftest import Op
from tests.migrate.conftest import tree

HASH = "$2b$04$" + "A" * 53


def payload(name: str = "sari", **extra: Any) -> dict[str, Any]:
    return {
        "username": name,
        "origin": "v1:users.id=7",
        "password_hash": HASH,
        "contact_email": f"{name}@example.com",
        "primary_domain": f"{name}.example.com",
        "status": "suspended",
        "created_at": "2023-05-01T12:00:00+00:00",
        "addon_domains": [{"domain": "shop.example.net", "docroot": "shop"}],
        "subdomains": [{"subdomain": "blog", "parent": "shop.example.net", "docroot": "blog"}],
        "alias_domains": ["www-sari.example.org"],
        "php_version": "8.2",
        "ftp_enabled": True,
        **extra,
    }


def test_dry_run_apply_reapply(op: Op, root: Path, settings: Settings) -> None:
    before = tree(root)
    planned = op("import_user", dry_run=True, **payload())
    assert not planned.changed and planned.plan and planned.data["action"] == "created"
    assert tree(root) == before
    applied = op("import_user", **payload())
    assert (applied.changed, applied.data["action"]) == (True, "created")
    config = ConfigStore(settings).read("sari")
    assert config.account.status == "suspended"
    assert config.domains.all_names() == [
        "sari.example.com",
        "shop.example.net",
        "blog.shop.example.net",
        "www-sari.example.org",
    ]
    assert config.meta.notes.startswith("Imported (v1:users.id=7).")
    shadow = (root / "etc/shadow").read_text()
    assert f"sari:!{HASH}:" in shadow  # the V1 hash, locked while suspended
    again = op("import_user", **payload())
    assert (again.changed, again.data["action"], again.plan) == (False, "unchanged", [])


def test_an_account_of_another_origin_is_refused(op: Op) -> None:
    op("import_user", **payload())
    with pytest.raises(Conflict, match="was not imported from v1:users.id=8"):
        op("import_user", **payload(origin="v1:users.id=8"))


def test_system_accounts_are_never_adopted(op: Op, root: Path) -> None:
    subprocess.run(
        ["useradd", "--prefix", str(root), "-u", "900", "-U", "-M", "-d", "/home/sysacct",
         "sysacct"],
        check=True,
    )  # fmt: skip
    with pytest.raises(Conflict, match="system account"):
        op("import_user", **payload("sysacct"))
    assert not (root / "etc/jopanel/users/sysacct").exists()


def test_a_failure_part_way_leaves_nothing(root: Path) -> None:
    settings = load_settings(root, fault_point="import_user:useradd")
    # What a failed import may leave: the uid it burned (never reused) and the journal
    # line that records the failure.
    bookkeeping = ("var/lib/jopanel", "var/log")

    def system() -> dict[str, object]:
        return {k: v for k, v in tree(root, ("run",)).items() if not k.startswith(bookkeeping)}

    before = system()
    with pytest.raises(Exception, match="injected failure"):
        execute(AgentContext(settings), "import_user", payload(), actor="test")
    assert system() == before
    assert "sari" not in parse_passwd(root / "etc/passwd")


def test_every_account_drift_kind_is_known() -> None:
    """import_user(apply_services=False) applies these kinds; a new one must be listed."""
    import inspect
    import re

    from jopanel.agent import converge
    from jopanel.agent.ops.adopt import ACCOUNT_DRIFT

    kinds = set(re.findall(r'Drift\(\s*"([a-z_]+)"', inspect.getsource(converge)))
    assert kinds and kinds <= ACCOUNT_DRIFT
