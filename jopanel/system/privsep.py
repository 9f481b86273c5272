"""`python -m jopanel.system.privsep FILE`: run `sshd -t -f FILE` where /run/sshd is missing.

sshd refuses even to test a config without its privilege separation directory, which only
exists on a host while openssh-server's unit has created it. Rather than create
directories outside the root, the check runs in a private mount namespace: a fresh tmpfs
over /run holding an empty /run/sshd, seen by this process alone and gone with it.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import sys

from .runner import SAFE_PATH

CLONE_NEWNS = 0x00020000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
PRIVSEP_DIR = "/run/sshd"


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        sys.exit("usage: python -m jopanel.system.privsep SSHD_CONFIG")
    sshd = shutil.which("sshd", path=SAFE_PATH)
    if sshd is None:
        sys.exit("sshd is not installed")
    libc = ctypes.CDLL(None, use_errno=True)
    _check(libc.unshare(CLONE_NEWNS), "unshare")
    _check(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "make / private")
    _check(libc.mount(b"tmpfs", b"/run", b"tmpfs", 0, b"mode=0755,size=64k"), "mount /run")
    os.mkdir(PRIVSEP_DIR, 0o755)
    os.execv(sshd, [sshd, "-t", "-f", argv[0]])


if __name__ == "__main__":
    main(sys.argv[1:])
