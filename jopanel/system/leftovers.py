"""What a deleted account leaves outside its home, found and ended: its processes, its
crontab, and the files it owns in the world-writable directories (ROOT/tmp, var/tmp,
dev/shm) and its mail spool.

uids are never reused (system/accounts.py), so nothing missed here could pass to a later
account; this is the tidy part. Files are matched by owner uid with lstat and removed
without following links; directories are walked without crossing into other mounts.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

from ..settings import Settings
from .runner import Runner

SHARED_DIRS = ("tmp", "var/tmp", "dev/shm")
PKILL_NONE_MATCHED = 1


def end_processes(runner: Runner, uid: int) -> bool:
    """SIGKILL every process of `uid` (so userdel can run and nothing lingers).

    True when some were killed. JoPanel's uids (20000+) belong to no host account, so in
    a sandbox this reaches only processes the sandbox's accounts started.
    """
    if uid < 1000:  # never a system account, whatever a config file claims
        raise ValueError(f"refusing to kill the processes of system uid {uid}")
    done = runner.run(["pkill", "-KILL", "-U", str(uid)], check=False)
    return done.returncode != PKILL_NONE_MATCHED and done.returncode == 0


def remove_crontab(settings: Settings, username: str) -> bool:
    path = settings.crontab_dir / username
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def owned_files(settings: Settings, uid: int) -> list[Path]:
    """Top-most paths owned by `uid` in the shared directories (a directory it owns is
    listed once, not its contents), and its mail spool."""
    found: list[Path] = []
    for relative in SHARED_DIRS:
        top = settings.path(relative)
        try:
            device = os.lstat(top).st_dev
        except FileNotFoundError:
            continue
        for directory, dirnames, filenames in os.walk(top):
            keep: list[str] = []
            for name in dirnames:
                path = Path(directory, name)
                st = os.lstat(path)
                if st.st_uid == uid:
                    found.append(path)
                elif st.st_dev == device and stat.S_ISDIR(st.st_mode):
                    keep.append(name)  # someone else's directory: look inside, same mount
            dirnames[:] = keep
            found += [
                Path(directory, n) for n in filenames if os.lstat(Path(directory, n)).st_uid == uid
            ]
    return found


def remove_owned_files(settings: Settings, uid: int, username: str) -> int:
    """Remove what `owned_files` finds, and var/mail/<username>; returns how many."""
    paths = owned_files(settings, uid)
    mail = settings.path(f"var/mail/{username}")
    if mail.is_file() and not mail.is_symlink() and os.lstat(mail).st_uid == uid:
        paths.append(mail)
    for path in paths:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return len(paths)
