"""Lifecycle ops drive vhosts, pools and Match blocks; drift is repaired; bad files stay out."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from jopanel.agent.context import AgentContext
from jopanel.agent.registry import execute
from jopanel.errors import CommandFailed
from jopanel.schemas import UserConfig
from jopanel.settings import load_settings
from jopanel.system.nginx import Nginx
from tests.conftest import Op, new_user
from tests.hosting.conftest import generated

VHOST = "etc/nginx/sites-available/jopanel-joko.conf"
ENABLED = "etc/nginx/sites-enabled/jopanel-joko.conf"
POOL = "etc/php/8.2/fpm/pool.d/jopanel-joko.conf"
MATCH = "etc/ssh/sshd_config.d/jopanel-joko.conf"


def test_create_writes_checked_files_and_delete_removes_them(op: Op, root: Path) -> None:
    result = new_user(op, "joko")
    assert "document roots, nginx vhost, PHP-FPM pool, sshd Match block (checked)" in result.plan
    files = generated(root)
    assert sorted(files) == sorted([VHOST, ENABLED, POOL, MATCH])
    assert os.readlink(root / ENABLED) == str(root / VHOST)
    for relative in (VHOST, POOL, MATCH):
        st = (root / relative).stat()
        assert (st.st_uid, st.st_mode & 0o777) == (0, 0o644)
    pool = files[POOL]
    assert "[jopanel-joko]\nuser = joko\ngroup = joko\n" in pool
    assert f"listen = {root}/run/php/jopanel-joko.sock\n" in pool
    assert "listen.owner = www-data\nlisten.group = www-data\nlisten.mode = 0660\n" in pool
    assert f"php_admin_value[open_basedir] = {root}/home/joko\n" in pool
    assert f"fastcgi_pass unix:{root}/run/php/jopanel-joko.sock;" in files[VHOST]
    assert "listen 127.0.0.1:80;" in files[VHOST]  # a sandbox never listens beyond loopback
    op("delete_user", username="joko")
    assert generated(root) == {}


def test_create_rolls_back_generated_files_when_a_later_step_fails(root: Path) -> None:
    ctx = AgentContext(load_settings(root, fault_point="create_user:apply"))
    with pytest.raises(Exception, match="injected failure before step apply"):
        execute(ctx, "create_user", {"username": "joko", "password": "correct horse 1",
                                     "contact_email": "j@example.com",
                                     "primary_domain": "joko.example.com"})  # fmt: skip
    assert generated(root) == {}
    assert not (root / "home/joko").exists()


def test_suspend_serves_the_suspended_page_and_stops_the_pool(op: Op, root: Path) -> None:
    new_user(op, "joko")
    active = generated(root)
    op("suspend_user", username="joko")
    suspended = generated(root)
    assert POOL not in suspended
    assert "return 503;" in suspended[VHOST] and "fastcgi_pass" not in suspended[VHOST]
    assert f"root {root}/var/www/jopanel/suspended;" in suspended[VHOST]
    assert (root / "var/www/jopanel/suspended/suspended.html").is_file()
    assert "DenyUsers joko" in suspended[MATCH]
    op("unsuspend_user", username="joko")
    assert generated(root) == active  # exactly what was there


def test_php_version_change_moves_the_pool(op: Op, root: Path) -> None:
    new_user(op, "joko")
    # Pretend an older version's pool was left behind by hand: converge takes it out.
    stale = root / "etc/php/7.4/fpm/pool.d/jopanel-joko.conf"
    stale.parent.mkdir(parents=True)
    stale.write_text("[jopanel-joko]\n")
    planned = op("apply_user", dry_run=True, username="joko")
    assert planned.plan == ["remove PHP 7.4 pool jopanel-joko.conf"]
    op("apply_user", username="joko")
    assert not stale.exists() and (root / POOL).exists()
    with pytest.raises(Exception, match=r"PHP 5.6 is not installed \(installed: 8.2\)"):
        op("php_version_set", username="joko", version="5.6")
    assert op("php_version_set", username="joko", version="8.2").changed is False


def _strip_acl(root: Path) -> None:
    subprocess.run(["setfacl", "-b", str(root / "home/joko")], check=True)


def _remove_docroot(root: Path) -> None:
    shutil.rmtree(root / "home/joko/public_html")


def _edit(relative: str) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        (root / relative).write_text("# edited by hand\n")

    return edit


def _remove(relative: str) -> Callable[[Path], None]:
    return lambda root: (root / relative).unlink()


DAMAGE: dict[str, tuple[Callable[[Path], None], str]] = {
    "vhost_missing": (_remove(VHOST), "nginx vhost jopanel-joko.conf is missing"),
    "vhost_disabled": (_remove(ENABLED), "nginx vhost jopanel-joko.conf is missing"),
    "vhost_edited": (_edit(VHOST), "nginx vhost jopanel-joko.conf is outdated"),
    "pool_missing": (_remove(POOL), "PHP 8.2 pool jopanel-joko.conf is missing"),
    "match_edited": (_edit(MATCH), "sshd Match block jopanel-joko.conf is outdated"),
    "docroot_missing": (_remove_docroot, "document root public_html is missing"),
    "acl_stripped": (_strip_acl, "www-data cannot traverse the home"),
}


@pytest.mark.parametrize("kind", sorted(DAMAGE))
def test_drift_is_planned_repaired_and_gone(op: Op, root: Path, kind: str) -> None:
    new_user(op, "joko")
    clean = generated(root)
    damage, expected = DAMAGE[kind]
    damage(root)
    planned = op("reconcile", dry_run=True, username="joko")
    assert any(expected in change for change in planned.plan)
    assert op("reconcile", username="joko").changed is True
    assert op("reconcile", username="joko").changed is False
    assert generated(root) == clean


def test_a_config_nginx_refuses_is_never_activated(
    op: Op, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    new_user(op, "joko")
    good = generated(root)
    # Whatever the generator produces goes through nginx -t: a template regression that
    # emits an unknown directive is refused with nginx's own words, the old files stay,
    # and the config revision is rolled back with them.
    render = Nginx.render_vhost

    def broken(
        self: Nginx, config: UserConfig, php_socket: Path | None, over_bandwidth: bool = False
    ) -> str:
        return render(self, config, php_socket, over_bandwidth).replace(
            "index index.php", "bogus_directive on;\n    index index.php"
        )

    monkeypatch.setattr(Nginx, "render_vhost", broken)
    with pytest.raises(
        CommandFailed,
        match=r'nginx rejected the generated config: .*unknown directive "bogus_directive"',
    ):
        op("domain_add", username="joko", domain="shop.example.org")
    monkeypatch.undo()
    assert generated(root) == good
    assert [r["domain"] for r in op("domain_list", username="joko").data] == ["joko.example.com"]
    assert list((root / "etc/nginx/sites-available").iterdir()) == [root / VHOST]
    assert list((root / "var/lib/jopanel/staging").iterdir()) == []


def test_orphans_are_removed_by_reconcile_and_rebuild(
    op: Op, ctx: AgentContext, root: Path
) -> None:
    new_user(op, "joko")
    orphans = [
        root / "etc/nginx/sites-available/jopanel-gone.conf",
        root / "etc/php/8.2/fpm/pool.d/jopanel-gone.conf",
        root / "etc/ssh/sshd_config.d/jopanel-gone.conf",
    ]
    for path in orphans:
        path.write_text("# left behind\n")
    os.symlink(orphans[0], root / "etc/nginx/sites-enabled/jopanel-gone.conf")
    unrelated = root / "etc/nginx/sites-enabled/default"
    unrelated.write_text("# not ours\n")
    planned = op("reconcile", dry_run=True)
    assert planned.plan == [
        "nginx: remove jopanel-gone.conf (no such account)",
        "sshd: remove jopanel-gone.conf (no such account)",
        "php-fpm:8.2: remove jopanel-gone.conf (no such account)",
    ]
    assert all(p.exists() for p in orphans)
    op("reconcile")
    assert not any(p.exists() for p in orphans)
    assert not (root / "etc/nginx/sites-enabled/jopanel-gone.conf").is_symlink()
    assert unrelated.exists()
    orphans[2].write_text("# again\n")
    result = op("rebuild")
    assert result.plan == ["sshd: remove jopanel-gone.conf (no such account)"]


def test_rebuild_recreates_everything_with_one_check_per_family(op: Op, root: Path) -> None:
    for name in ("joko", "budi", "sari"):
        new_user(op, name)
    clean = generated(root)
    for relative in list(clean):
        (root / relative).unlink()
    planned = op("rebuild", dry_run=True)
    assert generated(root) == {}
    assert len(planned.plan) == 9
    result = op("rebuild")
    assert generated(root) == clean
    assert result.data["checks"] == {"nginx": 1, "php-fpm:8.2": 1, "sshd": 1}
    assert result.data["failed"] == {}
    assert op("rebuild").changed is False
    assert op("rebuild", username="joko").data["accounts"] == 1
