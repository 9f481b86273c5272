"""Account lifecycle end to end: real shadow-utils on a sandbox root."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from jopanel.errors import Conflict, ValidationFailed
from jopanel.schemas import KINDS, compute_revision
from jopanel.system.accounts import parse_passwd
from jopanel.system.crypt import verify_system_password as verify_password
from tests.conftest import Op, new_user


def _line(root: Path, name: str, file: str) -> list[str] | None:
    for line in (root / "etc" / file).read_text().splitlines():
        fields = line.split(":")
        if fields[0] == name:
            return fields
    return None


def test_create_writes_system_entries_and_six_files(op: Op, root: Path) -> None:
    new_user(op, "joko", password="correct horse 1")

    passwd = _line(root, "joko", "passwd")
    assert passwd is not None
    uid = int(passwd[2])
    assert passwd[5:] == ["/home/joko", "/bin/bash"]
    assert _line(root, "joko", "group") is not None
    assert _line(root, "joko", "group")[2] == str(uid)  # type: ignore[index]
    shadow = _line(root, "joko", "shadow")
    assert shadow is not None and shadow[1].startswith("$y$")
    assert verify_password("correct horse 1", shadow[1]) is True
    assert verify_password("wrong", shadow[1]) is False

    home = root / "home/joko"
    st = home.stat()
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (uid, uid, 0o750)
    assert (home / "public_html/index.html").stat().st_uid == uid

    config_dir = root / "etc/jopanel/users/joko"
    assert sorted(p.name for p in config_dir.iterdir()) == sorted(f"{k}.json" for k in KINDS)
    documents = {p.stem: json.loads(p.read_text()) for p in config_dir.iterdir()}
    assert documents["account"]["uid"] == uid
    assert documents["account"]["status"] == "active"
    assert documents["meta"]["last_applied_revision"] == compute_revision(documents)
    for path in config_dir.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert path.stat().st_uid == 0
    assert stat.S_IMODE(config_dir.resolve().stat().st_mode) == 0o700


def test_suspend_locks_and_unsuspend_restores_exactly(op: Op, root: Path) -> None:
    new_user(op, "joko")
    before_shadow = _line(root, "joko", "shadow")
    before_passwd = _line(root, "joko", "passwd")

    op("suspend_user", username="joko")
    shadow = _line(root, "joko", "shadow")
    assert shadow is not None and before_shadow is not None
    assert shadow[1] == "!" + before_shadow[1]
    assert _line(root, "joko", "passwd")[6] == "/usr/sbin/nologin"  # type: ignore[index]
    assert op("get_config", username="joko").data["account"]["status"] == "suspended"
    assert verify_password("correct horse 1", shadow[1]) is False

    op("unsuspend_user", username="joko")
    assert _line(root, "joko", "shadow") == before_shadow
    assert _line(root, "joko", "passwd") == before_passwd
    assert op("get_config", username="joko").data["account"]["status"] == "active"


def test_passwd_sets_a_new_verifiable_hash(op: Op, root: Path) -> None:
    new_user(op, "joko")
    op("set_password", username="joko", password="another secret 2")
    shadow = _line(root, "joko", "shadow")
    assert shadow is not None
    assert verify_password("another secret 2", shadow[1]) is True
    assert verify_password("correct horse 1", shadow[1]) is False


def test_password_set_while_suspended_keeps_the_lock(op: Op, root: Path) -> None:
    new_user(op, "joko")
    op("suspend_user", username="joko")
    op("set_password", username="joko", password="another secret 2")
    shadow = _line(root, "joko", "shadow")
    assert shadow is not None and shadow[1].startswith("!$y$")
    op("unsuspend_user", username="joko")
    assert verify_password("another secret 2", _line(root, "joko", "shadow")[1]) is True  # type: ignore[index]


def test_delete_removes_user_and_home_and_archives_config(op: Op, root: Path) -> None:
    new_user(op, "joko")
    result = op("delete_user", username="joko")
    assert _line(root, "joko", "passwd") is None
    assert _line(root, "joko", "shadow") is None
    assert _line(root, "joko", "group") is None
    assert not (root / "home/joko").exists()
    assert not (root / "etc/jopanel/users/joko").exists()
    archive = Path(result.data["archive"])
    assert archive.parent == root / "etc/jopanel/archive"
    revisions = sorted(archive.iterdir())
    assert json.loads((revisions[-1] / "account.json").read_text())["username"] == "joko"
    # The name and the domain are free again.
    new_user(op, "joko")


def test_update_email_package_shell(op: Op, root: Path) -> None:
    new_user(op, "joko")
    op("package_create", name="gold", values={"max_addon_domains": 50, "disk_quota_mb": 0})
    result = op(
        "update_user_config",
        username="joko",
        account={"contact_email": "new@example.org", "package": "gold", "shell": "/bin/sh"},
    )
    data = result.data
    assert data["account"]["contact_email"] == "new@example.org"
    assert data["account"]["package"] == "gold"
    assert data["limits"]["max_addon_domains"] == 50
    assert data["limits"]["disk_quota_mb"] == 0
    assert _line(root, "joko", "passwd")[6] == "/bin/sh"  # type: ignore[index]


def test_uids_come_from_jopanel_range_and_are_recorded(op: Op, root: Path) -> None:
    new_user(op, "alpha")
    new_user(op, "bravo")
    entries = parse_passwd(root / "etc/passwd")
    assert entries["alpha"].uid == 20000
    assert entries["bravo"].uid == 20001
    assert op("get_config", username="bravo").data["account"]["uid"] == 20001


def test_existing_system_account_is_never_taken_over(op: Op, root: Path) -> None:
    with (root / "etc/passwd").open("a") as handle:
        handle.write("legacy:x:3000:3000::/home/legacy:/bin/bash\n")
    try:
        new_user(op, "legacy")
    except Exception as exc:  # noqa: BLE001 - assert on the error below
        assert "existing system account" in str(exc)
    else:
        raise AssertionError("took over an existing Linux account")
    assert not (root / "etc/jopanel/users/legacy").exists()
    assert os.listdir(root / "home") == []


@pytest.mark.parametrize(
    ("domain", "error"),
    [
        ("co.uk", ValidationFailed),  # a public suffix
        ("joko.example.com", Conflict),  # another account's primary
        ("shop.joko.example.com", Conflict),  # under another account's domain
    ],
)
def test_primary_domain_rules_on_create_and_update(
    op: Op, root: Path, domain: str, error: type[Exception]
) -> None:
    new_user(op, "joko")
    before = (root / "etc/passwd").read_text()
    with pytest.raises(error):
        op(
            "create_user",
            username="bravo",
            password="correct horse 1",
            contact_email="b@example.com",
            primary_domain=domain,
        )
    assert (root / "etc/passwd").read_text() == before
    new_user(op, "bravo")
    with pytest.raises(error):
        op("update_user_config", username="bravo", account={"primary_domain": domain})
    assert op("get_config", username="bravo").data["domains"]["primary"] == "bravo.example.com"
