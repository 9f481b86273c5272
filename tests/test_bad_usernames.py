"""Usernames that must never get through: a leading dash (an option to shadow-utils, ssh),
a slash (a path out of users/ or /home), spaces. Each is refused by jopanel.validate, by
the agent's create_user payload and by the CLI, with nothing written anywhere."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from jopanel import validate
from jopanel.errors import ValidationFailed
from tests.conftest import Op, cli, new_user

BAD_NAMES = [
    "-joko",
    "-oProxy",
    "-oproxy",
    "jo/ko",
    "joko/",
    "/joko",
    "../x",
    "..",
    "jo ko",
    " joko",
    "joko ",
    "joko\n",
    "jo\tko",
    "jo:ko",
]


def snapshot(root: Path) -> dict[str, str]:
    """Every entry under ROOT/etc and ROOT/home: passwd/shadow/group, the store, homes."""
    seen: dict[str, str] = {}
    for top in ("etc", "home"):
        for directory, dirnames, filenames in os.walk(root / top):
            for name in dirnames + filenames:
                path = Path(directory, name)
                relative = str(path.relative_to(root))
                if path.is_symlink():
                    seen[relative] = "-> " + os.readlink(path)
                elif path.is_dir():
                    seen[relative] = "dir"
                else:
                    seen[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
    return seen


def passwd_names(root: Path) -> set[str]:
    text = (root / "etc/passwd").read_text(encoding="utf-8")
    return {line.split(":")[0] for line in text.splitlines() if line}


@pytest.mark.parametrize("name", BAD_NAMES)
def test_validate_refuses(name: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        validate.username(name)
    assert info.value.field == "username"


@pytest.mark.parametrize("name", BAD_NAMES)
def test_the_create_user_op_refuses_and_writes_nothing(op: Op, root: Path, name: str) -> None:
    before = snapshot(root)

    with pytest.raises(ValidationFailed) as info:
        new_user(op, name)

    assert info.value.field == "username"
    assert snapshot(root) == before
    assert name not in passwd_names(root)


@pytest.mark.parametrize("name", ["-joko", "-oProxy", "jo/ko", "joko/", "../x", "jo ko"])
def test_the_cli_refuses_and_writes_nothing(root: Path, name: str) -> None:
    before = snapshot(root)

    # Options first and `--`: the name itself reaches the validator, even one with a dash.
    proc = cli(
        root, "user", "create", "--domain", "joko.example.com", "--email", "j@example.com",
        "--", name, check=False,
    )  # fmt: skip

    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "username" in proc.stderr
    assert snapshot(root) == before


def test_a_good_name_still_works(op: Op, root: Path) -> None:
    new_user(op, "joko")
    assert "joko" in passwd_names(root)
    assert (root / "etc/jopanel/users/joko").is_symlink()
