"""PHP settings: an allow-list with ranges in services.json `php.settings`, rendered into
the account's pool as php_admin_value, checked by the real php-fpm and seen by real PHP."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from jopanel.agent.context import AgentContext
from jopanel.agent.hosting import Hosting
from jopanel.errors import ValidationFailed
from jopanel.settings import Settings
from jopanel.system.phpfpm import PhpFpm, nss_wrapper_env
from jopanel.system.runner import Runner
from tests.conftest import Op, cli, new_user
from tests.hosting.conftest import open_root  # noqa: F401 - the fixture
from tests.hosting.test_e2e import SITES, Web, daemons, run_op  # noqa: F401 - fixture

POOL = "etc/php/8.2/fpm/pool.d/jopanel-joko.conf"
VHOST = "etc/nginx/sites-available/jopanel-joko.conf"


def test_settings_reach_the_pool_and_pass_the_real_php_fpm(op: Op, settings: Settings) -> None:
    new_user(op)
    pool = settings.path(POOL).read_text()
    assert "php_admin_value[memory_limit] = 256M\n" in pool  # the defaults
    assert "php_admin_value[max_input_vars] = 1000\n" in pool
    result = op(
        "php_set",
        username="joko",
        settings={
            "memory_limit_mb": 512,
            "max_execution_time": 300,
            "upload_max_filesize_mb": 100,
            "post_max_size_mb": 120,
            "max_input_vars": 5000,
            "display_errors": True,
        },
    )
    assert result.data["settings"]["memory_limit_mb"] == 512
    pool = settings.path(POOL).read_text()
    for line in (
        "php_admin_value[memory_limit] = 512M",
        "php_admin_value[max_execution_time] = 300",
        "php_admin_value[upload_max_filesize] = 100M",
        "php_admin_value[post_max_size] = 120M",
        "php_admin_value[max_input_vars] = 5000",
        "php_admin_flag[display_errors] = on",
    ):
        assert f"\n{line}\n" in pool
    assert "client_max_body_size 120m;" in settings.path(VHOST).read_text()
    fpm = PhpFpm(settings, Runner(), "8.2")
    checked = subprocess.run(
        ["php-fpm8.2", "-n", "-t", "-y", str(fpm.main_config)],
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", **nss_wrapper_env(settings)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    stored = json.loads((settings.users_dir / "joko/services.json").read_text())
    assert stored["php"]["settings"]["max_input_vars"] == 5000
    # Only what is given changes.
    op("php_set", username="joko", settings={"display_errors": False})
    assert "php_admin_value[memory_limit] = 512M" in settings.path(POOL).read_text()


@pytest.mark.parametrize(
    "patch",
    [
        {"memory_limit_mb": 2048},  # above limits.json memory_limit_mb (1024)
        {"memory_limit_mb": 16},
        {"max_execution_time": 0},
        {"max_execution_time": 601},
        {"upload_max_filesize_mb": 2048},
        {"post_max_size_mb": 0},
        {"upload_max_filesize_mb": 100, "post_max_size_mb": 50},
        {"max_input_vars": 10},
        {"display_errors": "maybe"},
        {"auto_prepend_file": "/tmp/x.php"},
        {"open_basedir": "/"},
        {"memory_limit_mb": "256M\nphp_admin_value[open_basedir] = /"},
    ],
)
def test_out_of_range_or_unknown_settings_are_refused(
    op: Op, settings: Settings, patch: dict[str, object]
) -> None:
    new_user(op)
    before = settings.path(POOL).read_text()
    services = (settings.users_dir / "joko/services.json").read_bytes()
    with pytest.raises(ValidationFailed):
        op("php_set", username="joko", settings=patch)
    assert settings.path(POOL).read_text() == before
    assert (settings.users_dir / "joko/services.json").read_bytes() == services


def test_memory_limit_follows_a_lowered_account_limit(op: Op, settings: Settings) -> None:
    new_user(op)
    op("php_set", username="joko", settings={"memory_limit_mb": 768})
    op("update_user_config", username="joko", limits={"memory_limit_mb": 512}, force=True)
    assert "php_admin_value[memory_limit] = 512M" in settings.path(POOL).read_text()
    shown = op("php_show", username="joko").data
    assert (shown["settings"]["memory_limit_mb"], shown["effective_memory_limit_mb"]) == (768, 512)
    with pytest.raises(ValidationFailed, match="memory_limit_mb = 512"):
        op("php_set", username="joko", settings={"memory_limit_mb": 600})


def test_real_php_sees_the_values(daemons: tuple[Settings, Web]) -> None:  # noqa: F811
    settings, web = daemons
    docroot = settings.root / SITES["joko.example.com"]
    page = docroot / "ini.php"
    page.write_text(
        "<?php foreach (['memory_limit','max_execution_time','upload_max_filesize',"
        "'post_max_size','max_input_vars'] as $k) echo $k, '=', ini_get($k), \"\\n\";\n"
    )
    os.chown(page, 20000, 20000)
    ctx = AgentContext(settings)
    run_op(
        ctx,
        "php_set",
        username="joko",
        settings={"memory_limit_mb": 384, "max_execution_time": 90, "post_max_size_mb": 80,
                  "upload_max_filesize_mb": 70, "max_input_vars": 2500},
    )  # fmt: skip
    Hosting(ctx).reloader.flush()
    answer = web.until("joko.example.com", "/ini.php", lambda r: "memory_limit=384M" in r.text)
    assert answer.text.split() == [
        "memory_limit=384M",
        "max_execution_time=90",
        "upload_max_filesize=70M",
        "post_max_size=80M",
        "max_input_vars=2500",
    ]


def test_cli_set_and_show(root: Path, settings: Settings) -> None:
    cli(root, "user", "create", "joko", "--domain", "joko.example.com", "--email", "j@example.com")
    cli(root, "php", "set", "joko", "--memory-limit", "1G", "--display-errors", "on")
    shown = json.loads(cli(root, "--json", "php", "show", "joko").stdout)
    assert shown["settings"]["memory_limit_mb"] == 1024
    assert shown["settings"]["display_errors"] is True
    assert "memory_limit" in cli(root, "php", "show", "joko").stdout
    over = cli(root, "php", "set", "joko", "--memory-limit", "2G", check=False)
    assert over.returncode == 2 and "memory_limit_mb = 1024" in over.stderr
    bad = cli(root, "php", "set", "joko", "--post-max-size", "lots", check=False)
    assert bad.returncode == 2
