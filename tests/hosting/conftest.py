"""Fixtures for the hosting tests: keys, generated-file readers, roots others can traverse."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from jopanel.settings import load_settings
from jopanel.system.sandbox import init_root


def generated(root: Path) -> dict[str, str]:
    """Every JoPanel-generated nginx/PHP-FPM/sshd file under `root`, by relative path."""
    found = {}
    for pattern in (
        "etc/nginx/sites-available/*",
        "etc/nginx/sites-enabled/*",
        "etc/php/*/fpm/pool.d/*",
        "etc/ssh/sshd_config.d/*",
    ):
        for path in sorted(root.glob(pattern)):
            found[str(path.relative_to(root))] = path.read_text()
    return found


def all_text(root: Path) -> str:
    """Generated files and the account configs, concatenated (to look for hostile values)."""
    parts = list(generated(root).values())
    parts += [p.read_text() for p in (root / "etc/jopanel/users").rglob("*.json")]
    return "\n".join(parts)


def make_key(directory: Path, name: str = "id", kind: str = "ed25519") -> str:
    """A real public key made by ssh-keygen."""
    path = directory / name
    args = ["-t", kind] + (["-b", "2048"] if kind == "rsa" else [])
    subprocess.run(
        ["ssh-keygen", "-q", *args, "-N", "", "-C", f"{name}@test", "-f", str(path)], check=True
    )
    return path.with_suffix(".pub").read_text().strip()


@pytest.fixture
def open_root() -> Iterator[Path]:
    """A sandbox root other uids can traverse to (pytest's tmp_path is 0700 root).

    Needed wherever a process runs as an account or as www-data: nginx workers, PHP-FPM
    workers, setpriv'd readers.
    """
    parent = Path(tempfile.mkdtemp(prefix="jopanel-hosting-", dir="/tmp"))
    parent.chmod(0o755)
    root = parent / "root"
    init_root(load_settings(root))
    root.chmod(0o755)
    try:
        yield root
    finally:
        shutil.rmtree(parent, ignore_errors=True)
