"""Reading the quota tools' and the kernel's answers (no quota-capable kernel needed)."""

from __future__ import annotations

from pathlib import Path

from jopanel.system import quota

MOUNTINFO = """\
22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw
30 22 7:0 / /srv/home rw,relatime - ext4 /dev/loop0 rw,quota,usrquota
31 22 7:1 / /srv/home2 rw,relatime - xfs /dev/loop1 rw,uquota
32 22 7:2 / /srv/with\\040space rw - ext4 /dev/loop2 rw
"""

QUOTA_OUT = """\
Disk quotas for user #1001 (uid 1001):
     Filesystem  blocks   quota   limit   grace   files   quota   limit   grace
      /dev/loop0   5124*   5120    5120       0      12       0       0       0
"""


def test_mount_of_by_path_components(tmp_path: Path) -> None:
    info = tmp_path / "mountinfo"
    info.write_text(MOUNTINFO)

    def point(path: str) -> tuple[str, str]:
        mount = quota.mount_of(Path(path), info)
        assert mount is not None
        return mount.mountpoint, mount.fstype

    assert point("/srv/home/joko") == ("/srv/home", "ext4")
    # /srv/home2 is not inside /srv/home: whole components, never a string prefix.
    assert point("/srv/home2/joko") == ("/srv/home2", "xfs")
    assert point("/srv/with space/x") == ("/srv/with space", "ext4")
    assert point("/var/x") == ("/", "ext4")


def test_quota_options() -> None:
    mounts = {m.mountpoint: m for m in quota.mounts(Path("/dev/null"))}
    assert mounts == {}
    with_quota = quota.Mount("/a", "ext4", "/dev/x", frozenset({"rw", "usrquota"}))
    without = quota.Mount("/b", "ext4", "/dev/y", frozenset({"rw", "relatime"}))
    assert quota.mounted_with_quota(with_quota) and not quota.mounted_with_quota(without)


def test_parse_quota_output() -> None:
    parsed = quota.parse_quota(QUOTA_OUT)
    assert parsed == quota.UserQuota(bytes=5124 * 1024, files=12, soft_kb=5120, hard_kb=5120)
    assert quota.parse_quota("Disk quotas for user #1001 (uid 1001): none\n") is None
