"""`/panel/files` in a real browser: browse, upload, edit and save, delete through the
page; refusals shown on the page; CSRF required; accessible (axe), no console errors."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page

from tests.api.harness import Api
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
    name = "fm" + secrets.token_hex(4)
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
    yield name


def test_files_page(page: Page, site: Api, account: str) -> None:  # noqa: F811
    home = site.settings.home_of(account)
    log_in(page, site, account, ACCOUNT_PASSWORD)
    page.get_by_role("link", name="Files").click()
    assert page.url == f"{site.url}/panel/files"
    assert page.get_by_role("link", name="public_html/").is_visible()
    check_accessible(page, "panel-files")

    page.get_by_role("link", name="public_html/").click()
    assert "path=public_html" in page.url
    page.locator("#upload-file").set_input_files(
        {"name": "hello.txt", "mimeType": "text/plain", "buffer": b"hello\n"}
    )
    page.get_by_role("button", name="Upload file", exact=True).click()
    assert "Done: uploaded" in page.locator("main").inner_text()
    uploaded = home / "public_html/hello.txt"
    assert uploaded.read_bytes() == b"hello\n"
    assert uploaded.stat().st_uid == home.stat().st_uid

    page.get_by_role("link", name="Edit hello.txt").click()
    editor = page.get_by_label("Content of public_html/hello.txt")
    assert editor.input_value() == "hello\n"
    check_accessible(page, "panel-files-editor")
    editor.fill("line one\nline two\n")
    page.get_by_role("button", name="Save file").click()
    assert "Done: saved" in page.locator("main").inner_text()
    assert uploaded.read_bytes() == b"line one\nline two\n"  # LF, not the browser's CRLF
    link = page.get_by_role("link", name="Download hello.txt").get_attribute("href")
    got = page.request.get(f"{site.url}{link}")
    assert got.body() == b"line one\nline two\n"
    assert got.headers["content-disposition"].startswith("attachment;")

    page.get_by_text("Rename, permissions or delete hello.txt").click()
    page.get_by_label("Permissions of hello.txt").fill("640")
    page.get_by_role("button", name="Set permissions").click()
    assert oct(uploaded.stat().st_mode & 0o777) == "0o640"
    page.get_by_text("Rename, permissions or delete hello.txt").click()
    page.get_by_label("Permissions of hello.txt").fill("4755")
    page.get_by_role("button", name="Set permissions").click()
    assert "setuid" in page.locator("#files-error").inner_text()
    page.get_by_text("Rename, permissions or delete hello.txt").click()
    page.get_by_role("button", name="Delete hello.txt").click()
    assert "Done: deleted" in page.locator("main").inner_text()
    assert not uploaded.exists()

    page.goto(f"{site.url}/panel/files?path=../")
    assert "not allowed" in page.locator("#files-error").inner_text()
    page.goto(f"{site.url}/panel/files?path=public_html/%2e%2e/%2e%2e/etc")
    assert page.locator("#files-error").is_visible()


def test_files_forms_need_csrf(site: Api, account: str) -> None:  # noqa: F811
    with httpx.Client(base_url=site.url) as client:
        client.post("/login", data={"username": account, "password": ACCOUNT_PASSWORD})
        response = client.post("/panel/files/mkdir", data={"path": "", "name": "x"})
    assert response.status_code == 403
    assert not (site.settings.home_of(account) / "x").exists()
