"""www aliases: every primary and addon domain also answers on `www.<domain>` (unless
turned off), served by the real nginx and claimed server-wide like any hostname."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from jopanel.agent.context import AgentContext
from jopanel.agent.hosting import Hosting
from jopanel.errors import Conflict, NotFound, ValidationFailed
from jopanel.settings import Settings, load_settings
from jopanel.system.nginx import Nginx
from jopanel.system.runner import Runner
from tests.conftest import Op, cli, new_user
from tests.hosting.conftest import open_root  # noqa: F401 - the fixture
from tests.hosting.test_e2e import Web, free_port, run_op, stop, wait_for


def vhost(settings: Settings, name: str = "joko") -> str:
    return (settings.path("etc/nginx/sites-available") / f"jopanel-{name}.conf").read_text()


def claims(settings: Settings) -> dict[str, str]:
    directory = settings.domain_claims_dir
    return {p.name: p.readlink().name for p in directory.iterdir()} if directory.exists() else {}


@pytest.fixture
def served(open_root: Path) -> Iterator[tuple[Settings, Web]]:  # noqa: F811
    """joko (joko.example.com + addon shop.example.org + subdomain blog) on real nginx."""
    port = free_port()
    base = load_settings(open_root, http_port=port)
    ctx = AgentContext(base)
    run_op(ctx, "create_user", username="joko", password="correct horse 1",
           contact_email="joko@example.com", primary_domain="joko.example.com")  # fmt: skip
    run_op(ctx, "domain_add", username="joko", domain="shop.example.org")
    run_op(ctx, "domain_add", username="joko", domain="blog.joko.example.com", type="subdomain")
    for docroot, text in (
        ("home/joko/public_html", "primary"),
        ("home/joko/domains/shop.example.org/public_html", "shop"),
    ):
        (open_root / docroot / "index.html").write_text(f"{text}\n")
    nginx = Nginx(base, Runner())
    web = subprocess.Popen(
        ["nginx", "-p", f"{nginx.etc}/", "-e", str(nginx.error_log), "-c", str(nginx.main_config),
         "-g", "daemon off;"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for(lambda: (open_root / "run/nginx.pid").exists(), "nginx")
        settings = load_settings(
            open_root, http_port=port, nginx_reload=nginx.signal_argv("reload")
        )
        client = Web(port)
        yield settings, client
        client.client.close()
    finally:
        stop(web)


def test_real_nginx_answers_on_www_until_it_is_turned_off(served: tuple[Settings, Web]) -> None:
    settings, web = served
    text = vhost(settings)
    assert "server_name joko.example.com www.joko.example.com;" in text
    assert "server_name shop.example.org www.shop.example.org;" in text
    assert "www.blog" not in text  # subdomains have no www alias
    for host, page in (
        ("www.joko.example.com", "primary\n"),
        ("www.shop.example.org", "shop\n"),
        ("shop.example.org", "shop\n"),
    ):
        assert web.until(host, "/", lambda r: r.status_code == 200).text == page
    assert web.get("www.blog.joko.example.com").status_code == 404  # the default server

    ctx = AgentContext(settings)
    result = run_op(ctx, "domain_www_set", username="joko", domain="shop.example.org", www=False)
    assert result.data["www"] is None
    assert "www.shop.example.org" not in vhost(settings)
    assert "www.shop.example.org" not in claims(settings)
    ctx_reloader = Hosting(ctx).reloader
    ctx_reloader.flush()
    web.until("www.shop.example.org", "/", lambda r: r.status_code == 404)
    assert web.get("shop.example.org").text == "shop\n"
    run_op(ctx, "domain_www_set", username="joko", domain="shop.example.org", www=True)
    ctx_reloader.flush()
    assert web.until("www.shop.example.org", "/", lambda r: r.status_code == 200).text == "shop\n"
    assert claims(settings)["www.shop.example.org"] == "joko"


def test_www_names_are_claimed_and_conflicts_refused(op: Op, settings: Settings) -> None:
    new_user(op, "anna")
    new_user(op, "bert")
    assert claims(settings)["www.anna.example.com"] == "anna"
    # Another account cannot take anna's www name, neither as addon nor as alias.
    for kind in ("addon", "alias"):
        with pytest.raises(Conflict):
            op("domain_add", username="bert", domain="www.anna.example.com", type=kind)
    # A domain whose www name another account holds is refused, and nothing is written.
    op("domain_add", username="bert", domain="www.shop.example.org")
    before = (settings.users_dir / "anna/domains.json").read_bytes()
    with pytest.raises(Conflict) as refused:
        op("domain_add", username="anna", domain="shop.example.org")
    assert "www.shop.example.org" in str(refused.value)
    assert (settings.users_dir / "anna/domains.json").read_bytes() == before
    assert "shop.example.org" not in claims(settings)
    # Once bert lets it go, anna's shop.example.org comes with its www name.
    op("domain_remove", username="bert", domain="www.shop.example.org")
    op("domain_add", username="anna", domain="shop.example.org")
    assert claims(settings)["www.shop.example.org"] == "anna"
    # A new account whose primary's www is taken is refused too.
    op("domain_add", username="bert", domain="www.other.example.net", type="alias")
    with pytest.raises(Conflict):
        op("create_user", username="carl", password="correct horse 1",
           contact_email="c@example.com", primary_domain="other.example.net")  # fmt: skip
    assert not (settings.users_dir / "carl").exists()


def test_www_within_one_account(op: Op, settings: Settings) -> None:
    new_user(op)
    with pytest.raises(Conflict) as served_already:
        op("domain_add", username="joko", domain="www.joko.example.com", type="alias")
    assert "www alias" in str(served_already.value)
    with pytest.raises(Conflict):
        op("domain_add", username="joko", domain="www", type="subdomain", parent="joko.example.com")
    with pytest.raises(Conflict):  # the www alias is not removed like a domain
        op("domain_remove", username="joko", domain="www.joko.example.com")
    # Off, the name is free for the account's own alias; on again is then refused.
    op("domain_www_set", username="joko", domain="joko.example.com", www=False)
    op("domain_add", username="joko", domain="www.joko.example.com", type="alias")
    assert "server_name joko.example.com www.joko.example.com;" in vhost(settings)
    with pytest.raises(Conflict):
        op("domain_www_set", username="joko", domain="joko.example.com", www=True)
    op("domain_add", username="joko", domain="blog.joko.example.com", type="subdomain")
    with pytest.raises(ValidationFailed):
        op("domain_www_set", username="joko", domain="blog.joko.example.com", www=False)
    with pytest.raises(NotFound):
        op("domain_www_set", username="joko", domain="nope.example.com", www=False)
    # Removing an addon forgets its www setting; delete releases the www claims.
    op("update_user_config", username="joko", limits={"max_addon_domains": 0})
    op("domain_add", username="joko", domain="shop.example.org")
    op("domain_www_set", username="joko", domain="shop.example.org", www=False)
    op("domain_remove", username="joko", domain="shop.example.org")
    config = json.loads((settings.users_dir / "joko/domains.json").read_text())
    assert config["www_off"] == ["joko.example.com"]
    op("delete_user", username="joko")
    assert claims(settings) == {}


def test_cli_www_verb(root: Path, settings: Settings) -> None:
    cli(root, "user", "create", "joko", "--domain", "joko.example.com", "--email", "j@example.com")
    rows = json.loads(cli(root, "--json", "domain", "list", "joko").stdout)
    assert rows[0]["www"] == "www.joko.example.com"
    cli(root, "domain", "www", "joko", "joko.example.com", "off")
    assert "www.joko.example.com" not in vhost(settings)
    assert json.loads(cli(root, "--json", "domain", "list", "joko").stdout)[0]["www"] is None
    bad = cli(root, "domain", "www", "joko", "joko.example.com", "maybe", check=False)
    assert bad.returncode == 2
    cli(root, "domain", "www", "joko", "joko.example.com", "on")
    assert "server_name joko.example.com www.joko.example.com;" in vhost(settings)


def test_a_www_name_left_unclaimed_is_claimed_at_the_next_change(
    op: Op, settings: Settings
) -> None:
    """Accounts written before www aliases existed have no claim on their www names."""
    new_user(op)
    (settings.domain_claims_dir / "www.joko.example.com").unlink()
    op("cron_add", username="joko", minute="1", command="true")
    assert claims(settings)["www.joko.example.com"] == "joko"
