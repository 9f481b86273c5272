"""Domain ops: kinds and document roots, limits, server-wide ownership, hostile names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jopanel.agent.context import AgentContext
from jopanel.errors import Conflict, NotFound, ValidationFailed
from tests.conftest import Op, cli, new_user
from tests.hosting.conftest import all_text, generated

VHOST = "etc/nginx/sites-available/jopanel-joko.conf"


def _limits(op: Op, **limits: int) -> None:
    op("update_user_config", username="joko", limits=limits)


def test_every_kind_gets_its_spec_document_root(op: Op, root: Path) -> None:
    new_user(op, "joko")
    _limits(op, max_addon_domains=2, max_subdomains=3, max_alias_domains=2)
    op("domain_add", username="joko", domain="shop.example.org")
    op("domain_add", username="joko", domain="blog", type="subdomain", parent="joko.example.com")
    op("domain_add", username="joko", domain="eu.shop.example.org", type="subdomain")
    op("domain_add", username="joko", domain="joko.example.net", type="alias")
    rows = {r["domain"]: r for r in op("domain_list", username="joko").data}
    assert {d: (r["type"], r["document_root"]) for d, r in rows.items()} == {
        "joko.example.com": ("primary", "/home/joko/public_html"),
        "shop.example.org": ("addon", "/home/joko/domains/shop.example.org/public_html"),
        "blog.joko.example.com": (
            "subdomain",
            "/home/joko/domains/joko.example.com/subdomains/blog",
        ),
        "eu.shop.example.org": ("subdomain", "/home/joko/domains/shop.example.org/subdomains/eu"),
        "joko.example.net": ("alias", "/home/joko/public_html"),
    }
    for row in rows.values():
        docroot = root / row["document_root"].lstrip("/")
        assert docroot.is_dir()
        assert docroot.stat().st_uid == 20000
        welcome = docroot / "index.html"  # a new document root starts with the skeleton's page
        assert (welcome.stat().st_uid, welcome.read_text()) == (
            20000,
            (root / "etc/jopanel/skel/public_html/index.html").read_text(),
        )
    vhost = (root / VHOST).read_text()
    assert "server_name joko.example.com www.joko.example.com joko.example.net;" in vhost
    assert f"root {root}/home/joko/domains/shop.example.org/public_html;" in vhost
    assert f"root {root}/home/joko/domains/joko.example.com/subdomains/blog;" in vhost
    assert vhost.count("server {") == 4
    log = f"{root}/var/log/nginx/domains/eu.shop.example.org.access.log"
    assert f"access_log {log} jopanel_usage;" in vhost


@pytest.mark.parametrize(
    ("kind", "limit", "names"),
    [
        ("addon", "max_addon_domains", ["a.example.org", "b.example.org"]),
        ("subdomain", "max_subdomains", ["x.joko.example.com", "y.joko.example.com"]),
        ("alias", "max_alias_domains", ["a.example.net", "b.example.net"]),
    ],
)
def test_limits_are_enforced_with_409_and_a_reason(
    op: Op, kind: str, limit: str, names: list[str]
) -> None:
    new_user(op, "joko")
    _limits(op, **{limit: 1})
    op("domain_add", username="joko", domain=names[0], type=kind)
    with pytest.raises(Conflict) as caught:
        op("domain_add", username="joko", domain=names[1], type=kind)
    assert caught.value.http_status == 409
    assert str(caught.value) == f"{limit}: limit reached: 1 of 1 {kind} domains in use ({limit})"
    _limits(op, **{limit: 0})  # 0 = unlimited
    op("domain_add", username="joko", domain=names[1], type=kind)


def test_a_domain_belongs_to_one_account_server_wide(op: Op, ctx: AgentContext) -> None:
    new_user(op, "joko")
    new_user(op, "budi")
    op("domain_add", username="joko", domain="shop.example.org")
    for name, kind in (("shop.example.org", "addon"), ("joko.example.com", "alias")):
        with pytest.raises(Conflict, match="belongs to another account"):
            op("domain_add", username="budi", domain=name, type=kind)
    # Nor a name under another account's domain: budi must not serve pay.shop.example.org.
    with pytest.raises(Conflict, match="under shop.example.org, which belongs to another"):
        op("domain_add", username="budi", domain="pay.shop.example.org")
    with pytest.raises(Conflict, match="already a domain of this account"):
        op("domain_add", username="joko", domain="shop.example.org")
    op("domain_remove", username="joko", domain="shop.example.org")
    assert ctx.claims.owner("shop.example.org") is None
    op("domain_add", username="budi", domain="shop.example.org")
    assert ctx.claims.owner("shop.example.org") == "budi"


def test_remove_refuses_primary_parents_and_unknown(op: Op, root: Path) -> None:
    new_user(op, "joko")
    op("domain_add", username="joko", domain="shop.example.org")
    op("domain_add", username="joko", domain="blog.shop.example.org", type="subdomain")
    with pytest.raises(Conflict, match="primary domain cannot be removed"):
        op("domain_remove", username="joko", domain="joko.example.com")
    with pytest.raises(Conflict, match=r"has subdomains \(blog.shop.example.org\)"):
        op("domain_remove", username="joko", domain="shop.example.org")
    with pytest.raises(NotFound):
        op("domain_remove", username="joko", domain="nope.example.org")
    (root / "home/joko/domains/shop.example.org/subdomains/blog/index.html").write_text("kept")
    op("domain_remove", username="joko", domain="blog.shop.example.org")
    op("domain_remove", username="joko", domain="shop.example.org")
    vhost = (root / VHOST).read_text()
    assert "shop.example.org" not in vhost and vhost.count("server {") == 1
    # The files are the account's: removing a domain does not delete them.
    assert (root / "home/joko/domains/shop.example.org/subdomains/blog/index.html").exists()


def test_subdomain_parent_must_be_this_accounts(op: Op) -> None:
    new_user(op, "joko")
    with pytest.raises(ValidationFailed, match="not under any domain of this account"):
        op("domain_add", username="joko", domain="blog.example.org", type="subdomain")
    with pytest.raises(ValidationFailed, match="not the primary or an addon domain"):
        op("domain_add", username="joko", domain="blog", type="subdomain", parent="example.org")
    with pytest.raises(ValidationFailed, match="only a subdomain has a parent"):
        op("domain_add", username="joko", domain="x.example.org", parent="joko.example.com")


def test_dry_run_changes_nothing_then_apply_then_reapply_is_refused(op: Op, root: Path) -> None:
    new_user(op, "joko")
    before = generated(root)
    planned = op("domain_add", dry_run=True, username="joko", domain="shop.example.org")
    assert planned.changed is False and planned.plan  # dry run: the plan, nothing changed
    assert any("nginx vhost jopanel-joko.conf is outdated" in step for step in planned.plan)
    assert generated(root) == before
    assert not (root / "home/joko/domains").exists()
    applied = op("domain_add", username="joko", domain="shop.example.org")
    assert applied.data["document_root"] == "/home/joko/domains/shop.example.org/public_html"
    assert generated(root) != before
    with pytest.raises(Conflict):
        op("domain_add", username="joko", domain="shop.example.org")
    assert op("apply_user", username="joko").changed is False


HOSTILE = [
    "evil.com;}",
    "evil.com\nserver { }",
    "a.com$host",
    'a.com"',
    "a.com'",
    "a.com{",
    "../../etc",
    "a.com root /etc",
    "*.example.com",
    "xn--.com",
    "a" * 64 + ".com",
    "127.0.0.1",
    "",
    "exa mple.com",
    "example.com.",
    "-a.example.com",
    "a.com#",
    "a.com\\",
]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_domains_are_refused_and_never_reach_a_file(
    op: Op, root: Path, hostile: str
) -> None:
    new_user(op, "joko")
    before = all_text(root)
    with pytest.raises(ValidationFailed) as caught:
        op("domain_add", username="joko", domain=hostile)
    assert caught.value.http_status == 422
    with pytest.raises(ValidationFailed):
        op("domain_add", username="joko", domain=hostile, type="alias")
    if hostile != "127.0.0.1":  # 127.0.0.1.joko.example.com is a fine hostname
        with pytest.raises(ValidationFailed):
            op("domain_add", username="joko", domain=hostile, type="subdomain",
               parent="joko.example.com")  # fmt: skip
    assert all_text(root) == before


def test_cli_domain_verbs(root: Path) -> None:
    cli(root, "user", "create", "joko", "--domain", "joko.example.com", "--email",
        "j@example.com")  # fmt: skip
    cli(root, "domain", "add", "joko", "shop.example.org")
    cli(root, "domain", "add", "joko", "blog", "--type", "subdomain", "--parent",
        "joko.example.com")  # fmt: skip
    rows = json.loads(cli(root, "--json", "domain", "list", "joko").stdout)
    assert [r["domain"] for r in rows] == [
        "joko.example.com", "shop.example.org", "blog.joko.example.com",
    ]  # fmt: skip
    over = cli(root, "domain", "add", "joko", "two.example.org", check=False)
    assert over.returncode == 4
    assert over.stderr.strip() == (
        "jopanel: max_addon_domains: limit reached: 1 of 1 addon domains in use (max_addon_domains)"
    )
    before = all_text(root)
    for hostile in ("evil.com;}", "a.com\nserver {", "a.com$x"):
        bad = cli(root, "domain", "add", "joko", hostile, check=False)
        assert bad.returncode == 2
        assert bad.stderr.startswith("jopanel: domain: ")
        assert len(bad.stderr.strip().splitlines()) == 1
    assert all_text(root) == before
    cli(root, "domain", "remove", "joko", "blog.joko.example.com")
    rows = json.loads(cli(root, "--json", "domain", "list", "joko").stdout)
    assert [r["domain"] for r in rows] == ["joko.example.com", "shop.example.org"]


@pytest.mark.parametrize("suffix", ["co.uk", "github.io", "com.au"])
def test_public_suffixes_cannot_be_held(op: Op, suffix: str) -> None:
    # Holding co.uk would also block every other account's *.co.uk name.
    new_user(op, "joko")
    for kind in ("addon", "alias"):
        with pytest.raises(ValidationFailed, match=f"{suffix} is a public suffix"):
            op("domain_add", username="joko", domain=suffix, type=kind)
    op("domain_add", username="joko", domain=f"joko.{suffix}")


def test_a_claim_left_by_a_crash_does_not_block(op: Op, ctx: AgentContext, root: Path) -> None:
    new_user(op, "joko")
    new_user(op, "budi")
    # budi's claim on a name budi's config does not list (a crash between claim and write).
    (root / "etc/jopanel/domains/shop.example.org").symlink_to("budi")
    op("domain_add", username="joko", domain="shop.example.org")
    assert ctx.claims.owner("shop.example.org") == "joko"
    (root / "etc/jopanel/domains/example.net").symlink_to("budi")
    op("domain_add", username="joko", domain="www.example.net", type="alias")
