"""Disk usage of an account whose home is on a loopback ext4 image.

When the kernel enforces user quotas there, the limit from limits.disk_quota_mb is set
(as Drift, by the account's own change) and a write beyond it is refused by the kernel.
When it does not (this kernel accepts `-o usrquota` but has no quota format, or no loop
device at all), detection must say "no quotas" for that mount and the walk fallback must
give du's figure, cached root-only with its age. The branch taken is printed.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from jopanel.agent.context import AgentContext
from jopanel.agent.quota_drift import plan_quota
from jopanel.agent.usage import cache_path, disk_usage
from jopanel.system import quota
from tests.conftest import Op, new_user
from tests.usage.test_diskwalk import du_bytes, fill


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)


@pytest.fixture
def home_mount(root: Path, tmp_path: Path) -> Iterator[str]:
    """Mount an ext4 image on ROOT/home (with usrquota and quota turned on when the
    kernel lets us); yields the branch: "quota", "no-quota" or "no-loop"."""
    image, home = tmp_path / "home.img", root / "home"
    run("truncate", "-s", "64M", str(image))
    if run("mkfs.ext4", "-q", "-F", str(image)).returncode != 0:
        yield "no-loop"
        return
    mounted = run("mount", "-o", "loop,usrquota", str(image), str(home)).returncode == 0
    if not mounted:
        mounted = run("mount", "-o", "loop", str(image), str(home)).returncode == 0
    if not mounted:
        yield "no-loop"
        return
    try:
        os.chmod(home, 0o755)
        shutil.rmtree(home / "lost+found", ignore_errors=True)
        on = (
            run("quotacheck", "-cum", str(home)).returncode == 0
            and run("quotaon", "-u", str(home)).returncode == 0
        )
        yield "quota" if on else "no-quota"
    finally:
        run("quotaoff", "-u", str(home))
        assert run("umount", str(home)).returncode == 0


def write_as(uid: int, path: Path, size: int) -> int:
    """Write `size` bytes to `path` as `uid`; the errno of a refused write, else 0."""
    script = (
        "import os,sys\n"
        "try:\n"
        " f=os.open(sys.argv[1],os.O_WRONLY|os.O_CREAT|os.O_TRUNC,0o600)\n"
        " [os.write(f,b'x'*65536) for _ in range(int(sys.argv[2])//65536)]\n"
        " os.fsync(f)\n"
        "except OSError as e: print(e.errno)\n"
        "else: print(0)\n"
    )
    done = subprocess.run(
        ["python3", "-c", script, str(path), str(size)],
        user=uid, group=uid, extra_groups=[], capture_output=True, text=True, check=True,
    )  # fmt: skip
    return int(done.stdout.strip())


def test_disk_usage_quota_or_walk(
    root: Path,
    ctx: AgentContext,
    op: Op,
    home_mount: str,
    capsys: pytest.CaptureFixture[str],
    record_property: Callable[[str, object], None],
) -> None:
    record_property("disk_usage_branch", home_mount)
    with capsys.disabled():  # shown in the test output whatever the capture mode
        print(f"\n[disk usage] branch taken: {home_mount}")  # noqa: T201
    op("package_create", name="tiny", values={"disk_quota_mb": 5})
    new_user(op, "joko", package="tiny")
    config = ctx.store.read("joko")
    home = ctx.settings.home_of("joko")
    mount = quota.mount_of(home)
    assert mount is not None
    if home_mount in ("quota", "no-quota"):
        assert mount.mountpoint == str(root / "home") and mount.fstype == "ext4"
        assert quota.mounted_with_quota(mount) or home_mount == "no-quota"

    if home_mount == "quota":
        assert quota.has_user_quota(ctx.runner, mount)
        assert plan_quota(ctx, config) == []  # create already set it
        now = quota.user_usage(ctx.runner, config.account.uid, mount.mountpoint)
        assert now is not None and now.hard_kb == 5 * 1024
        assert write_as(config.account.uid, home / "big", 8 << 20) == errno.EDQUOT
        usage = disk_usage(ctx, config)
        assert usage.source == "quota" and usage.used_bytes <= 5 << 20
        (home / "big").unlink()
        op("update_user_config", username="joko", limits={"disk_quota_mb": 20})
        assert write_as(config.account.uid, home / "big", 8 << 20) == 0
        return

    # No quotas: detection says so, nothing is planned, the walk gives du's figure.
    assert not quota.has_user_quota(ctx.runner, mount)
    assert plan_quota(ctx, config) == []
    fill(home, root / "outside.bin")
    usage = disk_usage(ctx, config)
    assert usage.source == "walk" and usage.complete
    assert usage.used_bytes == du_bytes(home)
    cached = cache_path(ctx.settings, "joko")
    assert stat.S_IMODE(cached.stat().st_mode) == 0o600
    assert stat.S_IMODE(cached.parent.stat().st_mode) == 0o700
    # Answered from the cache while young, with its age; measured again when asked to.
    time.sleep(0.05)
    again = disk_usage(ctx, config)
    assert again.measured_at == usage.measured_at and again.view()["disk_age_s"] >= 0.0
    (home / "more.bin").write_bytes(os.urandom(1 << 20))
    fresh = disk_usage(ctx, config, max_age=0)
    assert fresh.used_bytes == du_bytes(home) > usage.used_bytes
