"""Permissions, checked by processes under other uids: neighbours see nothing, nginx docroots."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from jopanel.agent.context import AgentContext
from jopanel.agent.registry import execute
from jopanel.settings import load_settings

WWW_DATA = 33


def as_uid(uid: int, *argv: str) -> subprocess.CompletedProcess[str]:
    """Run argv as uid:uid with no supplementary groups."""
    return subprocess.run(
        ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", *argv],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip


def can_read(uid: int, path: Path) -> bool:
    return as_uid(uid, "cat", str(path)).returncode == 0


def can_list(uid: int, path: Path) -> bool:
    return as_uid(uid, "ls", str(path)).returncode == 0


@pytest.fixture
def two_accounts(open_root: Path) -> Path:
    ctx = AgentContext(load_settings(open_root))
    for name in ("joko", "budi"):
        execute(ctx, "create_user", {"username": name, "password": "correct horse 1",
                                     "contact_email": f"{name}@example.com",
                                     "primary_domain": f"{name}.example.com"})  # fmt: skip
    execute(ctx, "domain_add", {"username": "joko", "domain": "shop.example.org"})
    home = open_root / "home/joko"
    for relative, mode in (("public_html/index.html", 0o644), ("notes.txt", 0o644),
                           ("secret.txt", 0o600)):  # fmt: skip
        (home / relative).write_text(relative)
        os.chown(home / relative, 20000, 20000)
        os.chmod(home / relative, mode)
    return open_root


def test_no_account_reads_another_accounts_home(two_accounts: Path) -> None:
    joko = two_accounts / "home/joko"
    budi_uid = 20001
    assert can_read(20000, joko / "secret.txt")  # the owner can
    for target in ("public_html/index.html", "notes.txt", "secret.txt"):
        assert not can_read(budi_uid, joko / target), target
    assert not can_list(budi_uid, joko)
    assert not can_list(budi_uid, joko / "public_html")


def test_the_web_server_reaches_docroots_and_nothing_private(two_accounts: Path) -> None:
    joko = two_accounts / "home/joko"
    assert can_read(WWW_DATA, joko / "public_html/index.html")
    assert can_list(WWW_DATA, joko / "domains/shop.example.org/public_html")
    assert not can_list(WWW_DATA, joko)  # traverse only: no listing of the home
    assert not can_read(WWW_DATA, joko / "secret.txt")
    assert not can_list(WWW_DATA, joko / "tmp")  # PHP sessions and uploads
    # A file the account uploads with a tight umask is still served: the docroot's default
    # ACL replaces the umask. Nobody else gets in (the home stops them), and an explicit
    # chmod 600 still hides a file from nginx.
    uploaded = joko / "public_html/uploaded.html"
    created = as_uid(20000, "sh", "-c", f"umask 077; echo ok > {uploaded}")
    assert created.returncode == 0, created.stderr
    assert can_read(WWW_DATA, uploaded)
    assert not can_read(20001, uploaded)
    assert as_uid(20000, "chmod", "600", str(uploaded)).returncode == 0
    assert not can_read(WWW_DATA, uploaded)


def test_php_socket_is_the_web_servers_only(two_accounts: Path) -> None:
    pool = (two_accounts / "etc/php/8.2/fpm/pool.d/jopanel-joko.conf").read_text()
    assert "listen.owner = www-data\nlisten.group = www-data\nlisten.mode = 0660\n" in pool
    assert "user = joko\ngroup = joko\n" in pool
