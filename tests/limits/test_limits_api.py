"""Limits that hold over the API: PUT /api/admin/users/{name} and PUT
/api/admin/packages/{name} answer 409 naming the counts, unless forced."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from jopanel.settings import load_settings
from jopanel.system.sandbox import init_root
from tests.api.harness import Api, make_app, running_agent, serving
from tests.limits.test_limits_ops import files_of

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    root = tmp_path_factory.mktemp("limits") / "root"
    settings = load_settings(root)
    init_root(settings)
    with running_agent(root, settings):
        app = make_app(settings)
        with serving(app) as url:
            server = Api(url=url, app=app, settings=settings)
            app.state.ctx.staff.create("admin", PASSWORD, "admin")
            app.state.ctx.staff.create("resone", PASSWORD, "reseller")
            server.tokens["admin"] = server.login("admin", PASSWORD)
            server.tokens["reseller"] = server.login("resone", PASSWORD)
            yield server


def put_user(
    api: Api, name: str, body: dict[str, object], query: str = "", as_: str = "admin"
) -> httpx.Response:
    etag = api.request("GET", f"/api/admin/users/{name}", as_="admin").headers["ETag"]
    return api.request(
        "PUT", f"/api/admin/users/{name}{query}", json=body, headers={"If-Match": etag}, as_=as_
    )


@pytest.fixture(scope="module")
def joko(api: Api) -> str:
    """joko on package `big` with 2 addon domains and 1 alias."""
    response = api.request(
        "POST", "/api/admin/packages", json={"name": "big", "max_addon_domains": 5}, as_="admin"
    )
    assert response.status_code == 201, response.text
    body = {
        "username": "joko", "password": PASSWORD, "contact_email": "joko@example.com",
        "primary_domain": "joko.example.com", "package": "big", "owner": "resone",
    }  # fmt: skip
    assert api.request("POST", "/api/admin/users", json=body, as_="admin").status_code == 201
    ctx = api.app.state.ctx
    for domain, kind in (("one.test", "addon"), ("two.test", "addon"), ("al.test", "alias")):
        ctx.agent.execute("domain_add", {"username": "joko", "domain": domain, "type": kind})
    return "joko"


def test_user_limit_below_usage_is_409_and_writes_nothing(api: Api, joko: str) -> None:
    root = Path(api.settings.root)
    before = files_of(root)
    response = put_user(api, joko, {"limits": {"max_addon_domains": 1, "max_alias_domains": 0}})
    assert response.status_code == 409, response.text
    assert "max_addon_domains: 2 in use, new limit 1" in response.json()["detail"]
    assert files_of(root) == before
    response = put_user(api, joko, {"account": {"package": "default"}})
    assert response.status_code == 409, response.text
    assert "max_addon_domains: 2 in use, new limit 1" in response.json()["detail"]
    assert files_of(root) == before


def test_reseller_may_not_force(api: Api, joko: str) -> None:
    response = put_user(
        api, joko, {"account": {"package": "default"}, "force": True}, as_="reseller"
    )
    assert response.status_code == 403, response.text


def test_package_edit_409_then_forced_by_query(api: Api, joko: str) -> None:
    root = Path(api.settings.root)
    before = files_of(root)
    response = api.request(
        "PUT", "/api/admin/packages/big", json={"max_addon_domains": 1}, as_="admin"
    )
    assert response.status_code == 409, response.text
    assert "joko: max_addon_domains: 2 in use, new limit 1" in response.json()["detail"]
    assert files_of(root) == before
    response = api.request(
        "PUT", "/api/admin/packages/big", json={"max_subdomains": 9}, as_="admin"
    )
    assert response.status_code == 200, response.text
    assert response.json()["accounts_updated"] == ["joko"]
    response = api.request(
        "PUT", "/api/admin/packages/big?force=true", json={"max_addon_domains": 2}, as_="admin"
    )
    assert response.status_code == 200, response.text  # 2 in use, limit 2: no conflict
    user = api.request("GET", f"/api/admin/users/{joko}", as_="admin").json()
    assert (user["limits"]["max_subdomains"], user["limits"]["max_addon_domains"]) == (9, 2)


def test_user_limit_forced_by_body_and_by_query(api: Api, joko: str) -> None:
    response = put_user(api, joko, {"limits": {"max_alias_domains": 0}})
    assert response.status_code == 200  # 0 is unlimited
    response = put_user(api, joko, {"limits": {"max_addon_domains": 1}, "force": True})
    assert response.status_code == 200, response.text
    assert response.json()["limits"]["max_addon_domains"] == 1
    response = put_user(api, joko, {"account": {"package": "default"}}, query="?force=true")
    assert response.status_code == 200, response.text
    assert response.json()["account"]["package"] == "default"
