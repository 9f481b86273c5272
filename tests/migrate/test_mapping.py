"""The pure rules of mapping.py, one table each (README "Migrating from V1")."""

from __future__ import annotations

from datetime import datetime

import pytest

from jopanel.migrate.domains import docroot
from jopanel.migrate.introspect import V1Data, V1Domain, V1Package, V1Shape, V1User
from jopanel.migrate.mapping import Options, build_plan
from jopanel.migrate.normalise import (
    normalise_domain,
    normalise_username,
    package_slug,
    php,
    status,
)
from jopanel.schemas import Limits


@pytest.mark.parametrize(
    ("raw", "name", "note"),
    [
        ("joko", "joko", ""),
        ("Joko", "joko", "username 'Joko' became 'joko'"),
        (" joko ", "joko", "username ' joko ' became 'joko'"),
        ("JOKO2024", "joko2024", "username 'JOKO2024' became 'joko2024'"),
    ],
)
def test_usernames_normalised(raw: str, name: str, note: str) -> None:
    assert normalise_username(raw) == (name, note)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("ab", "must match"),
        ("1abc", "must match"),
        ("bad.name", "must match"),
        ("under_score", "must match"),
        ("waytoolongusername17", "must match"),
        ("root", "reserved"),
        ("josé", "non-ASCII"),
        ("", "is required"),
    ],
)
def test_usernames_refused(raw: str, reason: str) -> None:
    name, why = normalise_username(raw)
    assert name is None and reason in why


def test_panel_names_allow_admin() -> None:
    assert normalise_username("Admin", panel=True) == ("admin", "username 'Admin' became 'admin'")


@pytest.mark.parametrize(
    ("raw", "hostname"),
    [
        ("Example.COM", "example.com"),
        (" example.com ", "example.com"),
        ("example.com.", "example.com"),
        ("bücher.de", "xn--bcher-kva.de"),
        ("bad_domain!.com", None),
        ("localhost", None),
        ("-x.example.com", None),
        (None, None),
    ],
)
def test_domains_normalised(raw: str | None, hostname: str | None) -> None:
    assert normalise_domain(raw)[0] == hostname


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Basic", "basic"),
        ("Pro Plan", "pro-plan"),
        ("  ", "v1-package-7"),
        (None, "v1-package-7"),
        ("Gold++ (2024)", "gold-2024"),
        ("x" * 40, "x" * 32),
    ],  # fmt: skip
)
def test_package_slugs(name: str | None, slug: str) -> None:
    assert package_slug(name, 7) == slug


@pytest.mark.parametrize(
    ("raw", "expected", "noted"),
    [
        ("active", "active", False),
        ("suspended", "suspended", False),
        ("pending", "suspended", True),
        (None, "active", True),
        ("banned", "suspended", True),
    ],  # fmt: skip
)
def test_status(raw: str | None, expected: str, noted: bool) -> None:
    assert status(raw)[0] == expected and bool(status(raw)[1]) == noted


def test_php_falls_back_to_an_installed_version() -> None:
    assert php("7.4", ("8.2",)) == ("8.2", "PHP 7.4 (V1) is not installed here: PHP 8.2")
    assert php("7.4", ("7.4", "8.2")) == ("7.4", "")
    assert php("7.4", ("8.1", "8.3")) == ("8.3", "PHP 7.4 (V1) is not installed here: PHP 8.3")
    assert php(None, ()) == ("8.2", "")


def test_docroots_inside_the_home_become_relative() -> None:
    homes = ["/home/Joko", "/home/joko"]
    assert docroot("/home/joko/domains/a.com/public_html/", homes, "d") == (
        "domains/a.com/public_html",
        "",
    )
    assert docroot("/var/www/a", homes, "d")[0] == "d"
    assert docroot("/home/joko/../etc", homes, "d")[0] == "d"


USER_COLUMNS = ("id", "username", "password_hash", "role", "package_id", "owner_id")


def _user(i: int, name: str, **extra: object) -> V1User:
    values: dict[str, object] = {
        "id": i, "username": name, "email": f"{name}@example.com",
        "password_hash": "$2a$04$" + "a" * 53, "role": "user", "package_id": 1,
        "status": "active", "created_at": datetime(2024, 1, 1), "updated_at": None,
        "deleted_at": None, "owner_id": None,
    }  # fmt: skip
    values.update(extra)
    return V1User(**values)  # type: ignore[arg-type]


def test_plan_is_deterministic_and_reports_every_row() -> None:
    shape = V1Shape(
        "v1",
        {
            "users": dict.fromkeys(USER_COLUMNS, "x"),
            "packages": {"id": "x"},
            "domains": {"id": "x", "user_id": "x"},
        },
    )  # fmt: skip
    data = V1Data(shape)
    data.packages = [V1Package(1, "Gold", 100, 200, 3, 4, 5, 6, None)]
    data.users = [
        _user(1, "resell", role="reseller"),
        _user(2, "Joko", owner_id=1),
        _user(3, "joko"),
        _user(4, "sari", package_id=9, owner_id=3),
        _user(5, "tina", owner_id=1),
    ]
    data.domains = [
        V1Domain(1, 3, "joko.com", "/home/joko/public_html", "primary", False, "8.1"),
        V1Domain(2, 4, "JOKO.com", "/home/sari/public_html", "primary", False, "8.2"),
        V1Domain(3, 4, "blog.joko.com", "/home/sari/blog", "subdomain", False, None),
    ]
    options = Options("example.net", Limits().model_dump(exclude={"schema_version"}))
    plan = build_plan(data, options)
    assert plan == build_plan(data, options)
    assert [(a.username, a.payload["owner"]) for a in plan.accounts] == [
        ("resell", "admin"), ("joko", "admin"), ("sari", "admin"), ("tina", "resell")
    ]  # fmt: skip
    skipped = {(s.kind, s.v1_id): s.reason for s in plan.skipped}
    assert "duplicate" in skipped[("account", 2)]
    assert "duplicate of V1 domain #1" in skipped[("domain", 2)]
    sari = plan.accounts[2]
    assert sari.payload["primary_domain"] == "sari.example.net"
    assert sari.payload["package"] == "default"
    assert sari.payload["addon_domains"] == [
        {"domain": "blog.joko.com", "docroot": "blog"}
    ]  # its parent is another account's: an addon of its own
    assert any("is no live reseller" in n for n in sari.notes)
    gold = plan.accounts[1].payload["limits"]
    assert (gold["disk_quota_mb"], gold["max_addon_domains"], gold["max_db_users"]) == (100, 3, 4)
    assert plan.accounts[1].payload["php_version"] == "8.1"
