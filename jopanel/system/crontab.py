"""An account's crontab under ROOT: render it from services.json, read it, write it, drop it.

The file is what Debian's cron expects of a `crontab`-installed table: ROOT/var/spool/
cron/crontabs/<user>, a regular file with one link, owned by the account's uid and the
`crontab` group, mode 0600 (cron skips a file with another owner or mode). The spool
directory is root:crontab 1730 as the cron package makes it. Writes are atomic (a
temporary file in the same directory, fchown/fchmod before the rename), so cron never
reads half a table; cron notices the change by the directory's mtime.
"""

from __future__ import annotations

import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from ..atomic import ensure_dir, fsync_dir
from ..cronspec import crontab_line
from ..schemas import UserConfig
from ..settings import Settings
from .accounts import SystemAccounts

CRON_GROUP = "crontab"
SPOOL_MODE = 0o1730
FILE_MODE = 0o600
HEADER = "# managed by JoPanel: edit the jobs in the panel (changes made here are replaced)\n"


def render(config: UserConfig) -> bytes | None:
    """The crontab the account should have; None when it should have none (cron turned
    off, no jobs, or the account suspended: its jobs stop)."""
    cron = config.services.cron
    if not cron.enabled or not cron.jobs or config.account.status != "active":
        return None
    lines = [HEADER]
    for job in cron.jobs:
        lines.append(f"# job {job.id}\n")
        lines.append(crontab_line(job.schedule, job.command))
    return "".join(lines).encode("utf-8")


@dataclass(frozen=True)
class CrontabState:
    content: bytes | None  # None: not a regular file (a link, a directory)
    uid: int
    gid: int
    mode: int
    links: int


class Crontabs:
    """The spool directory of one ROOT."""

    def __init__(self, settings: Settings, accounts: SystemAccounts) -> None:
        self.settings = settings
        self.accounts = accounts
        self.spool = settings.crontab_dir

    def path(self, username: str) -> Path:
        return self.spool / username

    def group_id(self) -> int:
        """gid of `crontab` in ROOT/etc/group; a sandbox root without it gets one made
        (a real root without it has no cron installed: the file keeps gid 0)."""
        gid = self.accounts.groups().get(CRON_GROUP)
        if gid is None and self.settings.is_sandbox:
            self.accounts.add_system_group(CRON_GROUP)
            gid = self.accounts.groups().get(CRON_GROUP)
        return gid if gid is not None else 0

    def read(self, username: str) -> CrontabState | None:
        try:
            fd = os.open(self.path(username), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except FileNotFoundError:
            return None
        except OSError:  # a symlink (ELOOP) or something else in its place
            st = os.lstat(self.path(username))
            return CrontabState(None, st.st_uid, st.st_gid, st.st_mode & 0o7777, st.st_nlink)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                return CrontabState(None, st.st_uid, st.st_gid, st.st_mode & 0o7777, 1)
            with os.fdopen(os.dup(fd), "rb") as handle:
                content = handle.read()
            return CrontabState(content, st.st_uid, st.st_gid, st.st_mode & 0o7777, st.st_nlink)
        finally:
            os.close(fd)

    def problem(self, username: str, uid: int, want: bytes | None) -> str | None:
        """Why the live crontab differs from `want` (None when it matches)."""
        state = self.read(username)
        if want is None:
            return None if state is None else f"crontab {self.path(username)} should not exist"
        if state is None:
            return "crontab is missing"
        if state.content != want:
            return "crontab differs from services.json"
        gid = self.accounts.groups().get(CRON_GROUP, 0)  # planning only reads
        if (state.uid, state.gid, state.mode, state.links) != (uid, gid, FILE_MODE, 1):
            return (
                f"crontab is {state.uid}:{state.gid} {state.mode:o} ({state.links} links), "
                f"want {uid}:{gid} {FILE_MODE:o}"
            )
        return None

    def ensure_spool(self) -> int:
        """The spool directory as the cron package makes it; returns the crontab gid."""
        gid = self.group_id()
        if not self.spool.is_dir():
            ensure_dir(self.spool, 0o700)
            os.chown(self.spool, 0, gid)
            os.chmod(self.spool, SPOOL_MODE)
        return gid

    def write(self, username: str, uid: int, content: bytes) -> None:
        gid = self.ensure_spool()
        tmp = self.spool / f".{username}.tmp-{secrets.token_hex(6)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
        try:
            try:
                os.fchown(fd, uid, gid)
                os.fchmod(fd, FILE_MODE)
                view = memoryview(content)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            # rename replaces whatever is there (a link is replaced, never followed)
            os.replace(tmp, self.path(username))
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        fsync_dir(self.spool)

    def remove(self, username: str) -> bool:
        path = self.path(username)
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                return False  # not ours to remove; reported as drift
            path.unlink()
        except FileNotFoundError:
            return False
        fsync_dir(self.spool)
        return True
