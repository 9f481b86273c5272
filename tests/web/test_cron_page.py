"""`/panel/cron` and `/panel/php` in a real browser: add a cron job from typed fields (a
hostile command refused next to its field), remove it, turn cron off; save PHP settings
(one above the account's memory limit refused); toggle a www alias on the overview.
Accessible (axe), no console errors."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

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
    name = "crw" + secrets.token_hex(4)
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
    site.app.state.ctx.agent.execute("delete_user", {"username": name}, actor="test")


def test_cron_page(page: Page, site: Api, account: str) -> None:  # noqa: F811
    log_in(page, site, account, ACCOUNT_PASSWORD)
    page.get_by_role("link", name="Cron jobs").click()
    assert page.url == f"{site.url}/panel/cron"
    assert "0 of 5 jobs" in page.locator("main").inner_text()
    check_accessible(page, "panel-cron-empty")

    crontab = site.settings.crontab_dir / account
    page.get_by_label("Minute").fill("*/15")
    page.get_by_label("Command (one line)").fill("PATH=/tmp")
    page.get_by_role("button", name="Add cron job").click()
    error = page.locator("#err-add")
    assert error.is_visible() and "variable assignment" in error.inner_text()
    assert page.get_by_label("Minute").input_value() == "*/15"  # the form is kept
    assert not crontab.exists()
    check_accessible(page, "panel-cron-error")

    page.get_by_label("Hour").fill("25")
    page.get_by_label("Command (one line)").fill("date +%F >> ~/logs/cron.log")
    page.get_by_role("button", name="Add cron job").click()
    assert "hour: 25 is outside 0-23" in page.locator("#err-add").inner_text()

    page.get_by_label("Hour").fill("*")
    page.get_by_role("button", name="Add cron job").click()
    assert page.get_by_role("status").inner_text() == "Done: cron job added."
    row = page.locator("tbody tr").first
    assert "*/15 * * * *" in row.inner_text() and "date +%F" in row.inner_text()
    assert "*/15 * * * * date +\\%F >> ~/logs/cron.log\n" in crontab.read_text()

    page.get_by_label("Shortcut").select_option("@daily")
    page.get_by_label("Command (one line)").fill("php ~/public_html/cron.php")
    page.get_by_role("button", name="Add cron job").click()
    assert "2 of 5 jobs" in page.locator("main").inner_text()
    check_accessible(page, "panel-cron")

    page.get_by_role("button", name="Turn cron off").click()
    assert page.get_by_role("status").inner_text() == "Done: cron off."
    assert not crontab.exists()
    page.get_by_role("button", name="Turn cron on").click()
    assert crontab.exists()
    page.get_by_role("button", name="Remove the job @daily php ~/public_html/cron.php").click()
    assert "1 of 5 jobs" in page.locator("main").inner_text()
    assert "@daily" not in crontab.read_text()


def test_php_settings_and_www_toggle(page: Page, site: Api, account: str) -> None:  # noqa: F811
    log_in(page, site, account, ACCOUNT_PASSWORD)
    page.get_by_role("link", name="PHP", exact=True).click()
    assert page.url == f"{site.url}/panel/php"
    check_accessible(page, "panel-php")
    pool = site.settings.path(f"etc/php/8.2/fpm/pool.d/jopanel-{account}.conf")

    # Above the account's memory limit (1024 MB): the browser's own max= check is
    # bypassed to show the server's refusal.
    page.locator("#php-memory").evaluate("e => e.removeAttribute('max')")
    page.locator("#php-memory").fill("4096")
    page.get_by_role("button", name="Save PHP settings").click()
    assert "memory_limit_mb = 1024" in page.locator("#err-php").inner_text()
    assert "memory_limit] = 256M" in pool.read_text()
    check_accessible(page, "panel-php-error")

    page.locator("#php-memory").fill("512")
    page.locator("#php-time").fill("120")
    page.get_by_label("display_errors").check()
    page.get_by_role("button", name="Save PHP settings").click()
    assert page.get_by_role("status").inner_text() == "Done: PHP settings saved."
    text = pool.read_text()
    assert "memory_limit] = 512M" in text and "max_execution_time] = 120" in text
    assert "php_admin_flag[display_errors] = on" in text

    page.get_by_role("link", name="My account").click()
    assert "memory_limit 512M" in page.locator("main").inner_text()
    vhost = site.settings.path(f"etc/nginx/sites-available/jopanel-{account}.conf")
    assert f"www.{account}.example.com" in vhost.read_text()
    page.get_by_role("button", name=f"Turn www.{account}.example.com off").click()
    assert page.get_by_role("status").inner_text() == "Done: www off."
    assert f"www.{account}.example.com" not in vhost.read_text()
    check_accessible(page, "panel-overview-www")
    page.get_by_role("button", name=f"Turn www.{account}.example.com on").click()
    assert f"www.{account}.example.com" in vhost.read_text()
