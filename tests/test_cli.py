"""The `jopanel` console script as an administrator uses it (no agent running: in-process)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jopanel.system.crypt import verify_system_password as verify_password
from tests.conftest import cli


def _create(root: Path, name: str = "joko") -> None:
    cli(
        root,
        "user",
        "create",
        name,
        "--domain",
        f"{name}.example.com",
        "--email",
        f"{name}@example.com",
        "--password-stdin",
        input="first password\n",
    )


def _shadow_hash(root: Path, name: str) -> str:
    for line in (root / "etc/shadow").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return line.split(":")[1]
    raise AssertionError(f"{name} not in shadow")


def test_user_verbs_with_json(root: Path) -> None:
    _create(root)
    listed = json.loads(cli(root, "--json", "user", "list").stdout)
    assert [u["username"] for u in listed] == ["joko"]
    assert json.loads(cli(root, "--json", "user", "list", "--search", "nomatch").stdout) == []
    shown = json.loads(cli(root, "--json", "user", "show", "joko").stdout)
    assert set(shown) == {"account", "limits", "domains", "services", "ssh", "meta", "revision"}
    updated = json.loads(
        cli(root, "--json", "user", "update", "joko", "--email", "new@example.org").stdout
    )
    assert (
        updated["changed"] is True
        and updated["data"]["account"]["contact_email"] == "new@example.org"
    )
    assert json.loads(cli(root, "--json", "user", "suspend", "joko").stdout)["changed"] is True
    assert json.loads(cli(root, "--json", "user", "suspend", "joko").stdout)["changed"] is False
    cli(root, "user", "unsuspend", "joko")
    stats = json.loads(cli(root, "--json", "user", "stats", "joko").stdout)
    assert stats["usage"]["files"] >= 1 and stats["limits"]["max_subdomains"] == 5
    history = json.loads(cli(root, "--json", "user", "history", "joko").stdout)
    assert [h["action"] for h in history] == [
        "create",
        "update_user",
        "suspend_user",
        "unsuspend_user",
    ]
    cli(root, "user", "delete", "joko")
    assert json.loads(cli(root, "--json", "user", "list").stdout) == []


def test_password_comes_from_stdin_only(root: Path) -> None:
    _create(root)
    assert verify_password("first password", _shadow_hash(root, "joko"))
    cli(root, "user", "passwd", "joko", "--password-stdin", input="second password\n")
    assert verify_password("second password", _shadow_hash(root, "joko"))
    refused = cli(root, "user", "passwd", "joko", check=False)
    assert refused.returncode != 0 and "--password-stdin" in refused.stderr


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (
            ["user", "create", "a;id", "--domain", "x.example.com", "--email", "a@example.com"],
            2,
            "username",
        ),
        (
            ["user", "create", "joko", "--domain", "bad;domain", "--email", "a@example.com"],
            2,
            "primary_domain",
        ),
        (
            ["user", "create", "joko", "--domain", "x.example.com", "--email", "not-an-email"],
            2,
            "contact_email",
        ),
        (
            [
                "user",
                "create",
                "joko",
                "--domain",
                "x.example.com",
                "--email",
                "a@example.com",
                "--package",
                "nope",
            ],
            2,  # an unknown package in a request is bad input, as the API's 422
            "nope",
        ),
        (["user", "show", "ghost"], 3, "ghost"),
        (["user", "update", "ghost", "--email", "a@example.com"], 3, "ghost"),
        (["package", "delete", "default"], 4, "default"),
    ],
)
def test_errors_are_one_line_and_exit_non_zero(
    root: Path, args: list[str], code: int, needle: str
) -> None:
    proc = cli(root, *args, check=False)
    assert proc.returncode == code
    assert proc.stderr.count("\n") == 1
    assert needle in proc.stderr
    assert not (root / "etc/jopanel/users/joko").exists()


def test_duplicate_username_and_domain_conflict(root: Path) -> None:
    _create(root)
    again = cli(
        root,
        "user",
        "create",
        "joko",
        "--domain",
        "other.example.com",
        "--email",
        "a@example.com",
        check=False,
    )
    assert again.returncode == 4 and "already exists" in again.stderr
    taken = cli(
        root,
        "user",
        "create",
        "bravo",
        "--domain",
        "JOKO.example.com",
        "--email",
        "a@example.com",
        check=False,
    )
    assert taken.returncode == 4 and "joko.example.com" in taken.stderr
    assert "bravo" not in (root / "etc/passwd").read_text()


def test_package_verbs(root: Path) -> None:
    cli(
        root,
        "package",
        "create",
        "gold",
        "--set",
        "max_addon_domains=10",
        "--description",
        "Gold plan",
    )
    shown = json.loads(cli(root, "--json", "package", "show", "gold").stdout)
    assert shown["max_addon_domains"] == 10 and shown["description"] == "Gold plan"
    cli(root, "package", "update", "gold", "--set", "disk_quota_mb=0")
    names = [p["name"] for p in json.loads(cli(root, "--json", "package", "list").stdout)]
    assert names == ["default", "gold"]
    bad = cli(root, "package", "update", "gold", "--set", "max_addon_domains=-1", check=False)
    assert bad.returncode == 2 and "max_addon_domains" in bad.stderr
    _create(root)
    cli(root, "user", "update", "joko", "--package", "gold")
    in_use = cli(root, "package", "delete", "gold", check=False)
    assert in_use.returncode == 4 and "used by accounts" in in_use.stderr


def test_init_is_idempotent(root: Path) -> None:
    again = json.loads(cli(root, "--json", "init").stdout)
    assert again["done"] == []
