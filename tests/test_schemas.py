"""The six documents (SPEC §3): field names, constraints, the revision formula, upgrades."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from pydantic import BaseModel

from jopanel.errors import ValidationFailed
from jopanel.schemas import (
    LIMIT_FIELDS,
    Account,
    Domains,
    Limits,
    Meta,
    Package,
    Services,
    Ssh,
    UserConfig,
    compute_revision,
)
from jopanel.schemas import base as schema_base
from jopanel.schemas.bundle import parse_model, render_document
from tests.store_writer import make_config, spec_revision

# The field names of SPEC §3 are part of the contract.
SPEC_FIELDS: dict[type[BaseModel], str] = {
    Account: "username uid gid primary_domain home_dir shell status created_at updated_at package "
    "contact_email owner last_login_ip",
    # SPEC §3 plus `bandwidth_over_action` (warn or block past bandwidth_quota_mb).
    Limits: "disk_quota_mb bandwidth_quota_mb max_addon_domains max_subdomains max_alias_domains "
    "max_databases max_db_users max_ftp_accounts max_cron_jobs cpu_limit_percent "
    "memory_limit_mb io_limit_mb_s bandwidth_over_action",
    # SPEC §3 plus `www_off` and `tls` (each site's certificate: mode, status, facts).
    Domains: "primary addon_domains subdomains alias_domains www_off tls",
    # SPEC §3 plus `databases` (which MariaDB databases and DB users the account owns).
    Services: "web_server php nodejs ftp cron databases",
    Ssh: "enabled mode authorized_keys force_command chroot_dir allow_port_forwarding "
    "allow_agent_forwarding allow_x11_forwarding",
    # SPEC §3 plus `origin` (where an imported account came from; see README, migration).
    Meta: "notes origin last_applied_revision audit",
}


@pytest.mark.parametrize("model", list(SPEC_FIELDS), ids=lambda m: m.__name__)
def test_documents_have_exactly_the_spec_fields(model: type[BaseModel]) -> None:
    assert sorted(model.model_fields) == sorted(["schema_version", *SPEC_FIELDS[model].split()])


def test_nested_documents_have_the_spec_fields() -> None:
    documents = make_config("joko").documents()
    assert sorted(documents["services"]["php"]) == [
        "enabled",
        "fpm_pool",
        "open_basedir",
        "settings",  # the PHP settings allow-list (not in SPEC §3)
        "version",
    ]
    assert sorted(documents["services"]["nodejs"]) == ["apps", "enabled"]
    assert sorted(documents["services"]["ftp"]) == ["enabled"]
    assert sorted(documents["services"]["cron"]) == ["enabled", "jobs"]
    assert sorted(documents["meta"]["audit"]) == ["last_action", "last_actor", "last_time"]
    assert list(LIMIT_FIELDS) == SPEC_FIELDS[Limits].split()[:-1]  # the numeric ones


def test_documents_round_trip_through_json() -> None:
    config = make_config("joko").stamped()
    documents = {
        kind: json.loads(render_document(getattr(config, kind))) for kind in config.documents()
    }
    assert documents == config.documents()
    assert UserConfig.from_documents(documents) == config
    assert all(doc["schema_version"] == 1 for doc in documents.values())


def test_compute_revision_is_the_spec_formula() -> None:
    documents = make_config("joko").documents()
    documents["services"]["cron"]["jobs"] = [
        {"id": "a", "schedule": "@daily", "command": "echo naïve ✓"}
    ]
    assert compute_revision(documents) == spec_revision(documents)
    reordered = {kind: dict(reversed(list(doc.items()))) for kind, doc in documents.items()}
    assert compute_revision(reordered) == compute_revision(documents)  # key order is irrelevant
    changed_meta = copy.deepcopy(documents)
    changed_meta["meta"]["notes"] = "meta is not part of the revision"
    assert compute_revision(changed_meta) == compute_revision(documents)
    changed_limits = copy.deepcopy(documents)
    changed_limits["limits"]["max_databases"] += 1
    assert compute_revision(changed_limits) != compute_revision(documents)


def test_stamped_sets_the_revision_from_the_content() -> None:
    config = make_config("joko")
    assert config.revision == "sha256:" + "0" * 64
    stamped = config.stamped()
    assert stamped.revision == spec_revision(stamped.documents())
    assert stamped.content_revision() == stamped.revision


def documents_with(kind: str, change: dict[str, Any]) -> dict[str, Any]:
    documents = make_config("joko").stamped().documents()
    documents[kind].update(change)
    return documents


BAD_DOCUMENTS = [
    ("account", {"username": "root"}, "account.username"),
    ("account", {"uid": 999}, "account.uid"),
    ("account", {"home_dir": "/root"}, "account.home_dir"),
    ("account", {"home_dir": "/home/other/../joko"}, "account.home_dir"),
    ("account", {"shell": "/bin/zsh -c id"}, "account.shell"),
    ("account", {"status": "deleted"}, "account.status"),
    ("account", {"created_at": "2024-05-01T10:00:00"}, "account.created_at"),
    ("account", {"contact_email": "a@localhost"}, "account.contact_email"),
    ("account", {"primary_domain": "EVIL DOMAIN"}, "account.primary_domain"),
    ("account", {"last_login_ip": "999.1.1.1"}, "account.last_login_ip"),
    ("account", {"owner": "Admin;"}, "account.owner"),
    ("account", {"package": "../x"}, "account.package"),
    ("account", {"extra": True}, "account.extra"),
    ("limits", {"disk_quota_mb": -1}, "limits.disk_quota_mb"),
    ("limits", {"max_databases": 2**31}, "limits.max_databases"),
    ("limits", {"cpu_limit_percent": "lots"}, "limits.cpu_limit_percent"),
    ("limits", {"unknown": 1}, "limits.unknown"),
    ("limits", {"schema_version": 0}, "limits.schema_version"),
    ("limits", {"schema_version": 2}, "limits.schema_version"),
    ("limits", {"schema_version": "1"}, "limits.schema_version"),
    ("domains", {"primary": "other.example.com"}, "domains.primary"),
    ("domains", {"alias_domains": ["joko.example.com"]}, "domains"),
    ("domains", {"alias_domains": ["*.example.com"]}, "domains.alias_domains.0"),
    (
        "domains",
        {"subdomains": [{"subdomain": "blog", "parent": "else.example.com", "docroot": "b"}]},
        "domains",
    ),
    (
        "domains",
        {"addon_domains": [{"domain": "shop.example.com", "docroot": "../../etc"}]},
        "domains.addon_domains.0.docroot",
    ),
    (
        "domains",
        {"addon_domains": [{"domain": "shop.example.com", "docroot": "x;return 200 hi"}]},
        "domains.addon_domains.0.docroot",
    ),
    (
        "domains",
        {"addon_domains": [{"domain": "shop.example.com", "docroot": "my docs"}]},
        "domains.addon_domains.0.docroot",
    ),
    ("services", {"web_server": "apache"}, "services.web_server"),
    ("services", {"php": {"fpm_pool": "jopanel-joko", "version": "8.2;"}}, "services.php.version"),
    ("services", {"php": {"fpm_pool": "www"}}, "services.php.fpm_pool"),
    (
        "services",
        {"php": {"fpm_pool": "jopanel-joko", "open_basedir": ["/home/joko:/etc"]}},
        "services.php.open_basedir.0",
    ),
    (
        "services",
        {"cron": {"jobs": [{"id": "a", "schedule": "* * * *", "command": "true"}]}},
        "services.cron.jobs.0.schedule",
    ),
    (
        "services",
        {"cron": {"jobs": [{"id": "a", "schedule": "@daily", "command": "true\nMAILTO=x"}]}},
        "services.cron.jobs.0.command",
    ),
    ("ssh", {"mode": "root"}, "ssh.mode"),
    ("ssh", {"authorized_keys": ["ssh-dss AAAAB3NzaC1kc3M="]}, "ssh.authorized_keys.0"),
    ("ssh", {"force_command": "internal-sftp\nMatch all"}, "ssh.force_command"),
    ("ssh", {"chroot_dir": "home/joko"}, "ssh.chroot_dir"),
    ("meta", {"last_applied_revision": "sha1:abc"}, "meta.last_applied_revision"),
    ("meta", {"notes": "x" * 4097}, "meta.notes"),
    ("meta", {"audit": {"last_action": "x", "sudo": True}}, "meta.audit.sudo"),
]


@pytest.mark.parametrize(
    ("kind", "change", "field"),
    BAD_DOCUMENTS,
    ids=[f"{r[2]}-{i}" for i, r in enumerate(BAD_DOCUMENTS)],
)
def test_bad_documents_are_refused_naming_file_and_field(
    kind: str, change: dict[str, Any], field: str
) -> None:
    documents = documents_with(kind, change)
    with pytest.raises(ValidationFailed) as caught:
        UserConfig.from_documents(documents)
    assert caught.value.field == field
    assert caught.value.message


@pytest.mark.parametrize("kind", ["account", "limits", "domains", "services", "ssh", "meta"])
def test_a_missing_document_names_its_file(kind: str) -> None:
    documents = make_config("joko").stamped().documents()
    del documents[kind]
    with pytest.raises(ValidationFailed) as caught:
        UserConfig.from_documents(documents)
    assert caught.value.field == f"{kind}.json"


def test_valid_domains_document() -> None:
    domains = parse_model(
        Domains,
        {
            "primary": "joko.example.com",
            "addon_domains": [
                {"domain": "Shop.Example.NET", "docroot": "domains/shop/public_html"}
            ],
            "subdomains": [{"subdomain": "Blog", "parent": "joko.example.com", "docroot": "b"}],
            "alias_domains": ["bücher.de"],
        },
        "domains",
    )
    assert domains.all_names() == [
        "joko.example.com",
        "shop.example.net",
        "blog.joko.example.com",
        "xn--bcher-kva.de",
    ]


def test_package_is_a_named_limits_template() -> None:
    package = parse_model(Package, {"name": "gold", "max_databases": 10}, "package")
    assert package.limits() == Limits(max_databases=10)
    with pytest.raises(ValidationFailed) as caught:
        parse_model(Package, {"name": "Gold Plan"}, "package")
    assert caught.value.field == "package.name"


# --- schema versions and upgrades -------------------------------------------------------


def test_upgrade_document_refuses_newer_and_invalid_versions() -> None:
    with pytest.raises(ValidationFailed, match="newer than this JoPanel") as caught:
        schema_base.upgrade_document("limits", {"schema_version": 2})
    assert caught.value.field == "limits.schema_version"
    for bad in (0, -1, "1", None, 1.0):
        with pytest.raises(ValidationFailed) as caught:
            schema_base.upgrade_document("ssh", {"schema_version": bad})
        assert caught.value.field == "ssh.schema_version"


def test_current_version_passes_unchanged() -> None:
    data = {"schema_version": 1, "max_databases": 3}
    assert schema_base.upgrade_document("limits", data) == data


def test_registered_upgrades_are_applied_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    steps: list[str] = []

    def one_to_two(data: dict[str, Any]) -> dict[str, Any]:
        steps.append("1->2")
        data["max_mailboxes"] = data.pop("max_email", 0)
        return data

    def two_to_three(data: dict[str, Any]) -> dict[str, Any]:
        steps.append("2->3")
        assert data["schema_version"] == 2
        data["max_mailboxes"] *= 2
        return data

    monkeypatch.setattr(schema_base, "SCHEMA_VERSION", 3)
    monkeypatch.setitem(schema_base.UPGRADES, ("limits", 1), one_to_two)
    monkeypatch.setitem(schema_base.UPGRADES, ("limits", 2), two_to_three)
    original = {"schema_version": 1, "max_email": 5}
    upgraded = schema_base.upgrade_document("limits", original)
    assert upgraded == {"schema_version": 3, "max_mailboxes": 10}
    assert steps == ["1->2", "2->3"]
    assert original == {"schema_version": 1, "max_email": 5}  # the caller's dict is untouched
    assert schema_base.upgrade_document("limits", {"schema_version": 3}) == {"schema_version": 3}


def test_a_missing_upgrade_step_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schema_base, "SCHEMA_VERSION", 3)
    monkeypatch.setitem(schema_base.UPGRADES, ("limits", 1), lambda data: data)
    with pytest.raises(ValidationFailed, match="no upgrade from schema_version 2") as caught:
        schema_base.upgrade_document("limits", {"schema_version": 1})
    assert caught.value.field == "limits.schema_version"
    # Other kinds have no steps registered at all.
    with pytest.raises(ValidationFailed, match="no upgrade from schema_version 1"):
        schema_base.upgrade_document("ssh", {"schema_version": 1})


def test_loading_a_config_checks_every_file_version() -> None:
    documents = make_config("joko").stamped().documents()
    documents["ssh"]["schema_version"] = 2  # written by a newer JoPanel
    with pytest.raises(ValidationFailed, match="newer than this JoPanel") as caught:
        UserConfig.from_documents(documents)
    assert caught.value.field == "ssh.schema_version"
    del documents["ssh"]["schema_version"]  # no version at all reads as the current one
    assert UserConfig.from_documents(documents).ssh.schema_version == 1
