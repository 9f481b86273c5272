"""Admin and account endpoints over real HTTP, against a real agent on a temp root."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text, update

from jopanel.db.index import REINDEXED_KEY, UserRepositoryDB
from jopanel.db.models import AccountIndex
from jopanel.db.session import session_scope
from tests.api.conftest import ACCOUNT_A, ACCOUNT_B, CAST, PASSWORD
from tests.api.harness import Api
from tests.conftest import cli

RESELLER = CAST["reseller"][0]


def new_account(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "username": name,
        "password": PASSWORD,
        "contact_email": f"{name}@example.com",
        "primary_domain": f"{name}.example.com",
        **extra,
    }


def create(api: Api, name: str, as_: str = "admin", **extra: Any) -> dict[str, Any]:
    response = api.request("POST", "/api/admin/users", json=new_account(name, **extra), as_=as_)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def names(api: Api, as_: str = "admin", **params: Any) -> list[str]:
    response = api.request("GET", "/api/admin/users", params={"per_page": 500, **params}, as_=as_)
    assert response.status_code == 200, response.text
    return [item["username"] for item in response.json()["items"]]


def test_create_answers_201_with_the_account_and_its_etag(api: Api) -> None:
    response = api.request("POST", "/api/admin/users", json=new_account("cora"), as_="admin")
    assert response.status_code == 201
    body = response.json()
    assert body["account"]["username"] == "cora"
    assert body["account"]["owner"] == "admin"
    assert body["limits"]["disk_quota_mb"] == 1024
    assert response.headers["ETag"] == f'"{body["revision"]}"'
    assert response.headers["Location"] == "/api/admin/users/cora"
    assert (api.settings.root / "home/cora/public_html").is_dir()
    assert "cora" in names(api, search="cora")
    # The account logs in to the panel with the password it was created with.
    assert api.login("cora", PASSWORD)


def test_update_needs_the_current_etag_and_a_stale_one_changes_nothing(api: Api) -> None:
    create(api, "dave")
    first = api.request("GET", "/api/admin/users/dave", as_="admin")
    etag = first.headers["ETag"]
    change = {"account": {"contact_email": "new@example.com"}, "limits": {"max_databases": 7}}
    updated = api.request(
        "PUT", "/api/admin/users/dave", json=change, headers={"If-Match": etag}, as_="admin"
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["account"]["contact_email"] == "new@example.com"
    assert updated.json()["limits"]["max_databases"] == 7
    assert updated.headers["ETag"] != etag

    stale = api.request(
        "PUT", "/api/admin/users/dave", json={"account": {"contact_email": "lost@example.com"}},
        headers={"If-Match": etag}, as_="admin",
    )  # fmt: skip
    assert stale.status_code == 412
    assert stale.json()["code"] == "stale"
    now = api.request("GET", "/api/admin/users/dave", as_="admin")
    assert now.json()["account"]["contact_email"] == "new@example.com"
    assert now.headers["ETag"] == updated.headers["ETag"]

    missing = api.request("PUT", "/api/admin/users/dave", json=change, as_="admin")
    assert missing.status_code == 428
    garbage = api.request(
        "PUT", "/api/admin/users/dave", json=change, headers={"If-Match": "nope"}, as_="admin"
    )
    assert garbage.status_code == 412
    assert "new@example.com" in str(
        api.request("GET", "/api/admin/users", params={"search": "dave"}, as_="admin").json()
    )


def test_the_agent_records_the_api_actor_in_meta(api: Api) -> None:
    create(api, "erin")
    meta = api.request("GET", "/api/admin/users/erin", as_="admin").json()["meta"]
    assert meta["audit"]["last_actor"] == "admin"
    assert meta["audit"]["last_action"] == "create"


def test_duplicate_username_or_domain_is_409(api: Api) -> None:
    create(api, "fred")
    again = api.request("POST", "/api/admin/users", json=new_account("fred"), as_="admin")
    assert again.status_code == 409
    assert again.json()["field"] == "username"
    same_domain = api.request(
        "POST",
        "/api/admin/users",
        json=new_account("gina", primary_domain="fred.example.com"),
        as_="admin",
    )
    assert same_domain.status_code == 409
    assert same_domain.json()["field"] == "primary_domain"
    assert "gina" not in names(api)
    reseller_name = api.request("POST", "/api/admin/users", json=new_account(RESELLER), as_="admin")
    assert reseller_name.status_code == 409


def test_invalid_input_is_422_naming_the_field(api: Api) -> None:
    cases = [
        ({**new_account("hank"), "username": "Hank!"}, "username"),
        ({**new_account("hank"), "contact_email": "not-an-email"}, "contact_email"),
        ({**new_account("hank"), "primary_domain": "no_dots"}, "primary_domain"),
        ({k: v for k, v in new_account("hank").items() if k != "password"}, "password"),
        ({**new_account("hank"), "password": "short"}, "password"),
        ({**new_account("hank"), "surprise": 1}, "surprise"),
        ({**new_account("hank"), "package": "nosuchplan"}, "package"),
        ({**new_account("root")}, "username"),
    ]
    for body, field in cases:
        response = api.request("POST", "/api/admin/users", json=body, as_="admin")
        assert response.status_code == 422, (body, response.text)
        assert response.json()["field"] == field, response.json()
    etag = api.request("GET", f"/api/admin/users/{ACCOUNT_A}", as_="admin").headers["ETag"]
    bad = api.request(
        "PUT", f"/api/admin/users/{ACCOUNT_A}", json={"limits": {"disk_quota_mb": -1}},
        headers={"If-Match": etag}, as_="admin",
    )  # fmt: skip
    assert bad.status_code == 422
    assert bad.json()["field"] == "limits.disk_quota_mb"
    assert (
        api.request("GET", "/api/admin/users", params={"per_page": 0}, as_="admin").json()["field"]
        == "per_page"
    )


def test_list_filters_and_paginates(api: Api) -> None:
    all_names = names(api)
    assert all_names == sorted(all_names)
    page = api.request(
        "GET", "/api/admin/users", params={"per_page": 2, "page": 2}, as_="admin"
    ).json()
    assert page["page"] == 2 and page["per_page"] == 2
    assert [i["username"] for i in page["items"]] == all_names[2:4]
    assert page["total"] == len(all_names)
    assert set(page["items"][0]) == {
        "username",
        "primary_domain",
        "contact_email",
        "package",
        "status",
        "owner",
    }
    assert names(api, search="ANNA.EXAMPLE") == [ACCOUNT_A]
    assert names(api, search="%") == []  # LIKE wildcards are literal
    assert names(api, package="nosuch") == []
    assert ACCOUNT_A in names(api, status="active", package="default")


def test_resellers_see_only_their_accounts(api: Api) -> None:
    mine = names(api, as_="reseller")
    assert ACCOUNT_A in mine and ACCOUNT_B not in mine
    assert ACCOUNT_B in names(api, as_="other_reseller")
    created = create(api, "ivan", as_="reseller")
    assert created["account"]["owner"] == RESELLER
    assert "ivan" in names(api, as_="reseller")
    assert "ivan" not in names(api, as_="other_reseller")
    foreign_owner = api.request(
        "POST", "/api/admin/users", json=new_account("jack", owner="admin"), as_="reseller"
    )
    assert foreign_owner.status_code == 403
    etag = api.request("GET", "/api/admin/users/ivan", as_="reseller").headers["ETag"]
    steal = api.request(
        "PUT",
        "/api/admin/users/ivan",
        json={"account": {"owner": "restwo"}},
        headers={"If-Match": etag},
        as_="reseller",
    )
    assert steal.status_code == 403


def test_admin_can_hand_an_account_to_a_reseller(api: Api) -> None:
    create(api, "kate", owner=CAST["other_reseller"][0])
    assert "kate" in names(api, as_="other_reseller")
    bad_owner = api.request(
        "POST", "/api/admin/users", json=new_account("liam", owner="nobodyhere"), as_="admin"
    )
    assert bad_owner.status_code == 422
    assert bad_owner.json()["field"] == "owner"


def test_suspend_ends_sessions_and_refuses_login_until_unsuspended(api: Api) -> None:
    create(api, "mona")
    token = api.login("mona", PASSWORD)
    assert (
        api.request(
            "GET", "/api/user/account", headers={"Authorization": f"Bearer {token}"}
        ).status_code
        == 200
    )
    suspended = api.request("POST", "/api/admin/users/mona/suspend", as_="admin")
    assert suspended.status_code == 200
    assert suspended.json()["account"]["status"] == "suspended"
    assert (
        api.request(
            "GET", "/api/user/account", headers={"Authorization": f"Bearer {token}"}
        ).status_code
        == 401
    )
    refused = api.request(
        "POST", "/api/auth/login", json={"username": "mona", "password": PASSWORD}
    )
    assert refused.status_code == 403
    assert names(api, status="suspended", search="mona") == ["mona"]
    assert (
        api.request("POST", "/api/admin/users/mona/unsuspend", as_="admin").json()["account"][
            "status"
        ]
        == "active"
    )
    assert api.login("mona", PASSWORD)


def test_reset_password_changes_the_login_and_ends_sessions(api: Api) -> None:
    create(api, "nina")
    token = api.login("nina", PASSWORD)
    response = api.request(
        "POST",
        "/api/admin/users/nina/reset-password",
        json={"password": "brand new secret"},
        as_="admin",
    )
    assert response.status_code == 204
    assert (
        api.request(
            "GET", "/api/user/account", headers={"Authorization": f"Bearer {token}"}
        ).status_code
        == 401
    )
    assert (
        api.request(
            "POST", "/api/auth/login", json={"username": "nina", "password": PASSWORD}
        ).status_code
        == 401
    )
    assert api.login("nina", "brand new secret")
    shadow = (api.settings.root / "etc/shadow").read_text()
    assert any(line.startswith("nina:$y$") for line in shadow.splitlines())


def test_login_as_records_the_impersonator(api: Api) -> None:
    response = api.request("POST", f"/api/admin/users/{ACCOUNT_A}/login-as", as_="admin")
    assert response.status_code == 200
    pair = response.json()
    assert pair["username"] == ACCOUNT_A and pair["impersonator"] == "admin"
    auth = {"Authorization": f"Bearer {pair['access_token']}"}
    assert api.request("GET", "/api/auth/me", headers=auth).json() == {
        "username": ACCOUNT_A, "role": "user", "impersonator": "admin",
    }  # fmt: skip
    assert (
        api.request("GET", "/api/user/account", headers=auth).json()["account"]["username"]
        == ACCOUNT_A
    )
    assert api.request("GET", "/api/admin/users", headers=auth).status_code == 403
    assert api.request("POST", "/api/auth/logout", headers=auth).status_code == 204
    rows = api.request(
        "GET", "/api/admin/audit-logs", params={"actor": "admin as anna"}, as_="admin"
    ).json()["items"]
    assert rows[0]["action"] == "auth.logout"
    assert rows[0]["actor"] == f"admin as {ACCOUNT_A}"
    started = api.request(
        "GET", "/api/admin/audit-logs", params={"action": "users.login_as"}, as_="admin"
    ).json()
    assert started["items"][0]["target"] == ACCOUNT_A
    assert started["items"][0]["actor"] == "admin"
    assert "logged in as" in started["items"][0]["detail"]


def test_delete_removes_account_login_and_index_entry(api: Api) -> None:
    create(api, "olga")
    token = api.login("olga", PASSWORD)
    assert api.request("DELETE", "/api/admin/users/olga", as_="admin").status_code == 204
    assert api.request("GET", "/api/admin/users/olga", as_="admin").status_code == 404
    assert "olga" not in names(api)
    assert (
        api.request(
            "GET", "/api/user/account", headers={"Authorization": f"Bearer {token}"}
        ).status_code
        == 401
    )
    assert (
        api.request(
            "POST", "/api/auth/login", json={"username": "olga", "password": PASSWORD}
        ).status_code
        == 401
    )
    assert not (api.settings.root / "home/olga").exists()
    assert api.request("DELETE", "/api/admin/users/olga", as_="admin").status_code == 404


def _answers(api: Api) -> list[Any]:
    queries = [
        {},
        {"search": "a"},
        {"status": "suspended"},
        {"package": "default", "per_page": 3, "page": 2},
    ]
    return [
        api.request("GET", "/api/admin/users", params=q, as_=who).json()
        for q in queries
        for who in ("admin", "reseller", "other_reseller")
    ]


def _drop_index_tables(api: Api) -> None:
    with api.app.state.ctx.engine.begin() as conn:
        conn.execute(text("DROP TABLE account_index"))
        conn.execute(text("DROP TABLE index_state"))


def test_every_list_answer_survives_dropping_the_index(api: Api) -> None:
    before = _answers(api)
    _drop_index_tables(api)
    response = api.request("POST", "/api/admin/reindex", as_="admin")
    assert response.status_code == 200
    assert response.json()["indexed"] == before[0]["total"]
    assert _answers(api) == before
    _drop_index_tables(api)
    cli(api.settings.root, "reindex")  # the CLI talks to the same running agent
    assert _answers(api) == before


def test_a_failing_index_never_fails_the_request_and_reindex_repairs_it(api: Api) -> None:
    with api.app.state.ctx.engine.begin() as conn:
        conn.execute(text("DROP TABLE account_index"))
    response = api.request("POST", "/api/admin/users", json=new_account("pete"), as_="admin")
    assert response.status_code == 201  # the change stands; the index is marked stale
    with session_scope(api.app.state.ctx.sessions) as db:
        assert UserRepositoryDB(db).is_stale()
    assert api.request("GET", "/api/admin/users/pete", as_="admin").status_code == 200
    assert "pete" in names(api)  # the next list rebuilds the stale index first


def test_details_come_from_disk_never_from_the_index(api: Api) -> None:
    with session_scope(api.app.state.ctx.sessions) as db:
        db.execute(
            update(AccountIndex)
            .where(AccountIndex.username == ACCOUNT_B)
            .values(contact_email="cache@lie.example")
        )
    detail = api.request("GET", f"/api/admin/users/{ACCOUNT_B}", as_="admin").json()
    assert detail["account"]["contact_email"] == f"{ACCOUNT_B}@example.com"
    api.request("POST", "/api/admin/reindex", as_="admin")


def test_an_account_created_with_the_cli_shows_up_in_the_list(api: Api) -> None:
    cli(
        api.settings.root,
        "user",
        "create",
        "quin",
        "--domain",
        "quin.example.com",
        "--email",
        "q@example.com",
    )
    assert "quin" in names(api)
    cli(api.settings.root, "user", "delete", "quin")
    assert "quin" not in names(api)


def test_packages_crud(api: Api) -> None:
    created = api.request(
        "POST", "/api/admin/packages", json={"name": "gold", "disk_quota_mb": 10240}, as_="admin"
    )
    assert created.status_code == 201
    assert created.json()["disk_quota_mb"] == 10240
    assert (
        api.request("POST", "/api/admin/packages", json={"name": "gold"}, as_="admin").status_code
        == 409
    )
    assert "gold" in [
        p["name"] for p in api.request("GET", "/api/admin/packages", as_="reseller").json()
    ]
    updated = api.request("PUT", "/api/admin/packages/gold", json={"max_databases": 9}, as_="admin")
    assert updated.json()["max_databases"] == 9 and updated.json()["disk_quota_mb"] == 10240
    create(api, "rosa", package="gold")
    assert (
        api.request("GET", "/api/admin/users/rosa", as_="admin").json()["limits"]["max_databases"]
        == 9
    )
    assert (
        api.request("DELETE", "/api/admin/packages/gold", as_="admin").status_code == 409
    )  # in use
    assert api.request("DELETE", "/api/admin/users/rosa", as_="admin").status_code == 204
    assert api.request("DELETE", "/api/admin/packages/gold", as_="admin").status_code == 204
    assert api.request("GET", "/api/admin/packages/gold", as_="admin").status_code == 404
    assert api.request("DELETE", "/api/admin/packages/default", as_="admin").status_code == 409
    assert (
        api.request("POST", "/api/admin/packages", json={"name": "Bad Name"}, as_="admin").json()[
            "field"
        ]
        == "name"
    )


def test_audit_log_has_a_row_per_mutation_and_login(api: Api) -> None:
    api.request("POST", "/api/auth/login", json={"username": "admin", "password": "wrong password"})
    failed = api.request(
        "GET",
        "/api/admin/audit-logs",
        params={"action": "auth.login", "result": "denied"},
        as_="admin",
    )
    row = failed.json()["items"][0]
    assert (row["actor"], row["target"], row["ip"], row["result"]) == (
        "admin",
        "admin",
        "127.0.0.1",
        "denied",
    )
    create(api, "sara")
    rows = api.request(
        "GET", "/api/admin/audit-logs", params={"target": "sara"}, as_="admin"
    ).json()["items"]
    assert [(r["action"], r["result"], r["actor"]) for r in rows] == [
        ("users.create", "ok", "admin")
    ]
    assert rows[0]["detail"] == "201 domain sara.example.com, package default"
    etag = api.request("GET", "/api/admin/users/sara", as_="admin").headers["ETag"]
    change = {"account": {"contact_email": "s@example.com"}, "limits": {"max_databases": 2}}
    api.request(
        "PUT", "/api/admin/users/sara", json=change, headers={"If-Match": etag}, as_="admin"
    )
    rows = api.request(
        "GET", "/api/admin/audit-logs", params={"target": "sara"}, as_="admin"
    ).json()["items"]
    assert rows[0]["detail"] == "200 fields account.contact_email, limits.max_databases"
    denied = api.request("POST", "/api/admin/users/sara/suspend", as_="account_a")
    assert denied.status_code == 403
    rows = api.request(
        "GET", "/api/admin/audit-logs", params={"target": "sara"}, as_="admin"
    ).json()["items"]
    assert (rows[0]["action"], rows[0]["result"], rows[0]["actor"]) == (
        "users.suspend",
        "denied",
        ACCOUNT_A,
    )
    page = api.request(
        "GET", "/api/admin/audit-logs", params={"per_page": 1, "page": 2}, as_="admin"
    ).json()
    assert len(page["items"]) == 1 and page["total"] > 2
    assert page["items"][0]["at"].endswith(("Z", "+00:00"))


def test_system_load_services_and_health(api: Api) -> None:
    load = api.request("GET", "/api/admin/system/load", as_="admin").json()
    assert load["cpu_count"] >= 1 and load["memory_total_mb"] > 0
    services = api.request("GET", "/api/admin/services/status", as_="admin").json()["items"]
    assert {
        "name": "agent",
        "status": "running",
        "detail": str(api.settings.socket_path),
    } in services
    assert api.request("GET", "/api/health").json() == {
        "status": "ok",
        "agent": "ok",
        "database": "ok",
    }


def test_the_account_sees_its_own_data_and_stats(api: Api) -> None:
    account = api.request("GET", "/api/user/account", as_="account_b")
    assert account.json()["account"]["username"] == ACCOUNT_B
    assert account.headers["ETag"] == f'"{account.json()["revision"]}"'
    stats = api.request("GET", "/api/user/stats", as_="account_b").json()
    assert stats["username"] == ACCOUNT_B
    assert stats["limits"]["disk_quota_mb"] == 1024
    assert stats["usage"]["files"] >= 1 and stats["usage"]["disk_used_mb"] > 0


def test_index_entries_agree_with_the_full_read(api: Api) -> None:
    agent = api.app.state.ctx.agent
    fast = agent.execute("index_entries", {}).data
    full = agent.execute("list_users", {}).data
    assert fast == full


def test_api_changes_keep_the_index_in_sync_without_a_rebuild(api: Api) -> None:
    names(api)  # in sync now
    with session_scope(api.app.state.ctx.sessions) as db:
        rebuilt = UserRepositoryDB(db).get_state(REINDEXED_KEY)
    create(api, "tina")
    api.request("POST", "/api/admin/users/tina/suspend", as_="admin")
    assert names(api, search="tina", status="suspended") == ["tina"]
    with session_scope(api.app.state.ctx.sessions) as db:
        assert UserRepositoryDB(db).get_state(REINDEXED_KEY) == rebuilt


def test_hosting_changes_by_the_account_keep_the_index_in_sync(api: Api) -> None:
    names(api)  # in sync now
    with session_scope(api.app.state.ctx.sessions) as db:
        rebuilt = UserRepositoryDB(db).get_state(REINDEXED_KEY)
    added = api.request(
        "POST", "/api/user/domains", json={"domain": "anna-shop.example.org"}, as_="account_a"
    )
    assert added.status_code == 201, added.text
    removed = api.request("DELETE", "/api/user/domains/anna-shop.example.org", as_="account_a")
    assert removed.status_code == 204
    etag = api.request("GET", "/api/admin/users/anna", as_="admin").headers["ETag"]
    with session_scope(api.app.state.ctx.sessions) as db:
        repo = UserRepositoryDB(db)
        assert repo.get_state(REINDEXED_KEY) == rebuilt  # no full rebuild was needed
        row = db.get(AccountIndex, "anna")
        assert row is not None and etag.strip('"') == row.revision
