"""Generated config files that are checked by the real binary before they go live.

A `ConfigFamily` is one directory of JoPanel-generated files that a daemon includes
(nginx `sites-enabled/`, one PHP version's `pool.d/`, `sshd_config.d/`). To change files:

1. `stage`: the candidates are written to a private directory, with a main config that
   includes only that directory and the family's shared JoPanel settings;
2. `check`: the family's binary tests that main config (`nginx -t`, `php-fpm -t`,
   `sshd -t`); on failure nothing is activated and the live files stay as they were;
3. `activate`: each candidate replaces its live file atomically.

Candidates are checked without the other accounts' live files: those passed the same
check when they were activated, and nothing in one account's file refers to another's
(server names, pool names and Match users are unique by construction: domain claims and
usernames). That keeps one account's change at one small check however many accounts
the server has. Many accounts are staged together so a rebuild costs one check per family.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from ..atomic import ensure_dir, replace_file
from ..errors import CommandFailed
from ..settings import Settings
from .runner import Runner

FILE_RE = re.compile(r"^jopanel-[a-z][a-z0-9]{2,15}\.conf$")
FILE_MODE = 0o644


def file_name(username: str) -> str:
    return f"jopanel-{username}.conf"


def username_of(name: str) -> str | None:
    return name[len("jopanel-") : -len(".conf")] if FILE_RE.fullmatch(name) else None


class ConfigFamily(ABC):
    """Base of the nginx, PHP-FPM and sshd families; subclasses say where and how to check."""

    #: key for the reloader ("nginx", "php-fpm:8.2", "sshd")
    reload_key: str = ""

    def __init__(self, settings: Settings, runner: Runner) -> None:
        self.settings = settings
        self.runner = runner

    # --- what subclasses provide --------------------------------------------------------
    @property
    @abstractmethod
    def live_dir(self) -> Path:
        """Where the family's files are written."""

    @property
    def enabled_dir(self) -> Path:
        """What the daemon includes (the same as live_dir unless enabling is a symlink)."""
        return self.live_dir

    @abstractmethod
    def write_check_config(self, stage: Path, include_dir: Path) -> Path:
        """Write a main config for the check that includes `include_dir`; return its path."""

    @abstractmethod
    def check_argv(self, main_config: Path, stage: Path) -> list[str]:
        """The command that tests `main_config` (nginx -t, php-fpm -t, sshd -t)."""

    def check_env(self) -> dict[str, str]:
        return {}

    def ensure_base(self) -> None:
        """Create the directories (and, in a sandbox, the main configs) the family needs."""
        ensure_dir(self.live_dir, 0o755)
        ensure_dir(self.enabled_dir, 0o755)

    # --- live files ---------------------------------------------------------------------
    def live_names(self) -> list[str]:
        """JoPanel files the daemon currently includes."""
        try:
            entries = os.listdir(self.enabled_dir)
        except FileNotFoundError:
            return []
        return sorted(n for n in entries if FILE_RE.fullmatch(n))

    def read_live(self, name: str) -> str | None:
        """The active content of `name`, or None if it is not enabled."""
        try:
            return (self.enabled_dir / name).read_text(encoding="utf-8")
        except (FileNotFoundError, NotADirectoryError, UnicodeDecodeError):
            return None

    def is_current(self, name: str, content: str) -> bool:
        return self.read_live(name) == content

    def activate(self, name: str, content: str) -> None:
        replace_file(self.live_dir / name, content.encode("utf-8"), FILE_MODE)

    def deactivate(self, name: str) -> bool:
        path = self.live_dir / name
        if not path.exists():
            return False
        path.unlink()
        return True

    # --- staging and checking -----------------------------------------------------------
    @contextmanager
    def staged(self, candidates: Mapping[str, str]) -> Iterator[Path]:
        """A private directory holding `candidates` (in `conf.d/`), removed afterwards."""
        base = ensure_dir(self.settings.state_dir / "staging", 0o700)
        stage = base / f"{self.reload_key.replace(':', '-')}-{secrets.token_hex(6)}"
        stage.mkdir(mode=0o700)
        try:
            include_dir = stage / "conf.d"
            include_dir.mkdir()
            for name, content in candidates.items():
                (include_dir / name).write_text(content, encoding="utf-8")
            yield stage
        finally:
            shutil.rmtree(stage, ignore_errors=True)

    def check(self, candidates: Mapping[str, str]) -> None:
        """Run the real binary on `candidates`; raise its own message if it refuses them."""
        with self.staged(candidates) as stage:
            main = self.write_check_config(stage, stage / "conf.d")
            try:
                self.runner.run(self.check_argv(main, stage), env=self.check_env(), timeout=120)
            except CommandFailed as exc:
                raise CommandFailed(
                    f"{self.reload_key} rejected the generated config: "
                    f"{_first_error(exc.output, stage) or exc.message}",
                    argv=exc.argv,
                    returncode=exc.returncode,
                    output=exc.output,
                ) from None


def _first_error(output: str, stage: Path) -> str:
    """The most telling line of a check's output, with staging paths made readable."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for marker in ("[emerg]", "ERROR:", "Bad configuration", "error", "Missing"):
        for line in lines:
            if marker in line and "test failed" not in line and "initialization failed" not in line:
                return line.replace(f"{stage}/conf.d/", "")
    return lines[0] if lines else ""


def write_if_changed(path: Path, content: str, mode: int = FILE_MODE) -> bool:
    """Replace `path` atomically unless it already holds `content`."""
    data = content.encode("utf-8")
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        ensure_dir(path.parent, 0o755)
    replace_file(path, data, mode)
    return True
