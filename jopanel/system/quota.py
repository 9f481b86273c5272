"""Linux user disk quotas: which filesystem holds a path, whether it enforces user
quotas, and setting/reading one uid's block limit (quota tools through the Runner).

A filesystem enforces user quotas when it is mounted with usrquota/usrjquota/uquota (or
ext4's quota feature shows as usrquota) and `quotaon -p` reports user quota on; kernels
without CONFIG_QUOTA refuse such mounts, so there the answer is simply "no quotas".
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import CommandFailed
from .runner import Runner

MOUNTINFO = Path("/proc/self/mountinfo")
QUOTA_OPTIONS = ("usrquota", "usrjquota", "uquota", "quota")


@dataclass(frozen=True)
class Mount:
    mountpoint: str
    fstype: str
    source: str
    options: frozenset[str]


@dataclass(frozen=True)
class UserQuota:
    bytes: int
    files: int
    soft_kb: int
    hard_kb: int


def _unescape(field: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as \ooo.
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and i + 4 <= len(field) and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def mounts(mountinfo: Path = MOUNTINFO) -> list[Mount]:
    found = []
    for line in mountinfo.read_text().splitlines():
        left, sep, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if not sep or len(fields) < 6 or len(tail) < 3:
            continue
        options = set(fields[5].split(",")) | set(tail[2].split(","))
        found.append(Mount(_unescape(fields[4]), tail[0], _unescape(tail[1]), frozenset(options)))
    return found


def mount_of(path: Path, mountinfo: Path = MOUNTINFO) -> Mount | None:
    """The mount holding `path` (by whole path components, the last mounted wins)."""
    try:
        real = Path(os.path.realpath(path))
    except OSError:
        return None
    best: Mount | None = None
    for mount in mounts(mountinfo):
        point = Path(mount.mountpoint)
        if real == point or point in real.parents:
            if best is None or len(point.parts) >= len(Path(best.mountpoint).parts):
                best = mount
    return best


def mounted_with_quota(mount: Mount) -> bool:
    return any(o.split("=")[0] in QUOTA_OPTIONS for o in mount.options)


def has_user_quota(runner: Runner, mount: Mount) -> bool:
    """The filesystem is mounted with user quotas and the kernel has them on."""
    if not mounted_with_quota(mount):
        return False
    try:
        done = runner.run(["quotaon", "-p", "-u", mount.mountpoint], check=False, timeout=10)
    except CommandFailed:  # quota tools not installed
        return False
    return " is on" in done.stdout


def set_user_limit(runner: Runner, uid: int, limit_mb: int, mountpoint: str) -> None:
    """Block limit for `uid` (0: none); soft and hard the same, inodes unlimited."""
    kb = str(limit_mb * 1024)
    runner.run(["setquota", "-u", str(uid), kb, kb, "0", "0", mountpoint])


def user_usage(runner: Runner, uid: int, mountpoint: str) -> UserQuota | None:
    """What the kernel counts for `uid` on `mountpoint` (None when it cannot tell)."""
    done = runner.run(
        ["quota", "-u", "-v", "-w", "-p", f"--filesystem={mountpoint}", str(uid)],
        check=False,
        timeout=10,
    )
    return parse_quota(done.stdout)


def parse_quota(output: str) -> UserQuota | None:
    """Read `quota -v -w -p`'s data line: fs blocks quota limit grace files quota limit
    grace (a * marks a value over its limit; sizes in 1 KiB blocks)."""
    for line in output.splitlines():
        fields = line.split()
        if len(fields) < 9 or not fields[1].rstrip("*").isdigit():
            continue
        try:
            blocks, soft, hard = (int(f.rstrip("*")) for f in fields[1:4])
            files = int(fields[5].rstrip("*"))
        except ValueError:
            continue
        return UserQuota(blocks * 1024, files, soft, hard)
    return None
