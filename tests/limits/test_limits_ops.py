"""Limits that hold, through the agent's ops: a limit or package below usage is refused
with 409 naming every count, unless forced; a package edit reaches its accounts."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from jopanel.agent.context import AgentContext
from jopanel.agent.limits_check import check_limits, usage_counts
from jopanel.agent.usage import DiskUsage, write_cache
from jopanel.errors import Conflict
from jopanel.schemas.databases import Database, Databases, DbUser
from jopanel.schemas.hosting import CronJob
from jopanel.settings import Settings
from tests.conftest import Op, new_user


def files_of(root: Path) -> dict[str, bytes]:
    """Every config, revision and package file (what a refused change must not touch)."""
    out = {}
    for base in ("etc/jopanel", "var/lib/jopanel/revisions"):
        for path in sorted((root / base).rglob("*")):
            if path.is_file() and not path.is_symlink() and "lock" not in path.name:
                out[str(path.relative_to(root))] = path.read_bytes()
            elif path.is_symlink():
                out[str(path.relative_to(root))] = str(path.readlink()).encode()
    return out


def journal_lines(root: Path) -> list[dict[str, Any]]:
    path = root / "var/log/jopanel/audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture
def busy(op: Op) -> Op:
    """joko on package `big`: 2 addon domains, 2 subdomains, 1 alias."""
    op("package_create", name="big", values={"max_addon_domains": 5, "max_subdomains": 5})
    new_user(op, "joko", package="big")
    op("domain_add", username="joko", domain="one.test")
    op("domain_add", username="joko", domain="two.test")
    op("domain_add", username="joko", domain="blog", type="subdomain", parent="one.test")
    op("domain_add", username="joko", domain="shop", type="subdomain", parent="one.test")
    op("domain_add", username="joko", domain="alias.test", type="alias")
    return op


def test_limit_below_usage_is_refused_naming_every_count(root: Path, busy: Op) -> None:
    before = files_of(root)
    with pytest.raises(Conflict) as refused:
        busy(
            "update_user_config",
            username="joko",
            limits={"max_addon_domains": 1, "max_subdomains": 1, "max_databases": 0},
        )
    message = str(refused.value)
    assert "max_addon_domains: 2 in use, new limit 1" in message
    assert "max_subdomains: 2 in use, new limit 1" in message
    assert "max_databases" not in message  # 0 is unlimited
    assert refused.value.field == "limits"
    assert files_of(root) == before  # nothing written


def test_limit_at_usage_or_unrelated_is_accepted(busy: Op) -> None:
    busy("update_user_config", username="joko", limits={"max_addon_domains": 2})
    # joko is now at its limit; lowering an unrelated limit is still fine.
    busy("update_user_config", username="joko", limits={"max_ftp_accounts": 0})
    limits = busy("get_config", username="joko").data["limits"]
    assert (limits["max_addon_domains"], limits["max_ftp_accounts"]) == (2, 0)


def test_forced_limit_is_applied(busy: Op) -> None:
    busy("update_user_config", username="joko", limits={"max_addon_domains": 1}, force=True)
    assert busy("get_config", username="joko").data["limits"]["max_addon_domains"] == 1
    # Over its limit now: adding another addon is refused by the domain rules.
    with pytest.raises(Conflict):
        busy("domain_add", username="joko", domain="three.test")


def test_package_change_below_usage_is_refused(root: Path, busy: Op) -> None:
    before = files_of(root)
    with pytest.raises(Conflict, match=r"max_addon_domains: 2 in use, new limit 1"):
        busy("update_user_config", username="joko", account={"package": "default"})
    assert files_of(root) == before
    busy("update_user_config", username="joko", account={"package": "default"}, force=True)
    config = busy("get_config", username="joko").data
    assert config["account"]["package"] == "default"
    assert config["limits"]["max_addon_domains"] == 1


def test_disk_limit_refused_when_usage_is_known(settings: Settings, busy: Op) -> None:
    # Unknown usage (no quota, never measured) never blocks a change.
    busy("update_user_config", username="joko", limits={"disk_quota_mb": 500})
    write_cache(settings, "joko", DiskUsage(300 * 1048576, 10, "walk", time.time()))
    with pytest.raises(Conflict, match=r"disk_quota_mb: 300 in use, new limit 100"):
        busy("update_user_config", username="joko", limits={"disk_quota_mb": 100})
    busy("update_user_config", username="joko", limits={"disk_quota_mb": 400})


def test_package_edit_updates_its_accounts(root: Path, busy: Op) -> None:
    new_user(busy, "anna", package="big")
    new_user(busy, "bert")  # on `default`: untouched
    # anna's own override: followed no more by the package.
    busy("update_user_config", username="anna", limits={"max_databases": 7})
    seqs = {n: len(busy("user_history", username=n).data) for n in ("joko", "anna", "bert")}
    result = busy("package_update", name="big", values={"max_databases": 3, "max_cron_jobs": 9})
    assert sorted(result.data["accounts_updated"]) == ["anna", "joko"]
    joko = busy("get_config", username="joko").data["limits"]
    anna = busy("get_config", username="anna").data["limits"]
    assert (joko["max_databases"], joko["max_cron_jobs"]) == (3, 9)
    assert (anna["max_databases"], anna["max_cron_jobs"]) == (7, 9)  # override kept
    history = {n: busy("user_history", username=n).data for n in ("joko", "anna", "bert")}
    assert len(history["joko"]) == seqs["joko"] + 1
    assert len(history["anna"]) == seqs["anna"] + 1
    assert len(history["bert"]) == seqs["bert"]
    assert history["joko"][-1]["action"] == "package_update"
    journaled = [
        (e["action"], e["target"]) for e in journal_lines(root) if e["action"] == "package_update"
    ]
    assert ("package_update", "joko") in journaled and ("package_update", "anna") in journaled
    assert ("package_update", "big") in journaled


def test_package_edit_below_usage_is_refused_then_forced(root: Path, busy: Op) -> None:
    before = files_of(root)
    with pytest.raises(Conflict) as refused:
        busy("package_update", name="big", values={"max_addon_domains": 1, "max_subdomains": 1})
    message = str(refused.value)
    assert "joko: max_addon_domains: 2 in use, new limit 1" in message
    assert "joko: max_subdomains: 2 in use, new limit 1" in message
    assert files_of(root) == before  # neither the package nor the account changed
    result = busy("package_update", name="big", values={"max_addon_domains": 1}, force=True)
    assert result.data["accounts_updated"] == ["joko"]
    assert result.data["forced"] == ["joko: max_addon_domains: 2 in use, new limit 1"]
    assert busy("package_get", name="big").data["max_addon_domains"] == 1
    assert busy("get_config", username="joko").data["limits"]["max_addon_domains"] == 1


def test_package_edit_dry_run_writes_nothing(root: Path, busy: Op) -> None:
    before = files_of(root)
    result = busy("package_update", name="big", values={"max_cron_jobs": 2}, dry_run=True)
    assert result.plan == ["update package big", "update limits of joko"]
    assert files_of(root) == before


def test_databases_db_users_and_cron_jobs_are_counted(ctx: AgentContext, op: Op) -> None:
    """The counts come from services.json's databases and cron sections."""
    new_user(op, "joko")
    config = ctx.store.read("joko")
    hashed = "*" + "A" * 40
    databases = Databases(
        databases=[Database(name="joko_shop"), Database(name="joko_blog")],
        users=[DbUser(name="joko_app", databases=["joko_shop"], password_hash=hashed)],
    )
    jobs = [CronJob(id=f"j{i}", schedule="*/5 * * * *", command="true") for i in range(3)]
    services = config.services.model_copy(
        update={
            "databases": databases,
            "cron": config.services.cron.model_copy(update={"jobs": jobs}),
        }
    )
    counts = usage_counts(config.with_(services=services))
    assert (counts["max_databases"], counts["max_db_users"], counts["max_cron_jobs"]) == (2, 1, 3)
    roomy = config.limits.model_copy(update={"max_databases": 5})
    busy = config.with_(services=services, limits=roomy)
    limits = roomy.model_copy(update={"max_databases": 1, "max_cron_jobs": 2})
    with pytest.raises(Conflict) as refused:
        check_limits(busy, limits, force=False)
    assert "max_databases: 2 in use, new limit 1" in str(refused.value)
    assert "max_cron_jobs: 3 in use, new limit 2" in str(refused.value)
