"""Settings and every system path, all derived from one root directory,
so a test or the demo can run the whole panel inside a sandbox directory.

Values come from, highest first: keyword arguments, `JOPANEL_*` environment variables,
`ROOT/etc/jopanel/jopanel.toml`, the defaults below.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from .errors import ValidationFailed

CONFIG_RELPATH = "etc/jopanel/jopanel.toml"


class Settings(BaseSettings):
    """Runtime settings. Build them with `load_settings`, never at import time."""

    model_config = SettingsConfigDict(env_prefix="JOPANEL_", extra="forbid", frozen=True)

    root: Path = Path("/")
    database_url: str | None = None
    agent_socket: Path | None = None
    secret_key_file: Path | None = None
    listen: str = "127.0.0.1:8080"
    http_port: int = Field(80, ge=1, le=65535)
    https_port: int = Field(443, ge=1, le=65535)
    # ACME directory (Let's Encrypt production by default) and, for a test CA such as
    # pebble, the CA bundle that verifies the directory's own TLS (docs/ssl.md).
    acme_directory: str = "https://acme-v02.api.letsencrypt.org/directory"
    acme_ca_bundle: Path | None = None
    acme_contact: str | None = None
    # The panel's own HTTPS port (JoPanel's nginx block) and the name its certificate is
    # for (unset: the machine's FQDN); an ACME certificate is sought when it resolves here.
    panel_port: int = Field(8083, ge=1, le=65535)
    panel_hostname: str | None = None
    # uid/gid range JoPanel allocates from; ids outside it are never ours.
    uid_min: int = Field(20000, ge=1000)
    uid_max: int = Field(59999, ge=1000)
    service_user: str = "jopanel"
    history_limit: int = Field(20, ge=2, le=1000)
    # Named failure point for tests of rollback (see jopanel.agent.flow.Flow.step).
    fault_point: str | None = None
    # For tests, in a sandbox root only: a directory searched for commands before the safe
    # PATH (the soak harness's failing `useradd` shim). Ignored on the real root.
    command_path: Path | None = None
    # Panel users allowed to talk to the agent besides root (their uid, checked by SO_PEERCRED).
    agent_allowed_uids: list[int] = []
    # Reverse proxies whose X-Forwarded-For the API believes (IPs or CIDRs); none by default.
    trusted_proxies: list[str] = []
    # Largest API request body in bytes (413 beyond); uploads under /api/user/files/upload
    # have their own limit.
    max_body_bytes: int = Field(1024 * 1024, ge=1024)
    max_upload_bytes: int = Field(256 * 1024 * 1024, ge=1024)
    # JoPanel's own MariaDB login (`[client]` user/password/socket/host/port, 0600 root);
    # default ROOT/etc/jopanel/mariadb.cnf; without the file: root over `mariadb_socket`.
    mariadb_credentials_file: Path | None = None
    # The DB server's socket: the host's, not a path under ROOT (a sandbox shares it).
    mariadb_socket: str = "/run/mysqld/mysqld.sock"
    nginx_reload: list[str] = []
    phpfpm_reload: list[str] = []
    sshd_reload: list[str] = []

    @field_validator("root")
    @classmethod
    def _absolute_root(cls, value: Path) -> Path:
        if not value.is_absolute():
            value = Path.cwd() / value
        return Path(os.path.normpath(value))

    # --- paths -----------------------------------------------------------------
    @property
    def is_sandbox(self) -> bool:
        return self.root != Path("/")

    def path(self, relative: str) -> Path:
        """A path under ROOT; refuses anything that would leave it."""
        candidate = Path(os.path.normpath(self.root / relative.lstrip("/")))
        if candidate != self.root and self.root not in candidate.parents:
            raise ValidationFailed(f"path {relative!r} leaves the system root", field="path")
        return candidate

    def prefix_args(self) -> list[str]:
        """`--prefix ROOT` for shadow-utils when ROOT is not `/`."""
        return ["--prefix", str(self.root)] if self.is_sandbox else []

    @property
    def etc_dir(self) -> Path:
        return self.path("etc/jopanel")

    @property
    def users_dir(self) -> Path:
        return self.etc_dir / "users"

    @property
    def revisions_dir(self) -> Path:
        return self.users_dir / ".revisions"

    @property
    def archive_dir(self) -> Path:
        return self.etc_dir / "archive"

    @property
    def packages_dir(self) -> Path:
        return self.etc_dir / "packages"

    @property
    def domain_claims_dir(self) -> Path:
        return self.etc_dir / "domains"

    @property
    def skel_dir(self) -> Path:
        return self.etc_dir / "skel"

    @property
    def locks_dir(self) -> Path:
        return self.path("run/jopanel/locks")

    @property
    def state_dir(self) -> Path:
        return self.path("var/lib/jopanel")

    @property
    def uid_counter(self) -> Path:
        """The next uid JoPanel may give (it only moves up: uids are never reused)."""
        return self.state_dir / "next-uid"

    @property
    def crontab_dir(self) -> Path:
        return self.path("var/spool/cron/crontabs")

    @property
    def log_dir(self) -> Path:
        return self.path("var/log/jopanel")

    @property
    def audit_journal(self) -> Path:
        """The agent's append-only record of every change (the audit table indexes it)."""
        return self.log_dir / "audit.jsonl"

    @property
    def https_enabled(self) -> bool:
        """Whether vhosts get HTTPS server blocks. Always on the real root; a sandbox only
        when its HTTPS_PORT is configured, so sandboxes sharing a host never fight over 443."""
        return not self.is_sandbox or "https_port" in self.model_fields_set

    @property
    def ssl_dir(self) -> Path:
        """Certificates and keys, one root-only directory per domain (jopanel/system/certs.py)."""
        return self.etc_dir / "ssl"

    @property
    def acme_dir(self) -> Path:
        """The server's one ACME account (key and registration), root-only."""
        return self.etc_dir / "acme"

    @property
    def acme_webroot(self) -> Path:
        """HTTP-01 tokens, served by every vhost at /.well-known/acme-challenge/ (beside the
        suspended page: var/lib/jopanel is root-only, the web server must read these)."""
        return self.path("var/www/jopanel/acme-challenge")

    @property
    def home_base(self) -> Path:
        return self.path("home")

    @property
    def socket_path(self) -> Path:
        return self.agent_socket or self.path("run/jopanel/agent.sock")

    @property
    def mariadb_credentials(self) -> Path:
        return self.mariadb_credentials_file or self.etc_dir / "mariadb.cnf"

    @property
    def secret_key_path(self) -> Path:
        return self.secret_key_file or self.etc_dir / "secret.key"

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.state_dir / 'jopanel.db'}"

    def home_of(self, username: str) -> Path:
        """The real path of a user's home (under ROOT)."""
        return self.home_base / username

    def system_home(self, username: str) -> str:
        """The home as written in passwd: relative to ROOT, as the account sees it."""
        return f"/home/{username}"


class _BoundSettings(Settings):
    """Settings whose TOML file sits under a root chosen at run time."""

    toml_file: ClassVar[Path | None] = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if cls.toml_file is not None and cls.toml_file.is_file():
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=cls.toml_file))
        return tuple(sources)


def load_settings(root: str | Path | None = None, **overrides: Any) -> Settings:
    """Settings for `root` (else JOPANEL_ROOT, else `/`), reading its jopanel.toml."""
    chosen = Path(root or os.environ.get("JOPANEL_ROOT") or "/")
    if not chosen.is_absolute():
        chosen = Path.cwd() / chosen
    toml_file = chosen / CONFIG_RELPATH
    bound = type("Settings", (_BoundSettings,), {"toml_file": toml_file})
    settings: Settings = bound(root=chosen, **overrides)
    return settings
