"""The web UI in a real browser: Playwright driving Debian's /usr/bin/chromium (headless)
against the real app, agent and sandbox root."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, sync_playwright

from jopanel.db import audit
from jopanel.settings import load_settings
from jopanel.system.sandbox import init_root
from tests.api.harness import Api, make_app, running_agent, serving

PASSWORD = "correct horse battery"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
CONSOLE_ERRORS: dict[int, list[str]] = {}
FORBIDDEN = "403 (Forbidden)"
NOT_FOUND = "404 (Not Found)"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    root = tmp_path_factory.mktemp("web") / "root"
    settings = load_settings(root)
    init_root(settings)
    with running_agent(root, settings):
        app = make_app(settings)
        with serving(app) as url:
            app.state.ctx.staff.create("boss", PASSWORD, "admin")
            yield Api(url=url, app=app, settings=settings)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    opened.on("pageerror", lambda e: errors.append(str(e)))
    CONSOLE_ERRORS[id(opened)] = errors
    yield opened
    context.close()
    assert CONSOLE_ERRORS.pop(id(opened)) == [], errors  # no console errors on any page


def log_in(page: Page, site: Api, name: str, password: str) -> None:
    page.goto(f"{site.url}/login")
    page.get_by_label("Username").fill(name)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def check_accessible(page: Page, name: str) -> None:
    """axe-core: no serious or critical violation, at desktop and phone width."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        results = Axe().run(page)
        bad = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
        assert bad == [], [(v["id"], v["help"]) for v in bad]
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def test_anonymous_visitor_is_sent_to_login(page: Page, site: Api) -> None:
    response = page.goto(f"{site.url}/login")
    assert response is not None and response.headers["x-frame-options"] == "DENY"
    page.goto(f"{site.url}/admin/users")
    assert page.url == f"{site.url}/login"
    check_accessible(page, "login")


def test_a_wrong_password_shows_an_error(page: Page, site: Api) -> None:
    log_in(page, site, "boss", "not the password")
    assert page.get_by_role("alert").inner_text() == "wrong username or password"
    assert page.url == f"{site.url}/login"


def test_admin_creates_finds_suspends_an_account(page: Page, site: Api) -> None:
    log_in(page, site, "boss", PASSWORD)
    assert page.url == f"{site.url}/admin"
    check_accessible(page, "admin-dashboard")
    page.goto(f"{site.url}/admin/users")
    for field, value in (
        ("Username", "webone"),
        ("Password", PASSWORD),
        ("Contact email", "webone@example.com"),
        ("Primary domain", "webone.example.com"),
    ):
        page.locator("#create ~ form").get_by_label(field, exact=True).fill(value)
    page.get_by_role("button", name="Create account").click()
    assert page.url == f"{site.url}/admin/users/webone?done=created"
    assert (site.settings.users_dir / "webone" / "account.json").is_file()
    check_accessible(page, "admin-account")
    page.get_by_role("button", name="Suspend").click()
    assert page.get_by_role("status").inner_text() == "Account: suspended."
    page.get_by_role("button", name="Unsuspend").click()
    assert page.get_by_role("status").inner_text() == "Account: unsuspended."
    page.goto(f"{site.url}/admin/users")
    page.get_by_label("Search").fill("webon")
    page.wait_for_url("**search=webon**")
    assert page.locator("#users-table tbody tr").count() == 1
    check_accessible(page, "admin-accounts")


def test_a_form_error_sits_next_to_its_field(page: Page, site: Api) -> None:
    log_in(page, site, "boss", PASSWORD)
    page.goto(f"{site.url}/admin/users")
    for field, value in (
        ("Username", "webtwo"),
        ("Password", PASSWORD),
        ("Contact email", "webtwo@example.com"),
        ("Primary domain", "localhost"),
    ):
        page.locator("#create ~ form").get_by_label(field, exact=True).fill(value)
    page.get_by_role("button", name="Create account").click()
    error = page.locator("#err-primary_domain")
    assert error.is_visible() and "two labels" in error.inner_text()
    assert not (site.settings.users_dir / "webtwo").exists()


def test_an_account_sees_its_panel_and_not_the_admin_pages(page: Page, site: Api) -> None:
    site.app.state.ctx.accounts.create(
        _admin(), username="webthree", password=PASSWORD, contact_email="w3@example.com",
        primary_domain="webthree.example.com",
    )  # fmt: skip
    log_in(page, site, "webthree", PASSWORD)
    assert page.url == f"{site.url}/panel"
    assert page.get_by_role("heading", level=1).inner_text() == "webthree"
    check_accessible(page, "panel-overview")
    response = page.goto(f"{site.url}/admin/users")
    assert response is not None and response.status == 403
    # Chromium logs the refused document itself; that one is expected here.
    errors = CONSOLE_ERRORS[id(page)]
    assert errors == [
        "Failed to load resource: the server responded with a status of 403 (Forbidden)"
    ]
    errors.clear()


def test_a_post_without_the_csrf_token_is_refused(site: Api) -> None:
    with httpx.Client(base_url=site.url) as client:
        form = client.get("/login")
        refused = client.post("/login", data={"username": "boss", "password": PASSWORD})
        assert form.status_code == 200 and refused.status_code == 403
        assert "jopanel_session" not in refused.cookies
        wrong = client.post(
            "/login", data={"username": "boss", "password": PASSWORD, "csrf_token": "forged"}
        )
        assert wrong.status_code == 403


def _admin():  # type: ignore[no-untyped-def]
    from jopanel.auth.sessions import Principal

    return Principal(username="boss", role="admin", session_id="test")


def test_history_diff_rollback_password_package_delete(page: Page, site: Api) -> None:
    site.app.state.ctx.accounts.create(
        _admin(), username="webfour", password=PASSWORD, contact_email="w4@example.com",
        primary_domain="webfour.example.com",
    )  # fmt: skip
    log_in(page, site, "boss", PASSWORD)
    page.goto(f"{site.url}/admin/users/webfour")
    page.get_by_role("button", name="Suspend").click()
    page.get_by_role("button", name="Unsuspend").click()
    # Revisions: 1 create, 2 suspend, 3 unsuspend. The difference 1 -> 2 is the status.
    page.get_by_label("From revision").select_option("1")
    page.get_by_label("To revision").select_option("2")
    page.get_by_role("button", name="Show the difference").click()
    difference = page.get_by_role("region", name="Difference")
    assert "account.status" in difference.inner_text()
    check_accessible(page, "admin-account-history")
    page.get_by_role("button", name="Roll back to 2").click()
    assert page.get_by_role("status").inner_text() == "Account: rolled back to revision 2."
    assert "suspended" in (site.settings.users_dir / "webfour/account.json").read_text()
    page.get_by_label("New password (SFTP, SSH and the panel)").fill("a brand new password")
    page.get_by_role("button", name="Reset password").click()
    assert page.get_by_role("status").inner_text() == "Account: password reset."
    page.get_by_role("button", name="Change package").click()  # same package: no change
    assert page.get_by_role("status").inner_text() == "Account: package changed."
    page.get_by_label("Type webfour to delete").fill("not the name")
    page.get_by_role("button", name="Delete webfour").click()
    assert page.locator("#err-confirm").inner_text() == "type webfour to delete this account"
    assert (site.settings.users_dir / "webfour").exists()
    page.get_by_label("Type webfour to delete").fill("webfour")
    page.get_by_role("button", name="Delete webfour").click()
    assert page.url.startswith(f"{site.url}/admin/users")
    assert not (site.settings.users_dir / "webfour").exists()


def test_login_as_shows_a_banner_and_leads_back(page: Page, site: Api) -> None:
    site.app.state.ctx.accounts.create(
        _admin(), username="webfive", password=PASSWORD, contact_email="w5@example.com",
        primary_domain="webfive.example.com",
    )  # fmt: skip
    log_in(page, site, "boss", PASSWORD)
    page.goto(f"{site.url}/admin/users/webfive")
    page.get_by_role("button", name="Log in as webfive").click()
    assert page.url == f"{site.url}/panel"
    banner = page.get_by_role("status").filter(has_text="Logged in as")
    assert "webfive" in banner.inner_text() and "boss" in banner.inner_text()
    check_accessible(page, "panel-login-as")
    page.get_by_role("button", name="Back to boss").click()
    assert page.url == f"{site.url}/admin/users"
    with site.app.state.ctx.sessions() as db:
        rows, _total = audit.search(db, target="webfive", action="login_as")
    assert [(r.actor, r.result) for r in rows] == [("boss", "ok")]
    assert rows[0].detail is not None and "boss logged in as webfive" in rows[0].detail


def test_the_account_manages_its_domains_keys_and_password(page: Page, site: Api) -> None:
    site.app.state.ctx.accounts.create(
        _admin(), username="websix", password=PASSWORD, contact_email="w6@example.com",
        primary_domain="websix.example.com",
    )  # fmt: skip
    log_in(page, site, "websix", PASSWORD)
    page.get_by_label("New domain").fill("blog")
    page.get_by_label("Kind").select_option("subdomain")
    page.get_by_label("Parent (subdomains)").fill("websix.example.com")
    page.get_by_role("button", name="Add domain").click()
    assert page.get_by_role("status").inner_text() == "Done: domain added."
    assert "blog.websix.example.com" in page.get_by_role("region", name="Domains").inner_text()
    page.get_by_label("New domain").fill("websix.example.com")
    page.get_by_role("button", name="Add domain").click()
    assert page.locator("#err-domain").is_visible()
    with site.app.state.ctx.sessions() as db:  # the refusal shown in the form is audited
        rows, _total = audit.search(db, target="websix", action="add_domain")
    assert [r.result for r in rows] == ["failed", "ok"]
    key = (
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBp7wqEX1D9oAgE2P9sMRTKqZV5mG+y5u+zPqJm5T8nK"
        " websix@laptop"
    )
    page.get_by_label("Public key").fill(key)
    page.get_by_role("button", name="Add key").click()
    assert page.get_by_role("status").inner_text() == "Done: key added."
    assert "SHA256:" in page.get_by_role("region", name="SSH keys").inner_text()
    check_accessible(page, "panel-tools")
    page.get_by_label("Current password").fill("not it")
    page.get_by_label("New password (SFTP, SSH").fill("a brand new password")
    page.get_by_role("button", name="Change password").click()
    assert page.locator("#err-current").inner_text() == "the current password is wrong"
    with site.app.state.ctx.sessions() as db:  # the refused change is audited as such
        rows, _total = audit.search(db, target="websix", action="change_password")
    assert [r.result for r in rows] == ["failed"]
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password (SFTP, SSH").fill("a brand new password")
    page.get_by_role("button", name="Change password").click()
    assert page.url == f"{site.url}/login"
    log_in(page, site, "websix", "a brand new password")
    assert page.url == f"{site.url}/panel"


def test_packages_audit_and_dashboard(page: Page, site: Api) -> None:
    log_in(page, site, "boss", PASSWORD)
    check_accessible(page, "admin-dashboard-full")
    assert "agent" in page.get_by_role("region", name="Services").inner_text()
    page.goto(f"{site.url}/admin/packages")
    page.get_by_label("Name", exact=True).fill("gold")
    page.locator("form[action='/admin/packages'] input[name=disk_quota_mb]").fill("20480")
    page.get_by_role("button", name="Create package").click()
    assert page.get_by_role("status").inner_text() == "Done: package created."
    assert '"disk_quota_mb": 20480' in (site.settings.etc_dir / "packages/gold.json").read_text()
    page.locator("form[action='/admin/packages'] input[name=max_databases]").fill("lots")
    page.get_by_label("Name", exact=True).fill("silver")
    page.get_by_role("button", name="Create package").click()
    assert "max_databases" in page.locator("#err-new").inner_text()
    assert not (site.settings.etc_dir / "packages/silver.json").exists()
    check_accessible(page, "admin-packages")
    page.locator("summary", has_text="gold").click()
    page.get_by_role("button", name="Delete gold").click()
    assert page.get_by_role("status").inner_text() == "Done: package deleted."
    page.goto(f"{site.url}/admin/audit?target=gold")
    entries = page.get_by_role("region", name="Audit entries").inner_text()
    assert "gold" in entries and "boss" in entries
    check_accessible(page, "admin-audit")


def test_a_reseller_sees_only_its_own_accounts(page: Page, site: Api) -> None:
    ctx = site.app.state.ctx
    ctx.staff.create("resweb", PASSWORD, "reseller")
    from jopanel.auth.sessions import Principal

    reseller = Principal(username="resweb", role="reseller", session_id="test")
    ctx.accounts.create(
        reseller, username="byresweb", password=PASSWORD, contact_email="r@example.com",
        primary_domain="byresweb.example.com",
    )  # fmt: skip
    log_in(page, site, "resweb", PASSWORD)
    page.goto(f"{site.url}/admin/users")
    table = page.get_by_role("region", name="Accounts").inner_text()
    assert "byresweb" in table and "webone" not in table
    response = page.goto(f"{site.url}/admin/users/webthree")
    assert response is not None and response.status == 404
    errors = CONSOLE_ERRORS[id(page)]
    assert errors == [
        "Failed to load resource: the server responded with a status of 404 (Not Found)"
    ]
    errors.clear()
    response = page.goto(f"{site.url}/admin/audit")
    assert response is not None and response.status == 403
    CONSOLE_ERRORS[id(page)].clear()


def test_an_unreachable_agent_shows_a_banner(page: Page, site: Api, tmp_path: Path) -> None:
    """The same database and logins, an agent socket with nothing behind it."""
    settings = site.settings.model_copy(update={"agent_socket": tmp_path / "no-agent.sock"})
    app = make_app(settings, engine=site.app.state.ctx.engine, migrate=False)
    with serving(app) as url:
        page.goto(f"{url}/login")
        page.get_by_label("Username").fill("boss")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        response = page.goto(f"{url}/admin/users/webone")
        assert response is not None and response.status == 503
        banner = page.get_by_role("alert")
        assert "agent is not reachable" in banner.inner_text()
    CONSOLE_ERRORS[id(page)].clear()


def test_a_logged_in_post_without_the_csrf_token_changes_nothing(site: Api) -> None:
    with httpx.Client(base_url=site.url) as client:
        client.get("/login")
        token = client.cookies.get("jopanel_csrf") or ""
        logged_in = client.post(
            "/login", data={"username": "boss", "password": PASSWORD, "csrf_token": token}
        )
        assert logged_in.status_code == 303
        body = {"username": "nocsrf", "password": PASSWORD, "contact_email": "n@example.com",
                "primary_domain": "nocsrf.example.com"}  # fmt: skip
        refused = client.post("/admin/users", data=body)
        assert refused.status_code == 403
        assert client.post("/admin/users", data={**body, "csrf_token": "x" * 43}).status_code == 403
        assert not (site.settings.users_dir / "nocsrf").exists()
        # Logged in, the token is the session's own (the pre-login cookie no longer
        # counts); with it the same request goes through: the refusal was the token's.
        assert client.post("/admin/users", data={**body, "csrf_token": token}).status_code == 403
        form = client.get("/admin/users").text
        session_token = form.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        accepted = client.post("/admin/users", data={**body, "csrf_token": session_token})
        assert accepted.status_code == 303 and (site.settings.users_dir / "nocsrf").exists()


def test_keyboard_only_login_and_navigation(page: Page, site: Api) -> None:
    """The skip link, the form and the navigation work with the keyboard alone."""
    page.goto(f"{site.url}/login")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")  # the brand link, then the username field
    assert page.evaluate("document.activeElement.id") == "username"
    page.keyboard.type("boss")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{site.url}/admin")
    page.get_by_role("link", name="Accounts").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(f"{site.url}/admin/users")
