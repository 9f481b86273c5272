"""Limits that hold through the CLI: exit 4 with the counts, --force applies."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Op, cli, new_user
from tests.limits.test_limits_ops import files_of


def test_cli_user_and_package_paths(root: Path, op: Op) -> None:
    op("package_create", name="big", values={"max_addon_domains": 5})
    new_user(op, "joko", package="big")
    op("domain_add", username="joko", domain="one.test")
    op("domain_add", username="joko", domain="two.test")
    before = files_of(root)

    refused = cli(root, "user", "update", "joko", "--limit", "max_addon_domains=1", check=False)
    assert refused.returncode == 4, refused.stderr
    assert "max_addon_domains: 2 in use, new limit 1" in refused.stderr
    refused = cli(root, "user", "update", "joko", "--package", "default", check=False)
    assert refused.returncode == 4 and "2 in use, new limit 1" in refused.stderr
    refused = cli(root, "package", "update", "big", "--set", "max_addon_domains=1", check=False)
    assert refused.returncode == 4
    assert "joko: max_addon_domains: 2 in use, new limit 1" in refused.stderr
    assert files_of(root) == before

    done = cli(root, "package", "update", "big", "--set", "max_cron_jobs=7")
    assert "accounts updated: joko" in done.stdout
    cli(root, "package", "update", "big", "--set", "max_addon_domains=1", "--force")
    assert op("get_config", username="joko").data["limits"]["max_addon_domains"] == 1
    cli(root, "user", "update", "joko", "--package", "default", "--force")
    config = op("get_config", username="joko").data
    assert config["account"]["package"] == "default"
    assert config["limits"]["max_cron_jobs"] == 5  # the default package's value
