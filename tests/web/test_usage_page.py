"""The panel overview's usage bars in a real browser: every limit with its use, where the
disk figure comes from, accessible (axe) and without console errors."""

from __future__ import annotations

from playwright.sync_api import Page

from jopanel.auth.sessions import Principal
from tests.api.harness import Api
from tests.web.test_pages import (  # noqa: F401 - fixtures
    PASSWORD,
    browser,
    check_accessible,
    log_in,
    page,
    site,
)


def test_usage_bars_against_limits(page: Page, site: Api) -> None:  # noqa: F811
    ctx = site.app.state.ctx
    boss = Principal(username="boss", role="admin", session_id="test")
    ctx.accounts.create(
        boss, username="usagebar", password=PASSWORD, contact_email="u@example.com",
        primary_domain="usagebar.example.com",
    )  # fmt: skip
    ctx.agent.execute("domain_add", {"username": "usagebar", "domain": "addon.example.org"})
    log_in(page, site, "usagebar", PASSWORD)
    assert page.url == f"{site.url}/panel"
    for label, text in (
        ("Addon domains", "Addon domains: 1 of 1"),
        ("Subdomains", "Subdomains: 0 of 5"),
        ("Databases", "Databases: 0 of 1"),
        ("DB users", "DB users: 0 of 1"),
        ("Cron jobs", "Cron jobs: 0 of 5"),
        ("Bandwidth this month", "Bandwidth this month: 0.0 MB of 10240 MB"),
    ):
        bar = page.get_by_label(label, exact=False).first
        assert bar.get_attribute("value") is not None, label
        assert text in page.locator(f"label[for='{bar.get_attribute('id')}']").inner_text()
    disk = page.locator("label[for='usage-disk_used_mb']").inner_text()
    assert disk.startswith("Disk: ") and disk.endswith("of 1024 MB")
    assert "measured by a walk of your home" in page.locator("#usage-source").inner_text()
    check_accessible(page, "panel-usage")
