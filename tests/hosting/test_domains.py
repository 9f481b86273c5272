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


def test_a_name_above_another_accounts_domain_is_refused(op: Op, ctx: AgentContext) -> None:
    # bert holds bert.example.com; joko taking example.com would block every later
    # name under it and make nginx serve the parent from joko's account.
    new_user(op, "joko")
    new_user(op, "bert")
    _limits(op, max_addon_domains=3, max_alias_domains=3)
    before = ctx.store.read("joko").revision
    for kind in ("addon", "alias"):
        for dry_run in (True, False):
            with pytest.raises(Conflict) as caught:
                op("domain_add", username="joko", domain="example.com", type=kind, dry_run=dry_run)
            assert (caught.value.http_status, str(caught.value)) == (
                409,
                "domain: example.com is above bert.example.com, which belongs to another account",
            )
    assert ctx.store.read("joko").revision == before
    assert ctx.claims.owner("example.com") is None
    # Nor as a new primary domain, nor for a new account.
    with pytest.raises(Conflict, match="above bert.example.com"):
        op("update_user_config", username="joko", account={"primary_domain": "example.com"})
    with pytest.raises(Conflict, match="above bert.example.com"):
        op("create_user", username="anna", password="correct horse 1",
           contact_email="a@example.org", primary_domain="example.com")  # fmt: skip
    # joko's own names above and below are its own business.
    op("domain_add", username="joko", domain="shop.joko.example.com", type="alias")
    op("domain_remove", username="joko", domain="shop.joko.example.com")
    # Once bert's name is gone, the parent is free.
    op("delete_user", username="bert")
    op("domain_add", username="joko", domain="example.com")
    assert ctx.claims.owner("example.com") == "joko"


def test_the_claim_itself_refuses_a_name_above_or_below_another(op: Op, ctx: AgentContext) -> None:
    # Checked again under the domains lock: two accounts racing past the early check
    # (as a concurrent add would) still cannot both hold example.com and bert.example.com.
    new_user(op, "joko")
    new_user(op, "bert")
    with pytest.raises(Conflict, match="example.com is above bert.example.com"):
        ctx.claims.claim("joko", ["example.com"])
    with pytest.raises(Conflict, match="x.bert.example.com is under bert.example.com"):
        ctx.claims.claim("joko", ["x.bert.example.com"])
    assert ctx.claims.owner("example.com") is None
    assert ctx.claims.owner("x.bert.example.com") is None


def test_the_providers_reserved_domains_are_claimed_by_no_account(
    op: Op, ctx: AgentContext, root: Path
) -> None:
    new_user(op, "joko")
    _limits(op, max_addon_domains=3, max_alias_domains=3, max_subdomains=3)
    assert op("reserved_domains_list").data == {"domains": []}
    planned = op("reserved_domains_set", domains=["Hosting-Provider.NET"], dry_run=True)
    assert (planned.changed, planned.plan) == (False, ["reserve hosting-provider.net"])
    assert not (root / "etc/jopanel/reserved-domains").exists()
    done = op("reserved_domains_set", domains=["hosting-provider.net", "panel.example.org"])
    assert (done.changed, done.data) == (
        True,
        {"domains": ["hosting-provider.net", "panel.example.org"]},
    )
    assert op("reserved_domains_list").data == {
        "domains": ["hosting-provider.net", "panel.example.org"]
    }
    before = ctx.store.read("joko").revision
    for name in ("hosting-provider.net", "www.hosting-provider.net", "a.b.panel.example.org"):
        with pytest.raises(Conflict) as caught:
            op("domain_add", username="joko", domain=name, type="alias")
        reserved = (
            "panel.example.org" if name.endswith("panel.example.org") else "hosting-provider.net"
        )
        assert (
            str(caught.value) == f"domain: {name} is reserved by the hosting provider ({reserved})"
        )
    with pytest.raises(Conflict, match="reserved by the hosting provider"):
        op("create_user", username="anna", password="correct horse 1",
           contact_email="a@example.org", primary_domain="shop.hosting-provider.net")  # fmt: skip
    assert ctx.store.read("joko").revision == before
    # A name above a reserved one, or beside it, stays an account's to take.
    op("domain_add", username="joko", domain="example.org", type="alias")
    # Reserving a name an account already holds (or one below it) is refused, nothing written.
    with pytest.raises(Conflict) as held:
        op("reserved_domains_set", domains=["hosting-provider.net", "example.com"])
    assert str(held.value) == (
        "domains: held by accounts: joko.example.com (joko), www.joko.example.com (joko); "
        "remove them there first"
    )
    for bad in (["co.uk"], ["not a name"]):
        with pytest.raises(ValidationFailed):
            op("reserved_domains_set", domains=bad)
    assert op("reserved_domains_list").data == {
        "domains": ["hosting-provider.net", "panel.example.org"]
    }
    # Released, the names can be claimed again.
    op("reserved_domains_set", domains=[])
    op("domain_add", username="joko", domain="hosting-provider.net")


def test_a_bad_hand_edit_of_the_reserved_list_stops_new_claims(op: Op, root: Path) -> None:
    new_user(op, "joko")
    (root / "etc/jopanel/reserved-domains").write_text("# ours\nexample.org\nnot;a name\n")
    with pytest.raises(ValidationFailed, match="reserved-domains line 3"):
        op("domain_add", username="joko", domain="shop.example.net")


def test_cli_reserved_domains(root: Path) -> None:
    cli(root, "user", "create", "joko", "--domain", "joko.example.com", "--email",
        "j@example.com")  # fmt: skip
    cli(root, "domain", "reserved", "add", "hosting-provider.net", "panel.example.org")
    listed = json.loads(cli(root, "--json", "domain", "reserved", "list").stdout)
    assert listed == [{"domain": "hosting-provider.net"}, {"domain": "panel.example.org"}]
    refused = cli(root, "domain", "add", "joko", "www.hosting-provider.net", check=False)
    assert (refused.returncode, refused.stderr.strip()) == (
        4,
        "jopanel: domain: www.hosting-provider.net is reserved by the hosting provider "
        "(hosting-provider.net)",
    )
    held = cli(root, "domain", "reserved", "add", "example.com", check=False)
    assert (held.returncode, held.stderr.strip()) == (
        4,
        "jopanel: domains: held by accounts: joko.example.com (joko), "
        "www.joko.example.com (joko); remove them there first",
    )
    cli(root, "domain", "reserved", "remove", "panel.example.org")
    listed = json.loads(cli(root, "--json", "domain", "reserved", "list").stdout)
    assert listed == [{"domain": "hosting-provider.net"}]
