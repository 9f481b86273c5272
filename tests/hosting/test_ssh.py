"""SSH: keys by fingerprint (checked by ssh-keygen), authorized_keys ownership, Match modes."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from jopanel.agent.context import AgentContext
from jopanel.errors import Conflict, NotFound, ValidationFailed
from jopanel.system.sshd import Sshd
from tests.conftest import Op, new_user
from tests.hosting.conftest import make_key

MATCH = "etc/ssh/sshd_config.d/jopanel-joko.conf"
KEYS = "home/joko/.ssh/authorized_keys"


def keygen_fingerprint(key: str) -> str:
    done = subprocess.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", "-"], input=key, capture_output=True,
        text=True, check=True,
    )  # fmt: skip
    return done.stdout.split()[1]


def test_keys_are_added_listed_and_removed_by_fingerprint(
    op: Op, root: Path, tmp_path: Path
) -> None:
    new_user(op, "joko")
    ed = make_key(tmp_path, "laptop")
    rsa = make_key(tmp_path, "desktop", "rsa")
    added = op("ssh_key_add", username="joko", key=ed)
    assert added.data["fingerprint"] == keygen_fingerprint(ed)
    op("ssh_key_add", username="joko", key=rsa)
    rows = op("ssh_key_list", username="joko").data
    assert [(r["type"], r["comment"], r["fingerprint"]) for r in rows] == [
        ("ssh-ed25519", "laptop@test", keygen_fingerprint(ed)),
        ("ssh-rsa", "desktop@test", keygen_fingerprint(rsa)),
    ]
    path = root / KEYS
    assert path.read_text() == f"{ed}\n{rsa}\n"
    st, ssh_dir = path.stat(), path.parent.stat()
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (20000, 20000, 0o600)
    assert (ssh_dir.st_uid, stat.S_IMODE(ssh_dir.st_mode)) == (20000, 0o700)
    with pytest.raises(Conflict, match="already authorized"):
        op("ssh_key_add", username="joko", key=ed)
    # The URL-safe alphabet is accepted (the API puts fingerprints in paths).
    urlsafe = keygen_fingerprint(ed).replace("+", "-").replace("/", "_")
    op("ssh_key_remove", username="joko", fingerprint=urlsafe)
    assert path.read_text() == f"{rsa}\n"
    with pytest.raises(NotFound):
        op("ssh_key_remove", username="joko", fingerprint=keygen_fingerprint(ed))
    op("ssh_key_remove", username="joko", fingerprint=keygen_fingerprint(rsa))
    assert not path.exists()
    assert op("apply_user", username="joko").changed is False


def test_hand_edited_authorized_keys_is_put_back(op: Op, root: Path, tmp_path: Path) -> None:
    new_user(op, "joko")
    key = make_key(tmp_path)
    op("ssh_key_add", username="joko", key=key)
    (root / KEYS).write_text(f"{key}\nssh-ed25519 AAAAintruder\n")
    os.chmod(root / KEYS, 0o666)
    assert op("apply_user", dry_run=True, username="joko").plan == [
        "authorized_keys differs from ssh.json"
    ]
    op("reconcile", username="joko")
    assert (root / KEYS).read_text() == f"{key}\n"
    assert stat.S_IMODE((root / KEYS).stat().st_mode) == 0o600


def test_a_symlinked_ssh_dir_is_never_followed(op: Op, root: Path, tmp_path: Path) -> None:
    new_user(op, "joko")
    target = root / "etc/jopanel"
    before = sorted(p.name for p in target.iterdir())
    (root / "home/joko/.ssh").rmdir()
    os.symlink(target, root / "home/joko/.ssh")
    with pytest.raises(Conflict, match="is a symlink or a file; not following it"):
        op("ssh_key_add", username="joko", key=make_key(tmp_path))
    assert sorted(p.name for p in target.iterdir()) == before
    assert op("ssh_key_list", username="joko").data == []


HOSTILE_KEYS = [
    'command="/bin/sh" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB9',
    "ssh-dss AAAAB3NzaC1kc3MAAACBAP",
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB9\nssh-ed25519 AAAA",
    "ssh-ed25519 not-base64!",
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB9 comment;with}bad{chars",
    "",
]


@pytest.mark.parametrize("hostile", HOSTILE_KEYS)
def test_hostile_keys_are_refused(op: Op, root: Path, hostile: str) -> None:
    new_user(op, "joko")
    with pytest.raises(ValidationFailed) as caught:
        op("ssh_key_add", username="joko", key=hostile)
    assert caught.value.http_status == 422
    assert not (root / KEYS).exists()


def test_short_rsa_key_is_refused(op: Op, tmp_path: Path) -> None:
    new_user(op, "joko")
    path = tmp_path / "weak"
    subprocess.run(["ssh-keygen", "-q", "-t", "rsa", "-b", "1024", "-N", "", "-f", str(path)],
                   check=True)  # fmt: skip
    with pytest.raises(ValidationFailed, match="RSA key has 1024 bits"):
        op("ssh_key_add", username="joko", key=path.with_suffix(".pub").read_text())


def test_modes_render_checked_match_blocks(op: Op, root: Path) -> None:
    new_user(op, "joko")
    chroot = (root / MATCH).read_text()
    assert f"    ChrootDirectory {root}/home\n" in chroot
    assert "    ForceCommand internal-sftp -d /joko\n" in chroot
    assert "    DisableForwarding yes\n" in chroot
    assert f"    AuthorizedKeysFile {root}/home/joko/.ssh/authorized_keys\n" in chroot
    home = (root / "home").stat()
    assert (home.st_uid, stat.S_IMODE(home.st_mode)) == (0, 0o755)  # a valid chroot

    op("ssh_mode_set", username="joko", mode="shell", allow_agent_forwarding=True)
    shell = (root / MATCH).read_text()
    assert "ChrootDirectory" not in shell and "ForceCommand" not in shell
    assert "    AllowAgentForwarding yes\n    X11Forwarding no\n" in shell
    assert "    AllowTcpForwarding no\n" in shell

    op("ssh_mode_set", username="joko", mode="disabled")
    assert "    DenyUsers joko\n" in (root / MATCH).read_text()
    assert op("get_config", username="joko").data["ssh"]["enabled"] is False
    op("ssh_mode_set", username="joko", mode="sftp_chroot")
    assert (root / MATCH).read_text() == chroot


def test_the_real_sshd_applies_each_mode_to_the_account_only(op: Op, ctx: AgentContext) -> None:
    new_user(op, "joko")
    sshd = Sshd(ctx.settings, ctx.runner)
    root = ctx.settings.root
    keys = ("chrootdirectory", "forcecommand", "disableforwarding", "permittty", "denyusers")

    def effective(user: str = "joko") -> dict[str, str | None]:
        settings = sshd.effective(user)
        return {k: settings.get(k) for k in keys}

    assert effective() == {
        "chrootdirectory": f"{root}/home",
        "forcecommand": "internal-sftp -d /joko",
        "disableforwarding": "yes",
        "permittty": "no",
        "denyusers": None,
    }
    assert effective("budi") == {
        "chrootdirectory": "none",
        "forcecommand": "none",
        "disableforwarding": "no",
        "permittty": "yes",
        "denyusers": None,
    }
    op("ssh_mode_set", username="joko", mode="shell")
    shell = sshd.effective("joko")
    assert (shell["chrootdirectory"], shell["forcecommand"]) == ("none", "none")
    assert (shell["allowtcpforwarding"], shell["x11forwarding"]) == ("no", "no")
    op("suspend_user", username="joko")
    assert effective()["denyusers"] == "joko"
    op("unsuspend_user", username="joko")
    assert effective()["denyusers"] is None
