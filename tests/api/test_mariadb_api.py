"""The same API on the real MariaDB (a throwaway database), against the shared agent."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from jopanel.settings import load_settings
from tests.api.conftest import PASSWORD
from tests.api.harness import Api, make_app, serving
from tests.test_db import mariadb_database


@pytest.fixture
def mariadb_api(api: Api) -> Iterator[Api]:
    urls = mariadb_database()
    url = next(urls)
    settings = load_settings(api.settings.root, database_url=url)
    app = make_app(settings)
    try:
        app.state.ctx.staff.create("admin", PASSWORD, "admin")
        with serving(app) as base:
            server = Api(url=base, app=app, settings=settings)
            server.tokens["admin"] = server.login("admin", PASSWORD)
            yield server
    finally:
        next(urls, None)


def test_list_reindex_and_audit_on_mariadb(mariadb_api: Api, api: Api) -> None:
    on_sqlite = api.request("GET", "/api/admin/users", params={"per_page": 500}, as_="admin").json()
    # A fresh database: the first list rebuilds the index from disk, then answers alike.
    on_mariadb = mariadb_api.request(
        "GET", "/api/admin/users", params={"per_page": 500}, as_="admin"
    ).json()
    assert on_mariadb == on_sqlite
    assert (
        mariadb_api.request("POST", "/api/admin/reindex", as_="admin").json()["indexed"]
        == on_sqlite["total"]
    )
    searched = mariadb_api.request(
        "GET", "/api/admin/users", params={"search": "ANNA"}, as_="admin"
    ).json()
    assert [i["username"] for i in searched["items"]] == ["anna"]
    rows = mariadb_api.request("GET", "/api/admin/audit-logs", as_="admin").json()["items"]
    assert [(r["action"], r["result"]) for r in rows][:2] == [
        ("system.reindex", "ok"),
        ("auth.login", "ok"),
    ]
    assert rows[0]["at"].endswith(("Z", "+00:00"))
