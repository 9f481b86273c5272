"""CLI: `jopanel rebuild [NAME]` and `jopanel ssh-key …` through the real console script."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import cli
from tests.hosting.conftest import generated, make_key


def test_rebuild_recreates_missing_files_and_reports(root: Path) -> None:
    cli(root, "user", "create", "joko", "--domain", "joko.example.com", "--email", "j@example.com")
    clean = generated(root)
    (root / "etc/nginx/sites-available/jopanel-joko.conf").unlink()
    (root / "etc/php/8.2/fpm/pool.d/jopanel-joko.conf").unlink()
    planned = json.loads(cli(root, "--json", "rebuild", "--dry-run").stdout)
    assert planned["dry_run"] is True
    assert planned["plan"] == [
        "joko: php-fpm:8.2 jopanel-joko.conf",
        "joko: nginx jopanel-joko.conf",
    ]
    done = cli(root, "rebuild", "joko")
    assert "1 accounts; checks: nginx x1, php-fpm:8.2 x1" in done.stdout
    assert generated(root) == clean
    missing = cli(root, "rebuild", "nosuch", check=False)
    assert missing.returncode != 0
    assert (
        missing.stderr.strip()
        == "jopanel: rebuild failed for 1 account(s): nosuch: username: no account 'nosuch'"
    )


def test_ssh_key_verbs(root: Path, tmp_path: Path) -> None:
    cli(root, "user", "create", "joko", "--domain", "joko.example.com", "--email", "j@example.com")
    key = make_key(tmp_path)
    cli(root, "ssh-key", "add", "joko", input=key + "\n")
    rows = json.loads(cli(root, "--json", "ssh-key", "list", "joko").stdout)
    assert [r["comment"] for r in rows] == ["id@test"]
    assert (root / "home/joko/.ssh/authorized_keys").read_text() == key + "\n"
    bad = cli(root, "ssh-key", "add", "joko", input="ssh-dss AAAA\n", check=False)
    assert bad.returncode == 2 and bad.stderr.startswith("jopanel: ")
    cli(root, "ssh-key", "remove", "joko", rows[0]["fingerprint"])
    assert json.loads(cli(root, "--json", "ssh-key", "list", "joko").stdout) == []
