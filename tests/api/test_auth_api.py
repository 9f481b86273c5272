"""Logins, tokens, rotation, throttling and client addresses over real HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import bcrypt
import jwt
import pytest
from sqlalchemy import select

from jopanel.auth.sessions import LoginThrottle, load_secret
from jopanel.db.models import PanelUser
from jopanel.db.session import session_scope
from jopanel.settings import Settings, load_settings
from tests.api.conftest import PASSWORD
from tests.api.harness import Api, make_app, serving


@pytest.fixture
def own_api(api: Api, tmp_path: Path) -> Iterator[Api]:
    """A second API on its own database (same agent) with a tight throttle, trusting
    127.0.0.1 as a proxy."""
    settings = load_settings(
        api.settings.root,
        database_url=f"sqlite:///{tmp_path}/own.db",
        trusted_proxies=["127.0.0.1/32"],
    )
    app = make_app(settings, throttle=LoginThrottle(per_account=3, per_ip=5, window_seconds=60))
    app.state.ctx.staff.create("boss", PASSWORD, "admin")
    with serving(app) as url:
        yield Api(url=url, app=app, settings=settings)


def login(api: Api, username: str, password: str, **headers: str) -> int:
    response = api.request(
        "POST",
        "/api/auth/login",
        json={"username": username, "password": password},
        headers=headers,
    )
    return response.status_code


def test_refresh_rotates_and_a_replayed_token_ends_the_session(api: Api) -> None:
    pair = api.request(
        "POST", "/api/auth/login", json={"username": "admin", "password": PASSWORD}
    ).json()
    second = api.request("POST", "/api/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert second.status_code == 200
    new = second.json()
    assert new["refresh_token"] != pair["refresh_token"]
    me = api.request(
        "GET", "/api/auth/me", headers={"Authorization": f"Bearer {new['access_token']}"}
    )
    assert me.json()["username"] == "admin"
    replay = api.request("POST", "/api/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert replay.status_code == 401
    # Reuse detection: the whole session is gone, including the newest tokens.
    assert (
        api.request(
            "GET", "/api/auth/me", headers={"Authorization": f"Bearer {new['access_token']}"}
        ).status_code
        == 401
    )
    assert (
        api.request(
            "POST", "/api/auth/refresh", json={"refresh_token": new["refresh_token"]}
        ).status_code
        == 401
    )


def test_logout_revokes_access_and_refresh_tokens(api: Api) -> None:
    pair = api.request(
        "POST", "/api/auth/login", json={"username": "admin", "password": PASSWORD}
    ).json()
    auth = {"Authorization": f"Bearer {pair['access_token']}"}
    assert api.request("POST", "/api/auth/logout", headers=auth).status_code == 204
    assert api.request("GET", "/api/auth/me", headers=auth).status_code == 401
    assert (
        api.request(
            "POST", "/api/auth/refresh", json={"refresh_token": pair["refresh_token"]}
        ).status_code
        == 401
    )


def _forged(api: Api, claims_update: dict[str, object], **kwargs: object) -> dict[str, str]:
    real = jwt.decode(api.tokens["admin"], options={"verify_signature": False})
    claims = {**real, **claims_update}
    claims = {k: v for k, v in claims.items() if v is not None}
    secret = load_secret(api.settings.secret_key_path)
    algorithm = str(kwargs.get("algorithm", "HS256"))
    key = kwargs.get("key", secret)
    token = jwt.encode(claims, key, algorithm=algorithm)  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {token}"}


def _unsigned(api: Api) -> dict[str, str]:
    real = jwt.decode(api.tokens["admin"], options={"verify_signature": False})
    return {"Authorization": f"Bearer {jwt.encode(real, None, algorithm='none')}"}  # type: ignore[arg-type]


def test_tokens_that_must_be_refused(api: Api) -> None:
    now = int(time.time())
    assert api.request("GET", "/api/auth/me", as_="admin").status_code == 200
    cases = {
        "alg none": _unsigned(api),
        "other algorithm, right key": _forged(api, {}, algorithm="HS512"),
        "wrong key": _forged(api, {}, key=b"x" * 48),
        "no exp": _forged(api, {"exp": None}),
        "expired": _forged(api, {"exp": now - 10, "iat": now - 1000}),
        "not an access token": _forged(api, {"typ": "refresh"}),
        "other issuer": _forged(api, {"iss": "someone"}),
        "unknown session": _forged(api, {"sid": "x" * 43}),
        "sub does not match the session": _forged(api, {"sub": "anna"}),
        "garbage": {"Authorization": "Bearer not.a.jwt"},
        "basic auth": {"Authorization": "Basic YWRtaW46eA=="},
    }
    for name, headers in cases.items():
        response = api.request("GET", "/api/admin/users", headers=headers)
        assert response.status_code == 401, name
        assert response.headers["WWW-Authenticate"] == "Bearer", name


def test_bcrypt_hash_from_v1_is_accepted_then_rehashed(api: Api) -> None:
    sessions = api.app.state.ctx.sessions
    v1_hash = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    assert v1_hash.startswith("$2b$")
    with session_scope(sessions) as db:
        db.add(
            PanelUser(
                username="legacy", password_hash=v1_hash.replace("$2b$", "$2a$", 1), role="reseller"
            )
        )
    assert login(api, "legacy", "wrong password") == 401
    assert login(api, "legacy", PASSWORD) == 200
    with session_scope(sessions) as db:
        stored = db.scalar(select(PanelUser.password_hash).where(PanelUser.username == "legacy"))
    assert stored is not None and stored.startswith("$argon2id$")
    assert login(api, "legacy", PASSWORD) == 200


def test_unknown_usernames_cost_as_much_as_wrong_passwords(own_api: Api) -> None:
    def timed(username: str) -> float:
        started = time.perf_counter()
        assert login(own_api, username, "wrong password") == 401
        return time.perf_counter() - started

    known = min(timed("boss") for _ in range(2))
    unknown = min(timed(f"ghost{i}") for i in range(2))
    assert unknown > known * 0.5, (known, unknown)


def test_failed_logins_are_throttled_per_account(own_api: Api) -> None:
    for _ in range(3):
        assert login(own_api, "boss", "wrong password") == 401
    response = own_api.request(
        "POST", "/api/auth/login", json={"username": "boss", "password": PASSWORD}
    )
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    rows = own_api.request("GET", "/api/admin/audit-logs", headers={}).status_code
    assert rows == 401


def test_failed_logins_are_throttled_per_address_and_forwarded_for_needs_a_trusted_proxy(
    own_api: Api, api: Api
) -> None:
    # own_api trusts 127.0.0.1 as a proxy: each forwarded client has its own budget.
    for i in range(5):
        assert login(own_api, f"nobody{i}", "x" * 8, **{"X-Forwarded-For": "203.0.113.9"}) == 401
    assert login(own_api, "nobodyelse", "x" * 8, **{"X-Forwarded-For": "203.0.113.9"}) == 429
    assert login(own_api, "boss", PASSWORD, **{"X-Forwarded-For": "198.51.100.1"}) == 200
    token = own_api.login("boss", PASSWORD)
    rows = own_api.request(
        "GET",
        "/api/admin/audit-logs",
        params={"action": "auth.login"},
        headers={"Authorization": f"Bearer {token}"},
    ).json()["items"]
    assert {r["ip"] for r in rows} >= {"203.0.113.9", "198.51.100.1", "127.0.0.1"}
    # The shared API trusts no proxy: a spoofed header changes nothing.
    assert login(api, "admin", "wrong password", **{"X-Forwarded-For": "192.0.2.77"}) == 401
    logged = api.request(
        "GET",
        "/api/admin/audit-logs",
        params={"action": "auth.login", "result": "denied"},
        as_="admin",
    )
    assert logged.json()["items"][0]["ip"] == "127.0.0.1"


def test_session_rows_expire(api: Api, api_settings: Settings) -> None:
    """A session past its expiry refuses its access token even before the token expires."""
    from jopanel.db.models import AuthSession

    pair = api.request(
        "POST", "/api/auth/login", json={"username": "admin", "password": PASSWORD}
    ).json()
    claims = jwt.decode(pair["access_token"], options={"verify_signature": False})
    with session_scope(api.app.state.ctx.sessions) as db:
        row = db.get(AuthSession, claims["sid"])
        assert row is not None
        row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    assert (
        api.request(
            "GET", "/api/auth/me", headers={"Authorization": f"Bearer {pair['access_token']}"}
        ).status_code
        == 401
    )
    assert api_settings.secret_key_path.stat().st_mode & 0o777 == 0o600
