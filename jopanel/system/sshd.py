"""sshd: one Match block per account in `etc/ssh/sshd_config.d/jopanel-<user>.conf`.

Modes (ssh.json): `sftp_chroot` (internal-sftp only, locked in a root-owned directory,
no forwarding or TTY), `shell` (forwarding as ssh.json says), `disabled` (DenyUsers). A
suspended account is always `disabled`: with key authentication an SFTP session needs no
password and no login shell, so locking those alone would not stop it.

The chroot is `ROOT/home` (root-owned, 0755; sshd requires every component to be
root-owned and not writable by others) with the session starting in `/<user>`, because
the home itself stays the account's (0750) and a user-owned directory cannot be a chroot.

`sshd -t` needs a host key and its privilege separation directory (/run/sshd, which
openssh-server's unit creates; where it is missing the check runs in a private mount
namespace, see privsep.py). The check uses a throwaway host key kept under ROOT; /etc/ssh
is never touched except, on the real root, sshd_config.d.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
from pathlib import Path

from .. import validate
from ..atomic import ensure_dir
from ..schemas import UserConfig
from ..settings import Settings
from . import privsep
from .privsep import PRIVSEP_DIR
from .runner import SAFE_PATH, Runner
from .staging import ConfigFamily, write_if_changed
from .templating import render


def authorized_keys_path(settings: Settings, username: str) -> Path:
    return settings.home_of(username) / ".ssh/authorized_keys"


def effective_mode(config: UserConfig) -> str:
    if config.account.status == "suspended" or not config.ssh.enabled:
        return "disabled"
    return config.ssh.mode


class Sshd(ConfigFamily):
    reload_key = "sshd"

    def __init__(self, settings: Settings, runner: Runner) -> None:
        super().__init__(settings, runner)
        self.etc = settings.path("etc/ssh")
        self.main_config = self.etc / "sshd_config"
        self.check_dir = settings.state_dir / "sshd-check"
        self.check_key = self.check_dir / "host_ed25519_key"

    @property
    def live_dir(self) -> Path:
        return self.etc / "sshd_config.d"

    def chroot_dir(self, config: UserConfig) -> tuple[Path, str]:
        """The chroot (real path) and where the session starts inside it."""
        home = Path(config.account.home_dir)
        if config.ssh.chroot_dir is None:
            chroot = Path("/home")
        else:
            chroot = Path(validate.absolute_path(config.ssh.chroot_dir, "ssh.chroot_dir"))
        start = f"/{home.relative_to(chroot)}" if chroot in home.parents else "/"
        return self.settings.path(str(chroot)), start

    def render_match(self, config: UserConfig) -> str:
        ssh = config.ssh
        chroot, start = self.chroot_dir(config)
        return render(
            "sshd_match.conf.j2",
            username=config.username,
            mode=effective_mode(config),
            authorized_keys=authorized_keys_path(self.settings, config.username),
            chroot_dir=chroot,
            start_dir=start,
            port_forwarding=ssh.allow_port_forwarding,
            agent_forwarding=ssh.allow_agent_forwarding,
            x11_forwarding=ssh.allow_x11_forwarding,
            force_command=ssh.force_command,
        )

    def render_main(self, include_dir: Path, *, host_key: Path, pid: Path, purpose: str) -> str:
        return render(
            "sshd_main.conf.j2",
            purpose=purpose,
            host_key=host_key,
            pid=pid,
            include_dir=include_dir,
        )

    def _host_key(self, path: Path) -> Path:
        """A throwaway host key, made once (in a temp name first: checks may run in parallel)."""
        if not path.exists():
            ensure_dir(path.parent, 0o700)
            tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
            self.runner.run(
                ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "jopanel", "-f", str(tmp)]
            )
            os.replace(tmp.with_name(tmp.name + ".pub"), path.with_name(path.name + ".pub"))
            os.replace(tmp, path)
        return path

    def ensure_base(self) -> None:
        super().ensure_base()
        home = self.settings.home_base
        ensure_dir(home, 0o755)  # the default chroot: root-owned, not writable by others
        if self.settings.is_sandbox:
            key = self._host_key(self.etc / "ssh_host_ed25519_key")
            write_if_changed(
                self.main_config,
                self.render_main(
                    self.live_dir,
                    host_key=key,
                    pid=self.settings.path("run/sshd.pid"),
                    purpose="main config of a sandbox root",
                ),
            )

    def write_check_config(self, stage: Path, include_dir: Path) -> Path:
        main = stage / "sshd_config"
        key = self._host_key(self.check_key)
        main.write_text(
            self.render_main(
                include_dir, host_key=key, pid=stage / "sshd.pid", purpose="check of staged files"
            ),
            encoding="utf-8",
        )
        return main

    def check_argv(self, main_config: Path, stage: Path) -> list[str]:
        if os.path.isdir(PRIVSEP_DIR):
            return ["sshd", "-t", "-f", str(main_config)]
        return self._privsep_argv(str(main_config))

    def _privsep_argv(self, *args: str) -> list[str]:
        """Run sshd in its own mount namespace with an empty /run/sshd: through bubblewrap
        (a 7 ms start) where it is installed, else through privsep.py (15 ms)."""
        sshd = self.runner.which("sshd")
        if shutil.which("bwrap", path=SAFE_PATH):
            return [
                "bwrap", "--bind", "/", "/", "--dev-bind", "/dev", "/dev",
                "--tmpfs", "/run", "--dir", PRIVSEP_DIR, "--",
                *privsep.sshd_argv(sshd, args[0], args[1] if len(args) == 2 else None),
            ]  # fmt: skip
        script = str(Path(privsep.__file__))
        return [sys.executable, "-I", "-S", script, sshd, *args]

    def effective(self, username: str, addr: str = "127.0.0.1") -> dict[str, str]:
        """What the real sshd would apply to `username` connecting from `addr`, given
        the live JoPanel files (`sshd -T -C`): lowercase keyword -> value."""
        validate.username(username)
        connection = f"user={username},host=client.invalid,addr={addr}"
        with self.staged({}) as stage:
            main = stage / "sshd_config"
            key = self._host_key(self.check_key)
            main.write_text(
                self.render_main(
                    self.live_dir, host_key=key, pid=stage / "sshd.pid", purpose="sshd -T"
                ),
                encoding="utf-8",
            )
            if os.path.isdir(PRIVSEP_DIR):
                argv = ["sshd", "-T", "-C", connection, "-f", str(main)]
            else:
                argv = self._privsep_argv(str(main), connection)
            done = self.runner.run(argv, timeout=60)
        settings: dict[str, str] = {}
        for line in done.stdout.splitlines():
            keyword, _, value = line.partition(" ")
            settings.setdefault(keyword, value)
        return settings


def key_fingerprint(runner: Runner, key_line: str) -> str:
    """SHA256 fingerprint as `ssh-keygen -l` computes it (the key must parse for it)."""
    done = runner.run(
        ["ssh-keygen", "-l", "-E", "sha256", "-f", "-"], input=key_line + "\n", timeout=30
    )
    fields = done.stdout.split()
    if len(fields) < 2 or not fields[1].startswith("SHA256:"):
        raise ValueError(f"unexpected ssh-keygen output {done.stdout!r}")
    return fields[1]
