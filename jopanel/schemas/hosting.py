"""domains.json, services.json and ssh.json."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from .. import cronspec, validate
from .base import AbsPath, ConfigModel, Domain, RelPath, SshKey, checked
from .databases import Databases

PHP_VERSION_RE = r"^[5-9]\.[0-9]{1,2}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AddonDomain(_Strict):
    domain: Domain
    docroot: RelPath


class Subdomain(_Strict):
    subdomain: Annotated[str, checked(validate.subdomain_label, "subdomain")]
    parent: Domain
    docroot: RelPath

    @property
    def fqdn(self) -> str:
        return f"{self.subdomain}.{self.parent}"


class Tls(_Strict):
    """A site's certificate (domains.json `tls`, keyed by the site's domain): what was
    asked (`mode`, `redirect`, `hsts`) and what happened (the rest, written by the agent).
    The certificate and key themselves live under ROOT/etc/jopanel/ssl/<domain>/."""

    mode: Literal["acme", "custom", "off"] = "off"
    status: Literal["none", "active", "failed"] = "none"
    redirect: bool = False  # HTTP -> HTTPS (301), once a certificate is served
    hsts: bool = False
    issuer: str | None = Field(None, max_length=500)
    names: list[Domain] = []
    not_after: str | None = Field(None, max_length=40)  # ISO 8601, UTC
    serial: str | None = Field(None, pattern=r"^[0-9a-f]{1,64}$")
    last_error: str | None = Field(None, max_length=2000)
    failures: int = Field(0, ge=0)
    next_try: str | None = Field(None, max_length=40)  # ISO 8601: no ACME order before


class Domains(ConfigModel):
    """Every hostname an account serves (domains.json)."""

    primary: Domain
    addon_domains: list[AddonDomain] = []
    subdomains: list[Subdomain] = []
    alias_domains: list[Domain] = []
    # Primary/addon domains whose `www.` alias is turned off (every one has it by default).
    www_off: list[Domain] = []
    # Certificates per site (primary, addon or subdomain); aliases and www ride on their
    # site's. An entry for a name that is no longer a site is ignored (and its files go).
    tls: dict[Domain, Tls] = {}

    def site_names(self, domain: str) -> list[str] | None:
        """Every hostname the site `domain` answers on (its certificate's names), or None
        when `domain` is not a site (primary, addon or subdomain)."""
        if domain == self.primary:
            return [domain, *filter(None, [self.www_of(domain)]), *self.alias_domains]
        if domain in (a.domain for a in self.addon_domains):
            return [domain, *filter(None, [self.www_of(domain)])]
        if domain in (s.fqdn for s in self.subdomains):
            return [domain]
        return None

    def tls_of(self, domain: str) -> Tls:
        return self.tls.get(domain) or Tls()

    def all_names(self) -> list[str]:
        """Every hostname listed, primary first (the www aliases: `served_names`)."""
        names = [self.primary]
        names += [a.domain for a in self.addon_domains]
        names += [s.fqdn for s in self.subdomains]
        names += list(self.alias_domains)
        return names

    def www_of(self, domain: str) -> str | None:
        """The `www.` alias `domain` answers on, if any: only a primary or addon domain,
        not turned off, not itself a www name, not a name the account lists otherwise
        (an alias or subdomain of that name serves it already)."""
        if domain != self.primary and domain not in (a.domain for a in self.addon_domains):
            return None
        www = f"www.{domain}"
        if domain in self.www_off or domain.startswith("www.") or len(www) > 253:
            return None
        return None if www in self.all_names() else www

    def www_names(self) -> list[str]:
        names = [self.www_of(d) for d in [self.primary, *(a.domain for a in self.addon_domains)]]
        return [n for n in names if n is not None]

    def served_names(self) -> list[str]:
        """Every hostname the account answers on and claims server-wide."""
        return self.all_names() + self.www_names()

    @model_validator(mode="after")
    def _unique(self) -> Domains:
        names = self.all_names()
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"domain listed twice: {', '.join(duplicates)}")
        parents = {self.primary, *(a.domain for a in self.addon_domains)}
        for sub in self.subdomains:
            if sub.parent not in parents:
                raise ValueError(f"subdomain parent {sub.parent} is not a domain of this account")
        return self


class PhpValues(_Strict):
    """The allow-list of PHP settings an account may choose, each with its range (no
    free-form setting exists). `memory_limit_mb` is further capped by the account's
    limits.json `memory_limit_mb` when set, and upload_max_filesize <= post_max_size."""

    memory_limit_mb: int = Field(256, ge=32, le=8192)
    max_execution_time: int = Field(60, ge=1, le=600)
    upload_max_filesize_mb: int = Field(64, ge=1, le=1024)
    post_max_size_mb: int = Field(64, ge=1, le=1024)
    max_input_vars: int = Field(1000, ge=100, le=100000)
    display_errors: bool = False


class PhpSettings(_Strict):
    enabled: bool = True
    version: str = Field("8.2", pattern=PHP_VERSION_RE)
    fpm_pool: str = Field(pattern=r"^jopanel-[a-z][a-z0-9]{2,15}$")
    open_basedir: list[AbsPath] = []
    settings: PhpValues = PhpValues()


class NodeApp(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")
    script: RelPath
    port: int = Field(ge=1024, le=65535)


class NodeJs(_Strict):
    enabled: bool = False
    apps: list[NodeApp] = []


class Ftp(_Strict):
    enabled: bool = False


class CronJob(_Strict):
    """One job; the rules (ranges, no @reboot, no control characters or env lines) are
    in jopanel/cronspec.py, shared with the op payloads and the crontab writer."""

    id: str = Field(pattern=r"^[a-z0-9]{1,32}$")
    schedule: Annotated[str, AfterValidator(cronspec.check_schedule)]
    command: Annotated[str, Field(max_length=1000), AfterValidator(cronspec.check_command)]


class Cron(_Strict):
    enabled: bool = True
    jobs: list[CronJob] = []


class Services(ConfigModel):
    """What runs for the account (services.json)."""

    web_server: Literal["nginx"] = "nginx"
    php: PhpSettings
    nodejs: NodeJs = NodeJs()
    ftp: Ftp = Ftp()
    cron: Cron = Cron()
    databases: Databases = Databases()


class Ssh(ConfigModel):
    """SSH/SFTP access (ssh.json)."""

    enabled: bool = True
    mode: Literal["sftp_chroot", "shell", "disabled"] = "sftp_chroot"
    authorized_keys: list[SshKey] = Field([], max_length=100)
    force_command: Annotated[str, checked(validate.config_safe, "force_command")] | None = None
    chroot_dir: AbsPath | None = None
    allow_port_forwarding: bool = False
    allow_agent_forwarding: bool = False
    allow_x11_forwarding: bool = False
