"""The login page: refused without its CSRF token even before any cookie exists, and a
throttled login (429 + Retry-After) shows how long to wait and does not post again
until then, in a real browser."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page
from sqlalchemy import func, select

from jopanel.auth.sessions import LoginThrottle
from jopanel.db.models import AuthSession
from jopanel.db.session import session_scope
from jopanel.settings import load_settings
from jopanel.system.sandbox import init_root
from tests.api.harness import Api, make_app, running_agent, serving
from tests.web.test_pages import CONSOLE_ERRORS, PASSWORD, browser, log_in, page

__all__ = ["browser", "page"]  # the browser fixtures, shared with the page tests
WINDOW = 4


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    root = tmp_path_factory.mktemp("login") / "root"
    settings = load_settings(root)
    init_root(settings)
    with running_agent(root, settings):
        throttle = LoginThrottle(per_account=2, per_ip=1000, window_seconds=WINDOW)
        app = make_app(settings, throttle=throttle)
        with serving(app) as url:
            app.state.ctx.staff.create("boss", PASSWORD, "admin")
            app.state.ctx.staff.create("slow", PASSWORD, "admin")
            yield Api(url=url, app=app, settings=settings)


def sessions_of(site: Api, name: str) -> int:
    with session_scope(site.app.state.ctx.sessions) as db:
        count = db.scalar(select(func.count()).where(AuthSession.username == name))
    return int(count or 0)


def test_a_login_post_with_neither_the_csrf_cookie_nor_a_token_is_refused(site: Api) -> None:
    """Login CSRF: a sibling site posting the attacker's own credentials into the
    victim's browser, which has never loaded the form (no cookie to compare with)."""
    with httpx.Client(base_url=site.url) as client:
        refused = client.post("/login", data={"username": "boss", "password": PASSWORD})
    assert refused.status_code == 403
    assert "jopanel_session" not in refused.cookies
    assert sessions_of(site, "boss") == 0
    with httpx.Client(base_url=site.url) as client:
        empty = client.post(
            "/login", data={"username": "boss", "password": PASSWORD, "csrf_token": ""}
        )
    assert empty.status_code == 403
    assert sessions_of(site, "boss") == 0


def test_a_throttled_login_answers_429_with_retry_after(site: Api) -> None:
    with httpx.Client(base_url=site.url) as client:
        client.get("/login")
        token = client.cookies["jopanel_csrf"]
        form = {"username": "slow", "password": "wrong", "csrf_token": token}
        assert [client.post("/login", data=form).status_code for _ in range(2)] == [200, 200]
        throttled = client.post("/login", data={**form, "password": PASSWORD})
    assert throttled.status_code == 429
    wait = int(throttled.headers["Retry-After"])
    assert 1 <= wait <= WINDOW
    assert f'data-retry-after="{wait}"' in throttled.text
    assert '<button type="submit" disabled>' in throttled.text
    assert sessions_of(site, "slow") == 0


def test_the_login_page_waits_out_the_throttle_before_posting_again(page: Page, site: Api) -> None:
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    for _ in range(2):
        log_in(page, site, "boss", "not the password")
    log_in(page, site, "boss", PASSWORD)
    alert = page.get_by_role("alert")
    assert alert.inner_text().startswith("Too many failed logins: try again in")
    button = page.get_by_role("button", name="Log in")
    assert button.is_disabled()
    assert len(posts) == 3
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")  # implicit submission is off too
    button.click(force=True)
    assert len(posts) == 3  # nothing more was posted while the wait lasts
    started = time.monotonic()
    page.wait_for_function(
        "() => !document.querySelector('button[type=submit]').disabled", timeout=15_000
    )
    assert time.monotonic() - started <= WINDOW + 2
    assert page.locator("[data-retry-after]").inner_text() == "0"
    button.click()
    page.wait_for_url(f"{site.url}/admin")
    assert len(posts) == 4
    # The browser logged the 429 answer; that one is expected.
    errors = CONSOLE_ERRORS[id(page)]
    assert errors == [
        "Failed to load resource: the server responded with a status of 429 (Too Many Requests)"
    ]
    errors.clear()
