"""Daily CLI over the real console script: a lost admin password recovered as root,
`package delete` naming the accounts that use the package, and the exit codes the README
lists."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from jopanel.auth.passwords import verify_login_password
from jopanel.db.models import PanelUser
from jopanel.db.session import init_db, make_sessionmaker, session_scope
from jopanel.settings import load_settings
from tests.conftest import cli


def stored_hash(root: Path, name: str) -> str | None:
    engine = init_db(load_settings(root))
    try:
        with session_scope(make_sessionmaker(engine)) as db:
            return db.scalar(select(PanelUser.password_hash).where(PanelUser.username == name))
    finally:
        engine.dispose()


def test_admin_list_passwd_delete(root: Path) -> None:
    cli(root, "admin", "create", "boss", "--password-stdin", input="first-Pass-12345\n")
    listed = json.loads(cli(root, "--json", "admin", "list").stdout)
    assert [(r["username"], r["role"]) for r in listed] == [("boss", "admin")]
    cli(root, "admin", "passwd", "boss", "--password-stdin", input="second-Pass-6789\n")
    assert verify_login_password("second-Pass-6789", stored_hash(root, "boss"))[0]
    assert not verify_login_password("first-Pass-12345", stored_hash(root, "boss"))[0]
    missing = cli(root, "admin", "passwd", "boss", check=False)
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1
    assert "--password-stdin" in missing.stderr
    cli(root, "admin", "delete", "boss")
    assert json.loads(cli(root, "--json", "admin", "list").stdout) == []
    gone = cli(root, "admin", "delete", "boss", check=False)
    assert gone.returncode == 3 and gone.stderr.count("\n") == 1


def test_package_delete_names_its_accounts(root: Path) -> None:
    cli(root, "package", "create", "gold")
    for name in ("anna", "bert"):
        cli(root, "user", "create", name, "--domain", f"{name}.example.com",
            "--package", "gold", "--email", f"{name}@example.com",
            "--password-stdin", input="correct horse 1\n")  # fmt: skip
    refused = cli(root, "package", "delete", "gold", check=False)
    assert refused.returncode == 4
    assert refused.stderr.count("\n") == 1
    assert "used by accounts: anna, bert" in refused.stderr
    assert "jopanel user update NAME --package OTHER" in refused.stderr
    as_json = cli(root, "--json", "package", "delete", "gold", check=False)
    assert json.loads(as_json.stderr)["error"] == "conflict"


def test_exit_codes_as_the_readme_lists_them(root: Path, tmp_path: Path) -> None:
    assert cli(root, "user", "list").returncode == 0
    assert cli(root, "user", "frobnicate", check=False).returncode == 2  # usage
    invalid = cli(root, "user", "create", "Bad Name", "--domain", "x.example.com",
                  "--email", "a@example.com", "--password-stdin", input="correct horse 1\n",
                  check=False)  # fmt: skip
    assert invalid.returncode == 2  # invalid input
    assert cli(root, "user", "show", "ghost", check=False).returncode == 3  # not found
    bare = cli(tmp_path / "never-initialised", "user", "list", check=False)
    assert bare.returncode == 3 and "run `jopanel init` or pass --root" in bare.stderr
    cli(root, "package", "create", "gold")
    assert cli(root, "package", "create", "gold", check=False).returncode == 4  # conflict
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for code in range(10):
        assert f"| {code} |" in readme, f"exit code {code} missing from the README"
