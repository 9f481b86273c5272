"""`/api/user/databases` and `jopanel db …` against a running agent and the real MariaDB."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from jopanel.settings import load_settings
from jopanel.system.sandbox import init_root
from tests.api.harness import Api, make_app, running_agent, serving
from tests.conftest import cli

from .conftest import drop_prefix, login
from .test_databases import OTHER_PASSWORD, PASSWORD, refused

ACCOUNT_PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Api, list[str]]]:
    root = tmp_path_factory.mktemp("dbapi") / "root"
    settings = load_settings(root)
    init_root(settings)
    made: list[str] = []
    try:
        with running_agent(root, settings):
            app = make_app(settings)
            with serving(app) as url:
                api = Api(url=url, app=app, settings=settings)
                app.state.ctx.staff.create("admin", ACCOUNT_PASSWORD, "admin")
                api.tokens["admin"] = api.login("admin", ACCOUNT_PASSWORD)
                for key in ("a", "b"):
                    name = "dba" + secrets.token_hex(4)
                    made.append(name)
                    body = {
                        "username": name,
                        "password": ACCOUNT_PASSWORD,
                        "contact_email": f"{name}@example.com",
                        "primary_domain": f"{name}.example.com",
                    }
                    response = api.request("POST", "/api/admin/users", json=body, as_="admin")
                    assert response.status_code == 201, response.text
                    api.tokens[key] = api.login(name, ACCOUNT_PASSWORD)
                yield api, made
    finally:
        for name in made:
            drop_prefix(name)


def test_api_databases(served: tuple[Api, list[str]]) -> None:
    api, (a, b) = served
    assert api.request("GET", "/api/user/databases").status_code == 401
    assert api.request("GET", "/api/user/databases", as_="admin").status_code == 403
    empty = api.request("GET", "/api/user/databases", as_="a").json()
    assert empty["databases"] == [] and empty["max_databases"] == 1

    created = api.request(
        "POST", "/api/user/databases", json={"name": "shop", "password": PASSWORD}, as_="a"
    )
    assert created.status_code == 201, created.text
    assert created.json() == {"name": f"{a}_shop", "user": f"{a}_shop"}
    assert PASSWORD not in created.text
    login(f"{a}_shop", PASSWORD, f"{a}_shop").close()

    over = api.request(
        "POST", "/api/user/databases", json={"name": "two", "password": PASSWORD}, as_="a"
    )
    assert over.status_code == 409 and "max_databases" in over.json()["detail"]
    weak = api.request(
        "POST", "/api/user/databases", json={"name": "two", "password": "password1234"}, as_="b"
    )
    assert weak.status_code == 422
    hostile = api.request(
        "POST", "/api/user/databases", json={"name": "x`; DROP", "password": PASSWORD}, as_="b"
    )
    assert hostile.status_code == 422
    extra = api.request(
        "POST", "/api/user/databases", json={"name": "x", "password": PASSWORD, "u": 1}, as_="b"
    )
    assert extra.status_code == 422

    # b cannot touch a's database: the name is always taken in b's own namespace
    assert api.request("DELETE", f"/api/user/databases/{a}_shop", as_="b").status_code == 404
    assert (
        api.request(
            "POST", f"/api/user/databases/{a}_shop/password", json={"password": OTHER_PASSWORD},
            as_="b",
        ).status_code
        == 404
    )  # fmt: skip

    listing = api.request("GET", "/api/user/databases", as_="a").json()
    assert [d["name"] for d in listing["databases"]] == [f"{a}_shop"]
    assert listing["users"][0]["locked"] is False

    reset = api.request(
        "POST", "/api/user/databases/shop/password", json={"password": OTHER_PASSWORD}, as_="a"
    )
    assert reset.status_code == 204
    assert refused(f"{a}_shop", PASSWORD)
    login(f"{a}_shop", OTHER_PASSWORD).close()

    gone = api.request("DELETE", "/api/user/databases/shop", as_="a")
    assert gone.status_code == 204
    assert refused(f"{a}_shop", OTHER_PASSWORD)
    assert api.request("GET", "/api/user/databases", as_="a").json()["databases"] == []


def test_api_db_users(served: tuple[Api, list[str]]) -> None:
    api, (_a, b) = served
    admin = api.request(
        "PUT", f"/api/admin/users/{b}", json={"limits": {"max_db_users": 2}}, as_="admin",
        headers={"If-Match": "*"},
    )  # fmt: skip
    if admin.status_code == 428 or admin.status_code == 412:
        etag = api.request("GET", f"/api/admin/users/{b}", as_="admin").headers["ETag"]
        admin = api.request(
            "PUT", f"/api/admin/users/{b}", json={"limits": {"max_db_users": 2}}, as_="admin",
            headers={"If-Match": etag},
        )  # fmt: skip
    assert admin.status_code == 200, admin.text
    body = {"name": "blog", "password": PASSWORD}
    assert api.request("POST", "/api/user/databases", json=body, as_="b").status_code == 201
    user = {"name": "reader", "password": OTHER_PASSWORD, "databases": ["blog"]}
    made = api.request("POST", "/api/user/databases/users", json=user, as_="b")
    assert made.status_code == 201, made.text
    assert made.json() == {"name": f"{b}_reader", "databases": [f"{b}_blog"]}
    login(f"{b}_reader", OTHER_PASSWORD, f"{b}_blog").close()
    revoked = api.request(
        "POST", "/api/user/databases/users/reader/grant", json={"database": "blog", "revoke": True},
        as_="b",
    )  # fmt: skip
    assert revoked.status_code == 200 and revoked.json()["databases"] == []
    assert refused(f"{b}_reader", OTHER_PASSWORD, f"{b}_blog")
    assert api.request("DELETE", "/api/user/databases/users/reader", as_="b").status_code == 204
    assert refused(f"{b}_reader", OTHER_PASSWORD)


def test_cli(tmp_path: Path, names: list[str]) -> None:
    root = tmp_path / "root"
    init_root(load_settings(root))
    name = "dbc" + secrets.token_hex(4)
    names.append(name)
    cli(root, "user", "create", name, "--domain", f"{name}.example.com", "--email", "a@example.com")
    refused_cli = cli(root, "db", "create", name, "shop", check=False)
    assert refused_cli.returncode != 0  # no --password-stdin: passwords never on argv
    cli(root, "db", "create", name, "shop", "--password-stdin", input=PASSWORD + "\n")
    login(f"{name}_shop", PASSWORD, f"{name}_shop").close()
    weak = cli(root, "db", "create", name, "two", "--password-stdin", input="short\n", check=False)
    assert weak.returncode == 2 and weak.stderr.strip().count("\n") == 0
    listed = cli(root, "--json", "db", "list", name).stdout
    assert f'"{name}_shop"' in listed and PASSWORD not in listed
    table = cli(root, "db", "list", name).stdout
    assert f"{name}_shop" in table and "1 of 1 databases" in table
    cli(root, "db", "passwd", name, "shop", "--password-stdin", input=OTHER_PASSWORD + "\n")
    login(f"{name}_shop", OTHER_PASSWORD).close()
    over = cli(
        root, "db", "user-create", name, "extra", "--password-stdin", input=PASSWORD + "\n",
        check=False,
    )  # fmt: skip
    assert over.returncode == 4 and "max_db_users" in over.stderr
    cli(root, "user", "update", name, "--help")  # the verb group coexists with user
    dry = cli(root, "db", "delete", name, "shop", "--dry-run").stdout
    assert "dry run" in dry
    login(f"{name}_shop", OTHER_PASSWORD).close()
    cli(root, "db", "delete", name, f"{name}_shop")
    assert refused(f"{name}_shop", OTHER_PASSWORD)
