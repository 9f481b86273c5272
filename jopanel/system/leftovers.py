"""What a deleted account leaves outside its home, found and ended: its processes, its
crontab, and the files it owns in the world-writable directories (ROOT/tmp, var/tmp,
dev/shm) and its mail spool.

uids are never reused (system/accounts.py), so nothing missed here could pass to a later
account; this is the tidy part. Entries are matched by owner uid and removed relative to
their parent directory's descriptor, never through a path another user could redirect.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import time
from pathlib import Path

from ..settings import Settings
from .runner import Runner

log = logging.getLogger("jopanel.system.leftovers")

SHARED_DIRS = ("tmp", "var/tmp", "dev/shm")
PKILL_NONE_MATCHED = 1


def end_processes(runner: Runner, uid: int, rounds: int = 5) -> bool:
    """SIGKILL every process of `uid` (so userdel can run and nothing lingers), again
    while any is left (a process that forks between rounds); True when some were killed.

    JoPanel's uids (20000+) belong to no host account, so in a sandbox this reaches only
    processes the sandbox's accounts started.
    """
    if uid < 1000:  # never a system account, whatever a config file claims
        raise ValueError(f"refusing to kill the processes of system uid {uid}")
    killed = False
    for _ in range(rounds):
        done = runner.run(["pkill", "-KILL", "-U", str(uid)], check=False)
        if done.returncode == PKILL_NONE_MATCHED:
            break
        killed = killed or done.returncode == 0
        time.sleep(0.05)
    return killed


def remove_crontab(settings: Settings, username: str) -> bool:
    path = settings.crontab_dir / username
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def _remove_in(top: Path, uid: int) -> int:
    """Remove the top-most entries owned by `uid` under `top`, never resolving a path
    through a directory: every entry is looked at and removed relative to its parent's
    open descriptor (another user may swap a directory for a symlink at any moment)."""
    removed = 0
    try:
        walker = os.fwalk(top, follow_symlinks=False)
        for _path, dirnames, filenames, dir_fd in walker:
            keep: list[str] = []
            for name in dirnames + filenames:
                try:
                    st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
                    if st.st_uid == uid:
                        if stat.S_ISDIR(st.st_mode):
                            shutil.rmtree(name, dir_fd=dir_fd)
                        else:
                            os.unlink(name, dir_fd=dir_fd)
                        removed += 1
                    elif stat.S_ISDIR(st.st_mode) and name in dirnames:
                        keep.append(name)  # someone else's directory: look inside
                except OSError:
                    continue  # gone meanwhile, or not ours to remove: the delete goes on
            dirnames[:] = keep
    except OSError:
        log.warning("could not walk %s for leftovers of uid %s", top, uid)
    return removed


def remove_owned_files(settings: Settings, uid: int, username: str) -> int:
    """Remove what `uid` owns in the shared directories and its mail spool; returns how
    many entries. Best effort: a leftover that cannot be removed is logged, never raised
    (the uid is never reused, so it can pass to nobody)."""
    removed = sum(_remove_in(settings.path(relative), uid) for relative in SHARED_DIRS)
    spool = settings.path("var/mail")
    try:
        fd = os.open(spool, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return removed
    try:
        st = os.stat(username, dir_fd=fd, follow_symlinks=False)
        if st.st_uid == uid and stat.S_ISREG(st.st_mode):
            os.unlink(username, dir_fd=fd)
            removed += 1
    except OSError:
        pass
    finally:
        os.close(fd)
    return removed
