"""Sessions end when what they were opened on changes, whichever path changes it: a new
password set while a login was under way, a password set outside the panel (the real
`chpasswd`), an account moved away from the reseller that logged in as it."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import httpx
import pytest

from jopanel.accounts.service import cli_principal
from jopanel.auth.sessions import AccountCheck, AccountDirectory, Identity
from jopanel.settings import load_settings
from jopanel.system.sandbox import init_root
from tests.api.harness import Api, make_app, running_agent, serving

PASSWORD = "first password"
NEW_PASSWORD = "second password"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    root = tmp_path_factory.mktemp("holes") / "root"
    settings = load_settings(root)
    init_root(settings)
    with running_agent(root, settings):
        app = make_app(settings)
        with serving(app) as url:
            api = Api(url=url, app=app, settings=settings)
            for name, role in (("boss", "admin"), ("resone", "reseller"), ("restwo", "reseller")):
                app.state.ctx.staff.create(name, PASSWORD, role)
                api.tokens[name] = api.login(name, PASSWORD)
            yield api


def create_account(api: Api, name: str, owner: str = "boss") -> None:
    body = {"username": name, "password": PASSWORD, "contact_email": f"{name}@example.com",
            "primary_domain": f"{name}.example.com", "owner": owner}  # fmt: skip
    created = api.request("POST", "/api/admin/users", json=body, as_="boss")
    assert created.status_code == 201, created.text


def login(api: Api, name: str, password: str) -> httpx.Response:
    return api.request("POST", "/api/auth/login", json={"username": name, "password": password})


def me(api: Api, token: str) -> int:
    with api.client(token) as client:
        return client.get("/api/auth/me").status_code


def refresh(api: Api, token: str) -> int:
    return api.request("POST", "/api/auth/refresh", json={"refresh_token": token}).status_code


class PasswordSetDuringTheLogin:
    """The real directory, but between the agent's password check and the session being
    stored, the account's password is set through the panel's own path."""

    def __init__(self, real: AccountDirectory, api: Api) -> None:
        self.real = real
        self.api = api

    def verify(self, username: str, password: str, ip: str) -> AccountCheck:
        check = self.real.verify(username, password, ip)
        accounts = self.api.app.state.ctx.accounts
        accounts.reset_password(cli_principal(), username, NEW_PASSWORD)
        return check

    def identity(self, username: str) -> Identity | None:
        return self.real.identity(username)

    def password_stamp(self, username: str) -> str | None:
        return self.real.password_stamp(username)


def test_a_session_opened_between_the_check_and_a_new_password_is_dead_after(
    world: Api,
) -> None:
    create_account(world, "racer")
    auth = world.app.state.ctx.auth
    real = auth.accounts
    auth.accounts = PasswordSetDuringTheLogin(real, world)
    try:
        opened = login(world, "racer", PASSWORD)
    finally:
        auth.accounts = real
    assert opened.status_code == 200, opened.text  # the old password was right when checked
    assert me(world, opened.json()["access_token"]) == 401
    assert refresh(world, opened.json()["refresh_token"]) == 401
    fresh = login(world, "racer", NEW_PASSWORD).json()
    assert me(world, fresh["access_token"]) == 200


def chpasswd(api: Api, name: str, password: str) -> None:
    """An admin's `chpasswd` on the system, behind the panel's back (Debian 12's shadow
    4.13 takes the root with --root; SHA-512, so the next login rehashes it)."""
    subprocess.run(
        ["chpasswd", "--root", str(api.settings.root), "-c", "SHA512"],
        input=f"{name}:{password}\n", text=True, check=True, capture_output=True, timeout=60,
    )  # fmt: skip


def test_chpasswd_outside_the_panel_ends_panel_sessions_within_one_request(world: Api) -> None:
    create_account(world, "outside")
    first = login(world, "outside", PASSWORD).json()
    second = login(world, "outside", PASSWORD).json()
    assert (me(world, first["access_token"]), me(world, second["access_token"])) == (200, 200)
    chpasswd(world, "outside", NEW_PASSWORD)
    shadow = world.settings.path("etc/shadow").read_text()
    assert any(line.startswith("outside:$6$") for line in shadow.splitlines())
    assert me(world, first["access_token"]) == 401  # the first request after the change
    assert refresh(world, second["refresh_token"]) == 401
    assert login(world, "outside", PASSWORD).status_code == 401
    # The new password logs in; the login rehashes it (yescrypt) and the session is
    # bound to the rehashed entry, so it lives on.
    fresh = login(world, "outside", NEW_PASSWORD).json()
    shadow = world.settings.path("etc/shadow").read_text()
    assert any(line.startswith("outside:$y$") for line in shadow.splitlines())
    assert me(world, fresh["access_token"]) == 200
    assert refresh(world, fresh["refresh_token"]) == 200


def test_a_password_change_outside_the_panel_ends_login_as_sessions_too(world: Api) -> None:
    create_account(world, "viewed")
    with world.client(world.tokens["boss"]) as client:
        as_account = client.post("/api/admin/users/viewed/login-as").json()
    assert me(world, as_account["access_token"]) == 200
    chpasswd(world, "viewed", NEW_PASSWORD)
    assert me(world, as_account["access_token"]) == 401


def move(api: Api, name: str, owner: str) -> None:
    moved = api.request(
        "PUT", f"/api/admin/users/{name}", json={"account": {"owner": owner}},
        headers={"If-Match": "*"}, as_="boss",
    )  # fmt: skip
    assert moved.status_code == 200, moved.text


def test_an_owner_change_ends_the_old_resellers_login_as(world: Api) -> None:
    create_account(world, "moving", owner="resone")
    with world.client(world.tokens["resone"]) as client:
        by_reseller = client.post("/api/admin/users/moving/login-as").json()
    with world.client(world.tokens["boss"]) as client:
        by_admin = client.post("/api/admin/users/moving/login-as").json()
    assert me(world, by_reseller["access_token"]) == 200
    move(world, "moving", "restwo")
    assert me(world, by_reseller["access_token"]) == 401
    assert refresh(world, by_reseller["refresh_token"]) == 401
    assert me(world, by_admin["access_token"]) == 200  # an admin still sees the account
    move(world, "moving", "resone")  # back again: what ended stays ended
    assert me(world, by_reseller["access_token"]) == 401


def test_a_login_as_whose_reseller_lost_the_account_behind_the_panel_ends(world: Api) -> None:
    """Moved by the agent alone (no revocation by the service): the check at each request
    and refresh sees the new owner."""
    from jopanel.agent.client import SocketAgent

    create_account(world, "handmoved", owner="resone")
    with world.client(world.tokens["resone"]) as client:
        pair = client.post("/api/admin/users/handmoved/login-as").json()
    agent = SocketAgent(world.settings)
    try:
        agent.execute(
            "update_user_config",
            {"username": "handmoved", "account": {"owner": "restwo"}},
            actor="someone",
        )
    finally:
        agent.close()
    assert refresh(world, pair["refresh_token"]) == 401
    assert me(world, pair["access_token"]) == 401


def forget_stamp(api: Api, access_token: str) -> None:
    """What a session opened before sessions carried password stamps looks like."""
    import jwt

    from jopanel.db.models import AuthSession
    from jopanel.db.session import session_scope

    sid = jwt.decode(access_token, options={"verify_signature": False})["sid"]
    with session_scope(api.app.state.ctx.sessions) as db:
        row = db.get(AuthSession, sid)
        assert row is not None and row.password_stamp is not None
        row.password_stamp = None


def test_a_session_without_a_stamp_ends_even_when_the_shadow_entry_is_gone(world: Api) -> None:
    create_account(world, "nostamp")
    old = login(world, "nostamp", PASSWORD).json()["access_token"]
    forget_stamp(world, old)
    assert me(world, old) == 401  # opened before the upgrade: its holder logs in again
    other = login(world, "nostamp", PASSWORD).json()["access_token"]
    forget_stamp(world, other)
    shadow = world.settings.path("etc/shadow")
    kept = [x for x in shadow.read_text().splitlines() if not x.startswith("nostamp:")]
    edited = shadow.with_name("shadow.edit")
    edited.write_text("\n".join(kept) + "\n")
    edited.chmod(shadow.stat().st_mode & 0o777)
    edited.replace(shadow)  # a hand edit that drops the entry: no hash is no stamp either
    assert me(world, other) == 401
