"""The cached passwd/shadow/group readers see every write shadow-utils makes."""

from __future__ import annotations

import subprocess
from pathlib import Path

from jopanel.settings import Settings
from jopanel.system.accounts import SystemAccounts
from jopanel.system.accounts_cache import CachedAccounts
from jopanel.system.runner import Runner


def test_cache_follows_writes(root: Path, settings: Settings) -> None:
    cached, plain = CachedAccounts(settings, Runner()), SystemAccounts(settings, Runner())
    assert cached.get("tina") is None and cached.shadow_hash("tina") is None
    subprocess.run(
        ["useradd", "--prefix", str(root), "-u", "20001", "-U", "-M", "-p", "$2b$04$x", "tina"],
        check=True,
    )
    assert cached.get("tina") == plain.get("tina") is not None
    assert cached.shadow_hash("tina") == plain.shadow_hash("tina") == "$2b$04$x"
    assert cached.groups() == plain.groups() and cached.passwd() == plain.passwd()
    assert cached.host_names() == plain.host_names()
    subprocess.run(["usermod", "--prefix", str(root), "-L", "tina"], check=True)
    assert cached.shadow_hash("tina") == "!$2b$04$x"
