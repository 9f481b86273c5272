"""account.json, limits.json, and packages (the limits templates)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, IPvAnyAddress

from .base import AwareDatetime, ConfigModel, Domain, Email, Limit, PackageName, PanelName, Username

# Login shells an account may be given; anything else is refused at load time.
ALLOWED_SHELLS = ("/bin/bash", "/bin/sh", "/usr/bin/bash", "/usr/sbin/nologin", "/bin/false")
NOLOGIN_SHELL = "/usr/sbin/nologin"

Shell = Literal["/bin/bash", "/bin/sh", "/usr/bin/bash", "/usr/sbin/nologin", "/bin/false"]
Status = Literal["active", "suspended"]
# What an account over its monthly bandwidth gets: `warn` keeps serving (the panel shows
# it), `block` answers 509 Bandwidth Limit Exceeded (cPanel's convention) until the month
# ends or the quota is raised.
BandwidthAction = Literal["warn", "block"]


class Account(ConfigModel):
    """Identity of a hosting account (account.json)."""

    username: Username
    uid: int = Field(ge=1000, le=2**31 - 2)
    gid: int = Field(ge=1000, le=2**31 - 2)
    primary_domain: Domain
    home_dir: str = Field(pattern=r"^/home/[a-z][a-z0-9]{2,15}$")
    shell: Shell = "/bin/bash"
    status: Status = "active"
    created_at: AwareDatetime
    updated_at: AwareDatetime
    package: PackageName = "default"
    contact_email: Email
    owner: PanelName = "admin"
    # One type rather than a union, so an error is located at `last_login_ip` itself.
    last_login_ip: IPvAnyAddress | None = None


class Limits(ConfigModel):
    """Quotas and counts (limits.json); 0 means unlimited."""

    disk_quota_mb: Limit = 1024
    bandwidth_quota_mb: Limit = 10240
    max_addon_domains: Limit = 1
    max_subdomains: Limit = 5
    max_alias_domains: Limit = 1
    max_databases: Limit = 1
    max_db_users: Limit = 1
    max_ftp_accounts: Limit = 1
    max_cron_jobs: Limit = 5
    cpu_limit_percent: Limit = 100
    memory_limit_mb: Limit = 1024
    io_limit_mb_s: Limit = 0
    bandwidth_over_action: BandwidthAction = "warn"


# The numeric limits (0 = unlimited); `POLICY_FIELDS` are the others a package carries.
POLICY_FIELDS = ("bandwidth_over_action",)
LIMIT_FIELDS = tuple(
    name for name in Limits.model_fields if name != "schema_version" and name not in POLICY_FIELDS
)


class LimitsPatch(BaseModel):
    """Some limits to change (an API or CLI request); the ones left out keep their value."""

    model_config = ConfigDict(extra="forbid")

    disk_quota_mb: Limit | None = None
    bandwidth_quota_mb: Limit | None = None
    max_addon_domains: Limit | None = None
    max_subdomains: Limit | None = None
    max_alias_domains: Limit | None = None
    max_databases: Limit | None = None
    max_db_users: Limit | None = None
    max_ftp_accounts: Limit | None = None
    max_cron_jobs: Limit | None = None
    cpu_limit_percent: Limit | None = None
    memory_limit_mb: Limit | None = None
    io_limit_mb_s: Limit | None = None
    bandwidth_over_action: BandwidthAction | None = None


class Package(Limits):
    """A hosting plan: a named limits template (packages/<name>.json)."""

    name: PackageName
    description: str = Field("", max_length=500)

    def limits(self) -> Limits:
        return Limits.model_validate({f: getattr(self, f) for f in LIMIT_FIELDS + POLICY_FIELDS})
