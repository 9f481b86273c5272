"""PHP-FPM: one pool per account and PHP version, running as the account.

Files (Debian's layout, under ROOT): `etc/php/<version>/fpm/pool.d/jopanel-<user>.conf`; sockets in
`run/php/jopanel-<user>.sock`, owned by the web server user, mode 0660, so nginx can
connect and no account can. In a sandbox root the main `php-fpm.conf` is generated too
(pid and log under ROOT, a tiny idle pool so the master survives every account being
suspended). The PHP versions on offer are the host's: `/etc/php/<v>/fpm` with its
`php-fpm<v>` binary.

In a sandbox the accounts exist only in ROOT/etc/passwd, which the host's NSS cannot see;
`pool.user` must still resolve (php-fpm calls initgroups with it, so workers never keep
the master's supplementary groups). The real php-fpm is therefore run with Debian's
libnss-wrapper pointed at ROOT's passwd and group files.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from ..atomic import ensure_dir
from ..errors import ValidationFailed
from ..schemas import UserConfig
from ..schemas.hosting import PHP_VERSION_RE
from ..settings import Settings
from .nginx import WEB_GROUP, WEB_USER
from .runner import SAFE_PATH, Runner
from .staging import ConfigFamily, write_if_changed
from .templating import render

HOST_PHP_DIR = Path("/etc/php")
NSS_WRAPPER_GLOB = "/usr/lib/*/libnss_wrapper.so"


class PhpIni(BaseModel):
    """The only PHP settings a pool may carry: typed, bounded, rendered as php_admin_*.

    There is deliberately no free-form field: nothing like auto_prepend_file, and the
    pool's `user`, `group` and `listen` always come from the account, never a client.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    memory_limit_mb: int = Field(256, ge=16, le=8192)
    max_execution_time: int = Field(60, ge=1, le=3600)
    upload_max_filesize_mb: int = Field(64, ge=1, le=4096)
    post_max_size_mb: int = Field(64, ge=1, le=4096)
    max_input_vars: int = Field(1000, ge=100, le=100000)
    display_errors: bool = False
    max_children: int = Field(5, ge=1, le=200)

    @classmethod
    def of(cls, config: UserConfig) -> PhpIni:
        """The account's services.json `php.settings`, its memory limit capped by
        limits.json `memory_limit_mb` (0: no cap), so a lowered limit holds at once."""
        values = config.services.php.settings.model_dump()
        cap = config.limits.memory_limit_mb
        if cap:
            values["memory_limit_mb"] = min(values["memory_limit_mb"], max(cap, 16))
        return cls(**values)


def installed_versions() -> list[str]:
    """PHP versions with an FPM on this host (`/etc/php/*/fpm` and `php-fpm<v>`)."""
    versions = []
    for directory in sorted(HOST_PHP_DIR.glob("*/fpm")):
        version = directory.parent.name
        if re.fullmatch(PHP_VERSION_RE, version) and shutil.which(
            f"php-fpm{version}", path=SAFE_PATH
        ):
            versions.append(version)
    return versions


def nss_wrapper_env(settings: Settings) -> dict[str, str]:
    """Environment that makes ROOT's accounts resolvable for a real binary (sandbox only)."""
    if not settings.is_sandbox:
        return {}
    libraries = sorted(glob.glob(NSS_WRAPPER_GLOB))
    if not libraries:
        return {}
    return {
        "LD_PRELOAD": libraries[0],
        "NSS_WRAPPER_PASSWD": str(settings.path("etc/passwd")),
        "NSS_WRAPPER_GROUP": str(settings.path("etc/group")),
    }


class PhpFpm(ConfigFamily):
    """The pools of one PHP version."""

    def __init__(self, settings: Settings, runner: Runner, version: str) -> None:
        if not re.fullmatch(PHP_VERSION_RE, version):
            raise ValidationFailed(f"invalid PHP version {version!r}", field="php.version")
        super().__init__(settings, runner)
        self.version = version
        self.reload_key = f"php-fpm:{version}"
        self.etc = settings.path(f"etc/php/{version}/fpm")
        self.main_config = self.etc / "php-fpm.conf"
        self.run_dir = settings.path("run/php")

    @property
    def live_dir(self) -> Path:
        return self.etc / "pool.d"

    @property
    def binary(self) -> str:
        return f"php-fpm{self.version}"

    def socket(self, username: str) -> Path:
        return self.run_dir / f"jopanel-{username}.sock"

    def pid_file(self) -> Path:
        return self.run_dir / f"php{self.version}-fpm.pid"

    # --- rendering ----------------------------------------------------------------------
    def open_basedir(self, config: UserConfig, tmp_dir: Path) -> list[Path]:
        paths: list[Path] = []
        for entry in config.services.php.open_basedir:
            if ":" in entry:
                # open_basedir is ':'-separated: a colon would smuggle in another path.
                raise ValidationFailed(
                    f"must not contain ':' (got {entry!r})", field="services.php.open_basedir"
                )
            paths.append(self.settings.path(entry))
        if not any(tmp_dir == p or p in tmp_dir.parents for p in paths):
            paths.append(tmp_dir)
        return paths

    def render_pool(self, config: UserConfig, ini: PhpIni | None = None) -> str:
        name = config.username
        home = self.settings.home_of(name)
        tmp_dir = home / "tmp"
        return render(
            "phpfpm_pool.conf.j2",
            username=name,
            group=name,
            socket=self.socket(name),
            web_user=WEB_USER,
            web_group=WEB_GROUP,
            open_basedir=self.open_basedir(config, tmp_dir),
            tmp_dir=tmp_dir,
            error_log=home / "logs/php-error.log",
            ini=(ini or PhpIni.of(config)).model_dump(),
        )

    def render_main(
        self, include_dir: Path, *, pid: Path, error_log: Path, purpose: str, idle_pool: Path | None
    ) -> str:
        return render(
            "phpfpm_main.conf.j2",
            purpose=purpose,
            pid=pid,
            error_log=error_log,
            include_dir=include_dir,
            idle_pool=idle_pool,
            web_user=WEB_USER,
            web_group=WEB_GROUP,
        )

    # --- base files ---------------------------------------------------------------------
    def ensure_base(self) -> None:
        super().ensure_base()
        ensure_dir(self.run_dir, 0o755)
        if self.settings.is_sandbox:
            log_dir = ensure_dir(self.settings.path("var/log"), 0o755)
            write_if_changed(
                self.main_config,
                self.render_main(
                    self.live_dir,
                    pid=self.pid_file(),
                    error_log=log_dir / f"php{self.version}-fpm.log",
                    purpose="main config of a sandbox root",
                    idle_pool=self.run_dir / f"jopanel-idle-{self.version}.sock",
                ),
            )

    # --- checking -----------------------------------------------------------------------
    def write_check_config(self, stage: Path, include_dir: Path) -> Path:
        main = stage / "php-fpm.conf"
        main.write_text(
            self.render_main(
                include_dir,
                pid=stage / "fpm.pid",
                error_log=stage / "error.log",
                purpose="check of staged files",
                idle_pool=None,
            ),
            encoding="utf-8",
        )
        return main

    def check_argv(self, main_config: Path, stage: Path) -> list[str]:
        # -n: the pools are what is tested; php.ini and its extensions play no part in
        # FPM's own config, and loading them is a quarter of the check's time.
        return [self.binary, "-n", "-t", "-y", str(main_config)]

    def check_env(self) -> dict[str, str]:
        return nss_wrapper_env(self.settings)


def pool_files(settings: Settings, username: str) -> dict[str, Path]:
    """Every version's pool file of `username` that exists: version -> path."""
    found = {}
    pattern = str(settings.path("etc/php")) + f"/*/fpm/pool.d/jopanel-{username}.conf"
    for path in glob.glob(pattern):
        version = Path(path).parents[2].name
        if re.fullmatch(PHP_VERSION_RE, version) and os.path.isfile(path):
            found[version] = Path(path)
    return found
