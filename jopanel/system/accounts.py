"""Linux accounts through the real shadow-utils, against ROOT (`--prefix` when sandboxed).

Pure readers parse ROOT/etc/passwd, shadow and group; thin functions run the commands.
Every shadow-utils argv is built here and only here (one builder per command, like
Ansible's user.py): callers say what they want, never how `useradd` spells it.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..atomic import ensure_dir, replace_file
from ..errors import Conflict, ValidationFailed
from ..settings import Settings
from ..store.locks import global_lock
from .runner import Runner

HOME_MODE = 0o750
COMMENT = "JoPanel account"


@dataclass(frozen=True)
class PasswdEntry:
    name: str
    uid: int
    gid: int
    home: str
    shell: str


@dataclass(frozen=True)
class HomeState:
    exists: bool
    uid: int = -1
    gid: int = -1
    mode: int = 0


def _read_lines(path: Path) -> list[list[str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]


def parse_passwd(path: Path) -> dict[str, PasswdEntry]:
    entries = {}
    for f in _read_lines(path):
        if len(f) >= 7 and f[2].isdigit() and f[3].isdigit():
            entries[f[0]] = PasswdEntry(f[0], int(f[2]), int(f[3]), f[5], f[6])
    return entries


def parse_shadow(path: Path) -> dict[str, str]:
    """name -> password field; the first entry of a name wins, as for a lookup."""
    hashes: dict[str, str] = {}
    for f in _read_lines(path):
        if len(f) > 1:
            hashes.setdefault(f[0], f[1])
    return hashes


def parse_group(path: Path) -> dict[str, int]:
    return {f[0]: int(f[2]) for f in _read_lines(path) if len(f) >= 3 and f[2].isdigit()}


class SystemAccounts:
    """Reads and changes passwd/shadow/group and homes under ROOT."""

    def __init__(self, settings: Settings, runner: Runner) -> None:
        self.settings = settings
        self.runner = runner
        self.prefix = settings.prefix_args()

    # --- readers ---------------------------------------------------------------------
    def passwd(self) -> dict[str, PasswdEntry]:
        return parse_passwd(self.settings.path("etc/passwd"))

    def host_names(self) -> set[str]:
        """Names in the host's passwd too: a sandbox must not shadow a real system user."""
        names = set(self.passwd())
        if self.settings.is_sandbox:
            names |= set(parse_passwd(Path("/etc/passwd")))
        return names

    def shadow_hash(self, name: str) -> str | None:
        return parse_shadow(self.settings.path("etc/shadow")).get(name)

    def groups(self) -> dict[str, int]:
        return parse_group(self.settings.path("etc/group"))

    def get(self, name: str) -> PasswdEntry | None:
        return self.passwd().get(name)

    def home_state(self, name: str) -> HomeState:
        try:
            st = os.lstat(self.settings.home_of(name))
        except FileNotFoundError:
            return HomeState(exists=False)
        if not stat.S_ISDIR(st.st_mode):
            return HomeState(exists=False)
        return HomeState(True, st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode))

    def allocate_id(self, *, reserve: bool = True) -> int:
        """The next id in JoPanel's range free as both a uid and a gid, never one given
        before: a counter under ROOT/var/lib/jopanel only moves up, so a deleted account's
        uid (and whatever files or processes it may have left) never passes to a new one.
        Callers hold the global "uids" lock; a dry run looks without `reserve`."""
        used = {e.uid for e in self.passwd().values()} | set(self.groups().values())
        in_range = [u for u in used if self.settings.uid_min <= u <= self.settings.uid_max]
        floor = max(self._next_id(), self.settings.uid_min, max(in_range, default=0) + 1)
        for candidate in range(floor, self.settings.uid_max + 1):
            if candidate not in used:
                if reserve:
                    self._save_next_id(candidate + 1)
                return candidate
        raise Conflict("no uid left in JoPanel's range that was never used", field="uid")

    def _next_id(self) -> int:
        try:
            return int(self.settings.uid_counter.read_text(encoding="ascii").strip())
        except (FileNotFoundError, ValueError):
            return 0

    def _save_next_id(self, value: int) -> None:
        ensure_dir(self.settings.uid_counter.parent, 0o755)
        replace_file(self.settings.uid_counter, f"{value}\n".encode("ascii"), mode=0o644)

    # --- commands --------------------------------------------------------------------
    def _shadow_utils(self, tool: str, options: Sequence[str], name: str) -> None:
        """The one argv shape of every shadow-utils call: tool, ROOT's `--prefix`, the
        options, then `--` so that a name can never be read as an option."""
        self._run([tool, *self.prefix, *options, "--", name])

    def _run(self, argv: list[str], input: str | None = None) -> None:
        """One shadow-utils command at a time. They lock passwd/shadow/group themselves,
        but chpasswd gives up at once ("cannot lock /etc/passwd; try again later") when
        another holds them, and accounts change in parallel (one lock each): found by the
        soak harness as 500s. This lock is always the innermost one taken."""
        with global_lock(self.settings, "shadow"):
            self.runner.run(argv, input=input)

    def groupadd(self, name: str, gid: int) -> None:
        self._shadow_utils("groupadd", ["-g", str(gid)], name)

    def add_system_group(self, name: str) -> None:
        """A system group (gid chosen by groupadd), e.g. cron's `crontab` in a sandbox."""
        self._shadow_utils("groupadd", ["-r"], name)

    def add_system_user(self, name: str, group: str, home: str, comment: str) -> None:
        """A system user that cannot log in, its home not made (e.g. the API's `jopanel`)."""
        options = ["-r", "-g", group, "-d", home, "-M", "-s", "/usr/sbin/nologin", "-c", comment]
        self._shadow_utils("useradd", options, name)

    def groupmod(self, name: str, gid: int) -> None:
        self._shadow_utils("groupmod", ["-g", str(gid)], name)

    def groupdel(self, name: str) -> None:
        self._shadow_utils("groupdel", [], name)

    def useradd(
        self,
        name: str,
        uid: int,
        gid: int | None,
        shell: str,
        *,
        home: str | None = None,
        comment: str = COMMENT,
        create_home: bool = True,
    ) -> None:
        """The one `useradd`. `gid` None is `-U`: a new group of the user's name (gid =
        uid when free). `home` is /home/<name> unless given; useradd never makes it (-M):
        with `create_home` it is copied from the skeleton, owned by the account, 0750.
        The password is not set here: `set_hash` installs it through chpasswd's stdin."""
        group = ["-U"] if gid is None else ["-g", str(gid)]
        options = [
            "-u", str(uid), *group,
            "-d", home if home is not None else self.settings.system_home(name),
            "-M", "-s", shell, "-c", comment,
        ]  # fmt: skip
        self._shadow_utils("useradd", options, name)
        if create_home:
            if gid is None:
                entry = self.get(name)
                gid = entry.gid if entry is not None else uid
            self.make_home(name, uid, gid, self.settings.skel_dir)

    def make_home(self, name: str, uid: int, gid: int, skel: Path) -> None:
        """Create the home from the skeleton, owned by the account, mode 0750."""
        home = self.settings.home_of(name)
        home.parent.mkdir(parents=True, exist_ok=True)
        if home.is_symlink():
            home.unlink()  # never follow a planted link into someone else's tree
        shutil.copytree(skel, home, symlinks=True, dirs_exist_ok=True)
        for directory, dirnames, filenames in os.walk(home):
            for entry in [directory, *(os.path.join(directory, n) for n in dirnames + filenames)]:
                os.lchown(entry, uid, gid)
        os.chmod(home, HOME_MODE)

    def fix_home(self, name: str, uid: int, gid: int) -> None:
        home = self.settings.home_of(name)
        os.lchown(home, uid, gid)
        os.chmod(home, HOME_MODE)

    def remove_home(self, name: str) -> None:
        home = self.settings.home_of(name)
        if home.is_symlink():
            home.unlink()
        elif home.exists():
            shutil.rmtree(home)

    def userdel(self, name: str) -> None:
        self._shadow_utils("userdel", [], name)

    def usermod(
        self,
        name: str,
        *,
        uid: int | None = None,
        shell: str | None = None,
        lock: bool | None = None,
    ) -> None:
        """The one `usermod`: only the options given (None leaves that field alone), and
        nothing at all when none is. Never `-p` (hashes go through `set_hash`), never
        `-g` (with --prefix it resolves groups on the host, not ROOT: see `set_ids`)."""
        options: list[str] = []
        if uid is not None:
            options += ["-u", str(uid)]
        if shell is not None:
            options += ["-s", shell]
        if lock is not None:
            options.append("-L" if lock else "-U")
        if options:
            self._shadow_utils("usermod", options, name)

    def set_shell(self, name: str, shell: str) -> None:
        self.usermod(name, shell=shell)

    def set_ids(self, name: str, uid: int, gid: int) -> None:
        """Give the account `uid`, and its own group `gid` (groupmod moves passwd along).

        `usermod -g` is not used: with --prefix it resolves groups on the host, not ROOT.
        """
        entry = self.get(name)
        if entry is None or entry.uid != uid:
            self.usermod(name, uid=uid)
        if entry is None or entry.gid != gid:
            self.groupmod(name, gid)

    def set_hash(self, name: str, hashed: str) -> None:
        """Install a crypt(3) hash, given to `chpasswd -e` on stdin, never on an argv.

        An argv is readable by every user in /proc/<pid>/cmdline. Debian 12's chpasswd
        (shadow 4.13) has no --prefix; on a sandbox it takes `--root ROOT`, which chroots
        into ROOT (fine with -e: no PAM, and the sandbox has its own login.defs).
        A name or hash holding ':' or a line break would make a second chpasswd line
        (another account's password), so both are refused before anything runs.
        """
        for value, field in ((name, "username"), (hashed, "password_hash")):
            if not value or any(c in value for c in ":\n\r\0"):
                raise ValidationFailed("must not be empty or hold ':' or a line break", field=field)
        root = ["--root", str(self.settings.root)] if self.settings.is_sandbox else []
        self._run(["chpasswd", *root, "-e"], input=f"{name}:{hashed}\n")

    def lock(self, name: str) -> None:
        self.usermod(name, lock=True)

    def unlock(self, name: str) -> None:
        self.usermod(name, lock=False)

    def is_locked(self, name: str) -> bool:
        hashed = self.shadow_hash(name)
        return hashed is not None and hashed.startswith("!")
