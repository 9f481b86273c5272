"""`/panel/databases` in a real browser: list with sizes, create (a weak password refused
next to its field), reset a password, delete only after typing the name; accessible (axe),
no console errors. Runs against the real MariaDB; everything made is dropped afterwards."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page

from tests.api.harness import Api
from tests.databases.conftest import drop_prefix, login
from tests.databases.test_databases import OTHER_PASSWORD, PASSWORD, refused
from tests.web.test_pages import (  # noqa: F401 - fixtures
    browser,
    check_accessible,
    log_in,
    page,
    site,
)

ACCOUNT_PASSWORD = "correct horse battery"


@pytest.fixture
def account(site: Api) -> Iterator[str]:  # noqa: F811
    name = "dbw" + secrets.token_hex(4)
    site.app.state.ctx.agent.execute(
        "create_user",
        {
            "username": name,
            "password": ACCOUNT_PASSWORD,
            "contact_email": f"{name}@example.com",
            "primary_domain": f"{name}.example.com",
        },
        actor="test",
    )
    try:
        yield name
    finally:
        drop_prefix(name)


def test_databases_page(page: Page, site: Api, account: str) -> None:  # noqa: F811
    log_in(page, site, account, ACCOUNT_PASSWORD)
    page.get_by_role("link", name="Databases").click()
    assert page.url == f"{site.url}/panel/databases"
    assert "0 of 1 databases" in page.locator("main").inner_text()
    check_accessible(page, "panel-databases-empty")

    form = page.locator("#create ~ form")
    form.get_by_label("Name").fill("shop")
    form.get_by_label("Password for its user").fill("password1234")
    page.get_by_role("button", name="Create database").click()
    error = page.locator("#err-create")
    assert error.is_visible() and "too weak" in error.inner_text()
    assert page.locator("#db-name").input_value() == "shop"
    assert page.locator("#db-password").input_value() == ""  # never sent back
    check_accessible(page, "panel-databases-error")

    form.get_by_label("Password for its user").fill(PASSWORD)
    page.get_by_role("button", name="Create database").click()
    assert page.url == f"{site.url}/panel/databases?done=database+created"
    assert page.get_by_role("status").inner_text() == "Done: database created."
    row = page.locator("tbody tr").first
    assert f"{account}_shop" in row.inner_text() and "MB" in row.inner_text()
    login(f"{account}_shop", PASSWORD, f"{account}_shop").close()
    check_accessible(page, "panel-databases")

    page.get_by_text(f"Reset password of {account}_shop").click()
    page.get_by_label(f"New password for user {account}_shop").fill(OTHER_PASSWORD)
    page.get_by_role("button", name="Set password").click()
    assert page.get_by_role("status").inner_text() == "Done: password set."
    assert refused(f"{account}_shop", PASSWORD)
    login(f"{account}_shop", OTHER_PASSWORD).close()

    page.get_by_text(f"Delete {account}_shop").click()
    page.get_by_label("Type").fill("shop")  # not the full name: refused
    page.get_by_role("button", name="Delete database").click()
    assert f"type {account}_shop to delete it" in page.get_by_role("alert").inner_text()
    login(f"{account}_shop", OTHER_PASSWORD).close()
    page.get_by_label("Type").fill(f"{account}_shop")
    page.get_by_role("button", name="Delete database").click()
    assert page.get_by_role("status").inner_text() == "Done: database deleted."
    assert "No database yet." in page.locator("tbody").inner_text()
    assert refused(f"{account}_shop", OTHER_PASSWORD)


def test_csrf_is_required(page: Page, site: Api, account: str) -> None:  # noqa: F811
    """A logged-in browser's POST without the form's token changes nothing."""
    log_in(page, site, account, ACCOUNT_PASSWORD)
    response = page.request.post(
        f"{site.url}/panel/databases", form={"name": "shop", "password": PASSWORD}
    )
    assert response.status == 403
    assert refused(f"{account}_shop", PASSWORD)
