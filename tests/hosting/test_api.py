"""The hosting routes over real HTTP: an account manages its own domains, keys and PHP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.harness import Api, admin_and_accounts
from tests.hosting.conftest import all_text, make_key

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    root = tmp_path_factory.mktemp("hosting-api") / "root"
    with admin_and_accounts(root, PASSWORD) as server:
        yield server


def test_domains_add_list_remove(api: Api) -> None:
    added = api.request(
        "POST", "/api/user/domains", as_="anna", json={"domain": "shop.example.org"}
    )
    assert added.status_code == 201, added.text
    assert added.json() == {
        "domain": "shop.example.org",
        "type": "addon",
        "parent": None,
        "docroot": "domains/shop.example.org/public_html",
        "document_root": "/home/anna/domains/shop.example.org/public_html",
        "www": "www.shop.example.org",
    }
    sub = api.request(
        "POST",
        "/api/user/domains",
        as_="anna",
        json={"domain": "blog", "type": "subdomain", "parent": "anna.example.com"},
    )
    assert sub.status_code == 201 and sub.json()["domain"] == "blog.anna.example.com"
    listed = api.request("GET", "/api/user/domains", as_="anna").json()
    assert [d["domain"] for d in listed] == [
        "anna.example.com",
        "shop.example.org",
        "blog.anna.example.com",
    ]
    # Only its own: bert sees his, cannot take anna's, cannot delete anna's.
    assert [d["domain"] for d in api.request("GET", "/api/user/domains", as_="bert").json()] == [
        "bert.example.com"
    ]
    taken = api.request(
        "POST", "/api/user/domains", as_="bert", json={"domain": "shop.example.org"}
    )
    assert (taken.status_code, taken.json()["code"]) == (409, "conflict")
    assert (
        api.request("DELETE", "/api/user/domains/shop.example.org", as_="bert").status_code == 404
    )
    over = api.request("POST", "/api/user/domains", as_="anna", json={"domain": "two.example.org"})
    assert over.status_code == 409
    assert over.json()["detail"] == (
        "max_addon_domains: limit reached: 1 of 1 addon domains in use (max_addon_domains)"
    )
    assert (
        api.request("DELETE", "/api/user/domains/blog.anna.example.com", as_="anna").status_code
        == 204
    )
    assert (
        api.request("DELETE", "/api/user/domains/anna.example.com", as_="anna").status_code == 409
    )


@pytest.mark.parametrize(
    "body",
    [
        {"domain": "evil.com;}"},
        {"domain": "a.com\nserver { }"},
        {"domain": "a.com$host", "type": "alias"},
        {"domain": "x", "type": "subdomain", "parent": "anna.example.com;"},
        {"domain": "ok.example.org", "type": "weird"},
        {"domain": "ok.example.org", "docroot": "/etc"},
    ],
)
def test_hostile_domain_requests_get_422_and_touch_nothing(api: Api, body: dict[str, str]) -> None:
    root = Path(api.settings.root)
    before = all_text(root)
    response = api.request("POST", "/api/user/domains", as_="bert", json=body)
    assert response.status_code == 422, response.text
    assert all_text(root) == before


def test_ssh_keys_by_fingerprint(api: Api, tmp_path: Path) -> None:
    key = make_key(tmp_path, "laptop")
    added = api.request("POST", "/api/user/ssh-keys", as_="bert", json={"key": key})
    assert added.status_code == 201, added.text
    fingerprint = added.json()["fingerprint"]
    assert api.request("GET", "/api/user/ssh-keys", as_="bert").json() == [added.json()]
    assert api.request("GET", "/api/user/ssh-keys", as_="anna").json() == []
    again = api.request("POST", "/api/user/ssh-keys", as_="bert", json={"key": key})
    assert again.status_code == 409
    bad = api.request(
        "POST", "/api/user/ssh-keys", as_="bert", json={"key": f'command="/bin/sh" {key}'}
    )
    assert bad.status_code == 422
    # The fingerprint goes in the path as it is (with `/`) or URL-safe.
    assert api.request("DELETE", f"/api/user/ssh-keys/{fingerprint}", as_="anna").status_code == 404
    deleted = api.request("DELETE", f"/api/user/ssh-keys/{fingerprint}", as_="bert")
    assert deleted.status_code == 204
    assert api.request("GET", "/api/user/ssh-keys", as_="bert").json() == []


def test_php_version(api: Api) -> None:
    ok = api.request("PUT", "/api/user/php", as_="anna", json={"version": "8.2"})
    assert ok.status_code == 200
    assert {k: ok.json()[k] for k in ("version", "installed")} == {
        "version": "8.2",
        "installed": ["8.2"],
    }
    missing = api.request("PUT", "/api/user/php", as_="anna", json={"version": "5.6"})
    assert missing.status_code == 422
    assert missing.json()["detail"] == "version: PHP 5.6 is not installed (installed: 8.2)"
    assert (
        api.request("PUT", "/api/user/php", as_="admin", json={"version": "8.2"}).status_code == 403
    )


def test_a_name_above_another_accounts_domain_gets_409(api: Api) -> None:
    # bert holds bert.example.com: anna must not take example.com over it.
    root = Path(api.settings.root)
    before = all_text(root)
    refused = api.request(
        "POST", "/api/user/domains", as_="anna", json={"domain": "example.com", "type": "alias"}
    )
    assert (refused.status_code, refused.json()["detail"]) == (
        409,
        "domain: example.com is above bert.example.com, which belongs to another account",
    )
    assert all_text(root) == before
    # And bert can still add names under his own domain.
    added = api.request(
        "POST",
        "/api/user/domains",
        as_="bert",
        json={"domain": "blog", "type": "subdomain", "parent": "bert.example.com"},
    )
    assert added.status_code == 201, added.text
    gone = api.request("DELETE", "/api/user/domains/blog.bert.example.com", as_="bert")
    assert gone.status_code == 204


def test_the_admin_reserves_the_providers_domains(api: Api) -> None:
    path = "/api/admin/reserved-domains"
    assert api.request("GET", path, as_="admin").json() == {"domains": []}
    # An account may neither read nor change it (the permission matrix has every role).
    denied = api.request("PUT", path, as_="anna", json={"domains": ["x.example.org"]})
    assert denied.status_code == 403
    saved = api.request("PUT", path, as_="admin", json={"domains": ["Hosting-Provider.net"]})
    assert (saved.status_code, saved.json()) == (200, {"domains": ["hosting-provider.net"]})
    root = Path(api.settings.root)
    before = all_text(root)
    refused = api.request(
        "POST",
        "/api/user/domains",
        as_="anna",
        json={"domain": "shop.hosting-provider.net", "type": "alias"},
    )
    assert (refused.status_code, refused.json()["detail"]) == (
        409,
        "domain: shop.hosting-provider.net is reserved by the hosting provider "
        "(hosting-provider.net)",
    )
    held = api.request("PUT", path, as_="admin", json={"domains": ["example.com"]})
    assert held.status_code == 409
    assert held.json()["detail"].startswith("domains: held by accounts: anna.example.com (anna), ")
    bad = api.request("PUT", path, as_="admin", json={"domains": ["evil.com;}"]})
    assert bad.status_code == 422
    assert all_text(root) == before
    assert api.request("GET", path, as_="admin").json() == {"domains": ["hosting-provider.net"]}
    cleared = api.request("PUT", path, as_="admin", json={"domains": []})
    assert (cleared.status_code, cleared.json()) == (200, {"domains": []})
