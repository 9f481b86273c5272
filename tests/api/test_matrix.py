"""The authorization matrix: every endpoint × every kind of caller, with the expected status.

Callers: anonymous, account A (owned by reseller), account B (owned by the other
reseller), reseller, other reseller, admin. Account-scoped admin endpoints target an
account owned by `reseller`, so the other reseller must get 404 (it may not even learn
the account exists) and the owner 2xx. Cells expected to be refused must leave the
target exactly as it was.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.api.conftest import ACCOUNT_A, CAST, PASSWORD
from tests.api.harness import Api

MATRIX_KEY = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIADRMfWAFyOd9SNdAdpqOOkC5Ay1m6I8Im/BjiWkLx3Y matrix@test"
)
CALLERS = ("anonymous", "account_a", "account_b", "reseller", "other_reseller", "admin")
_seq = itertools.count(1)

# Shorthands for the rows below: who gets what.
PUBLIC = dict.fromkeys(CALLERS, 200)


def row(anon: int, accounts: int, reseller: int, other: int, admin: int) -> dict[str, int]:
    return {
        "anonymous": anon,
        "account_a": accounts,
        "account_b": accounts,
        "reseller": reseller,
        "other_reseller": other,
        "admin": admin,
    }


STAFF_LIST = row(401, 403, 200, 200, 200)
OWNED = row(401, 403, 200, 404, 200)
OWNED_204 = row(401, 403, 204, 404, 204)
ADMIN_ONLY = row(401, 403, 403, 403, 200)
ACCOUNT_ONLY = row(401, 200, 403, 403, 403)
LOGGED_IN = row(401, 200, 200, 200, 200)
FILE_MISSING = {"path": "mx-missing"}


@dataclass
class Endpoint:
    method: str
    path: str
    expect: dict[str, int]
    # "owned": a fresh account owned by `reseller` when the cell should succeed (else A);
    # "package": a fresh package; "token": a fresh login of the caller.
    target: str | None = None
    body: Callable[[Api, str, str], Any] | None = None
    headers: Callable[[Api, str], dict[str, str]] | None = None
    mutates: bool = False
    params: dict[str, str] = field(default_factory=dict)


def _revision(api: Api, username: str) -> str:
    revision: str = api.app.state.ctx.agent.execute("get_config", {"username": username}).data[
        "revision"
    ]
    return revision


def _if_match(api: Api, target: str) -> dict[str, str]:
    return {"If-Match": f'"{_revision(api, target)}"'}


def _new_user(api: Api, caller: str, _target: str) -> dict[str, str]:
    name = f"mx{next(_seq)}{caller[:3].replace('_', '')}"
    return {
        "username": name,
        "password": PASSWORD,
        "contact_email": f"{name}@example.com",
        "primary_domain": f"{name}.example.net",
    }


ENDPOINTS: dict[str, Endpoint] = {
    "health": Endpoint("GET", "/api/health", PUBLIC),
    "auth.login": Endpoint("POST", "/api/auth/login", row(401, 200, 200, 200, 200), target="token"),
    "auth.refresh": Endpoint(
        "POST", "/api/auth/refresh", row(401, 200, 200, 200, 200), target="token"
    ),
    "auth.logout": Endpoint(
        "POST", "/api/auth/logout", row(401, 204, 204, 204, 204), target="token"
    ),
    "auth.me": Endpoint("GET", "/api/auth/me", LOGGED_IN),
    "users.list": Endpoint("GET", "/api/admin/users", STAFF_LIST, params={"search": "a"}),
    "users.create": Endpoint(
        "POST", "/api/admin/users", row(401, 403, 201, 201, 201), body=_new_user, mutates=True
    ),
    "users.get": Endpoint("GET", "/api/admin/users/{target}", OWNED, target="owned"),
    "users.update": Endpoint(
        "PUT",
        "/api/admin/users/{target}",
        OWNED,
        target="owned",
        body=lambda _api, _caller, _t: {"account": {"contact_email": "changed@example.com"}},
        headers=_if_match,
        mutates=True,
    ),
    "users.delete": Endpoint(
        "DELETE", "/api/admin/users/{target}", OWNED_204, target="owned", mutates=True
    ),
    "users.ssh_mode": Endpoint(
        "PUT",
        "/api/admin/users/{target}/ssh",
        OWNED,
        target="owned",
        mutates=True,
        body=lambda api, caller, target: {"mode": "sftp_chroot"},
    ),
    "users.suspend": Endpoint(
        "POST", "/api/admin/users/{target}/suspend", OWNED, target="owned", mutates=True
    ),
    "users.unsuspend": Endpoint(
        "POST", "/api/admin/users/{target}/unsuspend", OWNED, target="owned", mutates=True
    ),
    "users.reset_password": Endpoint(
        "POST",
        "/api/admin/users/{target}/reset-password",
        OWNED_204,
        target="owned",
        body=lambda _api, _caller, _t: {"password": "another long password"},
        mutates=True,
    ),
    "users.login_as": Endpoint("POST", "/api/admin/users/{target}/login-as", OWNED, target="owned"),
    "packages.list": Endpoint("GET", "/api/admin/packages", STAFF_LIST),
    "packages.get": Endpoint("GET", "/api/admin/packages/{target}", STAFF_LIST, target="default"),
    "packages.create": Endpoint(
        "POST",
        "/api/admin/packages",
        row(401, 403, 403, 403, 201),
        body=lambda _api, caller, _t: {"name": f"mx{next(_seq)}{caller[:3]}", "disk_quota_mb": 5},
        mutates=True,
    ),
    "packages.update": Endpoint(
        "PUT",
        "/api/admin/packages/{target}",
        ADMIN_ONLY,
        target="package",
        body=lambda _api, _caller, _t: {"disk_quota_mb": 7},
        mutates=True,
    ),
    "packages.delete": Endpoint(
        "DELETE",
        "/api/admin/packages/{target}",
        row(401, 403, 403, 403, 204),
        target="package",
        mutates=True,
    ),
    "audit.list": Endpoint("GET", "/api/admin/audit-logs", ADMIN_ONLY),
    "system.load": Endpoint("GET", "/api/admin/system/load", ADMIN_ONLY),
    "system.services": Endpoint("GET", "/api/admin/services/status", ADMIN_ONLY),
    "system.reindex": Endpoint("POST", "/api/admin/reindex", ADMIN_ONLY, mutates=True),
    "reserved_domains.get": Endpoint("GET", "/api/admin/reserved-domains", ADMIN_ONLY),
    "reserved_domains.set": Endpoint(
        "PUT",
        "/api/admin/reserved-domains",
        ADMIN_ONLY,
        body=lambda _api, _caller, _t: {"domains": ["matrix-provider.example"]},
        mutates=True,
    ),
    "user.account": Endpoint("GET", "/api/user/account", ACCOUNT_ONLY),
    "user.stats": Endpoint("GET", "/api/user/stats", ACCOUNT_ONLY),
    # Hosting (domains, SSH keys, PHP): each account acts on itself only. The DELETE rows
    # name a value ("anna") that is neither a domain nor a fingerprint: past the role gate
    # an account gets 422, everyone else is refused before.
    "user.domains.list": Endpoint("GET", "/api/user/domains", ACCOUNT_ONLY),
    "user.domains.add": Endpoint(
        "POST",
        "/api/user/domains",
        row(401, 201, 403, 403, 403),
        body=lambda api, caller, target: {
            "domain": f"mx{next(_seq)}.{LOGIN_NAMES.get(caller, 'anna')}.example.com",
            "type": "subdomain",
        },
    ),
    "user.domains.remove": Endpoint(
        "DELETE", "/api/user/domains/{target}", row(401, 422, 403, 403, 403)
    ),
    "user.ssh_keys.list": Endpoint("GET", "/api/user/ssh-keys", ACCOUNT_ONLY),
    "user.ssh_keys.add": Endpoint(
        "POST",
        "/api/user/ssh-keys",
        row(401, 201, 403, 403, 403),
        body=lambda api, caller, target: {"key": MATRIX_KEY},
    ),
    "user.ssh_keys.remove": Endpoint(
        "DELETE", "/api/user/ssh-keys/{target}", row(401, 422, 403, 403, 403)
    ),
    # Databases: past the role gate an account gets 404 for a name it does not own
    # ("anna" is `anna_anna`, which it never made) and 422 for a weak password.
    "user.databases.list": Endpoint("GET", "/api/user/databases", ACCOUNT_ONLY),
    "user.databases.create": Endpoint(
        "POST",
        "/api/user/databases",
        row(401, 422, 403, 403, 403),
        body=lambda api, caller, target: {"name": "mx", "password": "short"},
    ),
    "user.databases.delete": Endpoint(
        "DELETE", "/api/user/databases/{target}", row(401, 404, 403, 403, 403)
    ),
    "user.databases.password": Endpoint(
        "POST",
        "/api/user/databases/{target}/password",
        row(401, 422, 403, 403, 403),
        body=lambda api, caller, target: {"password": "short"},
    ),
    "user.databases.users.create": Endpoint(
        "POST",
        "/api/user/databases/users",
        row(401, 422, 403, 403, 403),
        body=lambda api, caller, target: {"name": "mx", "password": "short"},
    ),
    "user.databases.users.delete": Endpoint(
        "DELETE", "/api/user/databases/users/{target}", row(401, 404, 403, 403, 403)
    ),
    "user.databases.users.grant": Endpoint(
        "POST",
        "/api/user/databases/users/{target}/grant",
        row(401, 404, 403, 403, 403),
        body=lambda api, caller, target: {"database": "mx"},
    ),
    "user.databases.users.password": Endpoint(
        "POST",
        "/api/user/databases/users/{target}/password",
        row(401, 422, 403, 403, 403),
        body=lambda api, caller, target: {"password": "short"},
    ),
    "user.php.set": Endpoint(
        "PUT", "/api/user/php", ACCOUNT_ONLY, body=lambda api, caller, target: {"version": "8.2"}
    ),
    "user.php.show": Endpoint("GET", "/api/user/php", ACCOUNT_ONLY),
    # www alias on/off: "anna" is not a domain name, so past the role gate 422.
    "user.domains.update": Endpoint(
        "PUT",
        "/api/user/domains/{target}",
        row(401, 422, 403, 403, 403),
        body=lambda api, caller, target: {"www": True},
    ),
    # Cron: "anna" is a possible job id that no account has: 404 past the role gate.
    "user.cron.list": Endpoint("GET", "/api/user/cron", ACCOUNT_ONLY),
    "user.cron.add": Endpoint(
        "POST",
        "/api/user/cron",
        row(401, 201, 403, 403, 403),
        body=lambda api, caller, target: {"minute": "7", "command": "true"},
    ),
    "user.cron.enable": Endpoint(
        "PUT", "/api/user/cron", ACCOUNT_ONLY, body=lambda api, caller, target: {"enabled": True}
    ),
    "user.cron.remove": Endpoint("DELETE", "/api/user/cron/{target}", row(401, 404, 403, 403, 403)),
    # Certificates: "anna" is not a hostname, so past the role gate (and, for staff, past
    # visibility: the other reseller gets 404) the site name is refused with 422.
    "user.ssl.list": Endpoint("GET", "/api/user/ssl", ACCOUNT_ONLY),
    "user.ssl.issue": Endpoint(
        "POST",
        "/api/user/ssl/{target}/issue",
        row(401, 422, 403, 403, 403),
        body=lambda api, caller, target: {},
    ),
    "user.ssl.upload": Endpoint(
        "PUT",
        "/api/user/ssl/{target}/certificate",
        row(401, 422, 403, 403, 403),
        body=lambda api, caller, target: {"certificate": "x", "key": "y"},
    ),
    "user.ssl.options": Endpoint(
        "PATCH",
        "/api/user/ssl/{target}",
        row(401, 422, 403, 403, 403),
        body=lambda api, caller, target: {"redirect": True},
    ),
    "user.ssl.off": Endpoint("DELETE", "/api/user/ssl/{target}", row(401, 422, 403, 403, 403)),
    "admin.ssl.list": Endpoint("GET", "/api/admin/users/{target}/ssl", OWNED),
    "admin.ssl.issue": Endpoint(
        "POST",
        "/api/admin/users/{target}/ssl/{target}/issue",
        row(401, 403, 422, 404, 422),
        body=lambda api, caller, target: {},
    ),
    "admin.ssl.upload": Endpoint(
        "PUT",
        "/api/admin/users/{target}/ssl/{target}/certificate",
        row(401, 403, 422, 404, 422),
        body=lambda api, caller, target: {"certificate": "x", "key": "y"},
    ),
    "admin.ssl.off": Endpoint(
        "DELETE", "/api/admin/users/{target}/ssl/{target}", row(401, 403, 422, 404, 422)
    ),
    "admin.ssl.renew": Endpoint(
        "POST", "/api/admin/ssl/renew", ADMIN_ONLY, body=lambda api, caller, target: {}
    ),
    # File manager: each account in its own home only; staff are refused (403) before any
    # path is looked at. Past the role gate the rows name "mx-missing", which no home
    # holds (404), or send what the route refuses (422): nothing is changed but a
    # directory made by mkdir and the editor's own file.
    "user.files.list": Endpoint("GET", "/api/user/files/list", ACCOUNT_ONLY),
    "user.files.read": Endpoint(
        "GET", "/api/user/files/content", row(401, 404, 403, 403, 403), params=FILE_MISSING
    ),
    "user.files.save": Endpoint(
        "PUT",
        "/api/user/files/content",
        ACCOUNT_ONLY,
        params={"path": "mx-matrix.txt"},
        body=lambda api, caller, target: {"saved": "by the matrix"},
    ),
    # A JSON body is not multipart: 422 (a field `file` is required).
    "user.files.upload": Endpoint(
        "POST",
        "/api/user/files/upload",
        row(401, 422, 403, 403, 403),
        body=lambda api, caller, target: {"file": "x"},
    ),
    "user.files.download": Endpoint(
        "GET", "/api/user/files/download", row(401, 404, 403, 403, 403), params=FILE_MISSING
    ),
    "user.files.mkdir": Endpoint(
        "POST",
        "/api/user/files/mkdir",
        row(401, 201, 403, 403, 403),
        body=lambda api, caller, target: {"path": f"mx{next(_seq)}"},
    ),
    "user.files.move": Endpoint(
        "POST",
        "/api/user/files/move",
        row(401, 404, 403, 403, 403),
        body=lambda api, caller, target: {"source": "mx-missing", "destination": "mx-moved"},
    ),
    "user.files.copy": Endpoint(
        "POST",
        "/api/user/files/copy",
        row(401, 404, 403, 403, 403),
        body=lambda api, caller, target: {"source": "mx-missing", "destination": "mx-copied"},
    ),
    "user.files.chmod": Endpoint(
        "POST",
        "/api/user/files/chmod",
        row(401, 404, 403, 403, 403),
        body=lambda api, caller, target: {"path": "mx-missing", "mode": "0644"},
    ),
    "user.files.zip": Endpoint(
        "POST",
        "/api/user/files/zip",
        row(401, 404, 403, 403, 403),
        body=lambda api, caller, target: {"paths": ["mx-missing"], "destination": "mx.zip"},
    ),
    "user.files.unzip": Endpoint(
        "POST",
        "/api/user/files/unzip",
        row(401, 404, 403, 403, 403),
        body=lambda api, caller, target: {"path": "mx-missing.zip"},
    ),
    "user.files.delete": Endpoint(
        "DELETE", "/api/user/files/delete", row(401, 404, 403, 403, 403), params=FILE_MISSING
    ),
}

LOGIN_NAMES = {
    "account_a": "anna",
    "account_b": "bert",
    **{key: name for key, (name, _role) in CAST.items()},
}


def test_matrix_covers_every_route(api: Api) -> None:
    """A new route without a row here fails this test (and so gets a row)."""
    documented = {
        (method.upper(), path.replace("{username}", "{target}").replace("{name}", "{target}"))
        for path, operations in api.app.openapi()["paths"].items()
        for method in operations
    }
    assert documented == {(e.method, e.path) for e in ENDPOINTS.values()}


def _fresh_account(api: Api) -> str:
    name = f"mxo{next(_seq)}"
    api.app.state.ctx.agent.execute(
        "create_user",
        {
            "username": name,
            "contact_email": f"{name}@example.com",
            "primary_domain": f"{name}.example.org",
            "owner": CAST["reseller"][0],
        },
        actor="test",
    )
    return name


def _fresh_package(api: Api) -> str:
    name = f"mxp{next(_seq)}"
    api.app.state.ctx.agent.execute("package_create", {"name": name, "values": {}}, actor="test")
    return name


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
def test_matrix(api: Api, endpoint: str, caller: str) -> None:
    spec = ENDPOINTS[endpoint]
    expected = spec.expect[caller]
    allowed = expected < 400
    token = api.tokens.get(caller)
    target = ACCOUNT_A
    json_body: Any = None
    if spec.target == "owned" and allowed and spec.mutates:
        target = _fresh_account(api)
    elif spec.target == "default":
        target = "default"
    elif spec.target == "package":
        target = _fresh_package(api)
    elif spec.target == "token":
        # A login of its own, so logging out or rotating does not spend the shared token.
        if caller == "anonymous":
            json_body = {"username": "anna", "password": "not the password"}
            if endpoint == "auth.refresh":
                json_body = {"refresh_token": "not-a-token"}
        else:
            login = api.request(
                "POST",
                "/api/auth/login",
                json={"username": LOGIN_NAMES[caller], "password": PASSWORD},
            )
            assert login.status_code == 200, login.text
            pair = login.json()
            token = pair["access_token"]
            if endpoint == "auth.login":
                json_body = {"username": LOGIN_NAMES[caller], "password": PASSWORD}
            elif endpoint == "auth.refresh":
                json_body = {"refresh_token": pair["refresh_token"]}
    if spec.body is not None:
        json_body = spec.body(api, caller, target)
    headers = spec.headers(api, target) if spec.headers else {}
    if token and endpoint not in ("auth.login", "auth.refresh"):
        headers["Authorization"] = f"Bearer {token}"
    before = _revision(api, ACCOUNT_A)
    with httpx.Client(base_url=api.url, timeout=60) as client:
        response = client.request(
            spec.method,
            spec.path.format(target=target),
            json=json_body,
            headers=headers,
            params=spec.params,
        )
    assert response.status_code == expected, (
        f"{endpoint} as {caller}: {response.status_code} {response.text}"
    )
    if not allowed:
        assert _revision(api, ACCOUNT_A) == before
        assert (
            api.app.state.ctx.agent.execute("get_config", {"username": ACCOUNT_A}).data["account"][
                "status"
            ]
            == "active"
        )
    if endpoint == "users.create" and not allowed:
        names = api.app.state.ctx.agent.execute("list_users", {}).data
        assert json_body["username"] not in {n["username"] for n in names}
