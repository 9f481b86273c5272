"""`/panel/ssl` in a real browser: a certificate that does not fit is refused next to its
site, a good one is installed, options saved, HTTPS turned off; accessible (axe), no
console errors, the key never shown back."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
import trustme
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
    name = "tls" + secrets.token_hex(4)
    agent = site.app.state.ctx.agent
    agent.execute(
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
    agent.execute("delete_user", {"username": name}, actor="test")


def test_ssl_page(page: Page, site: Api, account: str) -> None:  # noqa: F811
    domain = f"{account}.example.com"
    ca = trustme.CA()
    log_in(page, site, account, ACCOUNT_PASSWORD)
    page.get_by_role("link", name="HTTPS").click()
    assert page.url == f"{site.url}/panel/ssl"
    assert "None (HTTP only)" in page.locator("tbody").inner_text()
    check_accessible(page, "panel-ssl-empty")

    def upload(*names: str) -> str:
        cert = ca.issue_cert(*names)
        page.get_by_text(f"Upload a certificate for {domain}").click()
        page.get_by_label("Certificate (PEM)").fill(cert.cert_chain_pems[0].bytes().decode())
        key = cert.private_key_pem.bytes().decode()
        page.get_by_label("Private key (PEM, without passphrase)").fill(key)
        page.get_by_role("button", name="Upload certificate").click()
        return key

    key = upload(domain)  # www.<domain> not covered
    error = page.get_by_role("alert")
    assert f"does not cover www.{domain}" in error.inner_text()
    assert key not in page.content()
    check_accessible(page, "panel-ssl-error")

    upload(domain, f"www.{domain}")
    assert page.url == f"{site.url}/panel/ssl?done=certificate+installed"
    assert page.get_by_role("status").inner_text() == "Done: certificate installed."
    assert "Uploaded" in page.locator("tbody").inner_text()
    check_accessible(page, "panel-ssl")

    page.get_by_label("Redirect HTTP to HTTPS").check()
    page.get_by_role("button", name=f"Save options for {domain}").click()
    assert page.get_by_role("status").inner_text() == "Done: options saved."
    assert page.get_by_label("Redirect HTTP to HTTPS").is_checked()

    page.get_by_role("button", name=f"Turn HTTPS off for {domain}").click()
    assert page.get_by_role("status").inner_text() == "Done: HTTPS turned off."
    assert "None (HTTP only)" in page.locator("tbody").inner_text()
