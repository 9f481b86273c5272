"""Request and response models of the REST API, each with an example for /api/docs.

Create, Update and Public shapes are separate models (STYLE.md §9). Values are checked
with the same validators as the agent's (jopanel.validate), turned into pydantic errors
so a 422 names the field.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .. import validate
from ..schemas.account import LimitsPatch
from ..schemas.base import checked
from ..schemas.changes import AccountChange
from ..schemas.summary import AccountView

REVISION_EXAMPLE = "sha256:" + "3f" * 32


AccountName = Annotated[str, Field(max_length=32), checked(validate.username, "username")]
PanelName = Annotated[str, Field(max_length=32), checked(validate.panel_name, "username")]
PackageName = Annotated[str, Field(max_length=32), checked(validate.package_name, "package")]
DomainName = Annotated[str, Field(max_length=253), checked(validate.domain, "domain")]
EmailAddress = Annotated[str, Field(max_length=254), checked(validate.email, "contact_email")]
Password = Annotated[str, Field(min_length=8, max_length=256, pattern=r"^[^\x00\n\r]+$")]
LimitValue = Annotated[int, Field(ge=0, le=2**31 - 1)]
Status = Literal["active", "suspended"]
Role = Literal["admin", "reseller", "user"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _example(example: dict[str, Any]) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": [example]})


def _in_example(example: dict[str, Any]) -> ConfigDict:
    return ConfigDict(extra="forbid", json_schema_extra={"examples": [example]})


# --- errors ---------------------------------------------------------------------------
class ErrorOut(BaseModel):
    """Every error: a readable message, a stable code, and the field when one is at fault."""

    model_config = _example(
        {
            "detail": "username: must match ^[a-z][a-z0-9]{2,15}$",
            "code": "invalid",
            "field": "username",
        }
    )

    detail: str
    code: str
    field: str | None = None


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    descriptions = {
        401: "Not logged in, or the session ended",
        403: "Logged in, but this role may not do it",
        404: "No such account or package (or not one this login may see)",
        409: "Duplicate username or domain, or a package still in use",
        412: "If-Match names a revision that is no longer current",
        413: "The request body is over the API's size limit (`max_body_bytes`)",
        422: "Invalid input; `field` names the culprit",
        428: "If-Match is required",
        429: "Too many failed logins; see Retry-After",
        503: "The agent is unreachable",
    }
    return {s: {"model": ErrorOut, "description": descriptions[s]} for s in statuses}


# --- auth -----------------------------------------------------------------------------
class LoginIn(_In):
    model_config = _in_example({"username": "admin", "password": "correct horse battery"})

    username: Annotated[str, Field(min_length=1, max_length=64)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class RefreshIn(_In):
    model_config = _in_example({"refresh_token": "q2V1c2Vk..."})

    refresh_token: Annotated[str, Field(min_length=1, max_length=256)]


class TokenOut(BaseModel):
    model_config = _example(
        {
            "access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9...",
            "refresh_token": "q2V1c2Vk...",
            "token_type": "bearer",
            "expires_in": 900,
            "username": "joko",
            "role": "user",
            "impersonator": "admin",
        }
    )

    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    username: str
    role: Role
    impersonator: str | None = None


class MeOut(BaseModel):
    model_config = _example({"username": "joko", "role": "user", "impersonator": "admin"})

    username: str
    role: Role
    impersonator: str | None = None


# --- accounts -------------------------------------------------------------------------
class UserSummary(BaseModel):
    """One row of the account list (answered from the index)."""

    model_config = _example(
        {
            "username": "joko",
            "primary_domain": "joko.example.com",
            "contact_email": "joko@example.com",
            "package": "default",
            "status": "active",
            "owner": "admin",
        }
    )

    username: str
    primary_domain: str
    contact_email: str
    package: str
    status: str
    owner: str


class UserPage(BaseModel):
    model_config = _example(
        {
            "items": [
                {
                    "username": "joko",
                    "primary_domain": "joko.example.com",
                    "contact_email": "joko@example.com",
                    "package": "default",
                    "status": "active",
                    "owner": "admin",
                }
            ],
            "total": 1,
            "page": 1,
            "per_page": 50,
        }
    )

    items: list[UserSummary]
    total: int
    page: int
    per_page: int


class UserCreate(_In):
    """A new hosting account; it logs in to the panel (and SFTP) with `password`."""

    model_config = _in_example(
        {
            "username": "joko",
            "password": "correct horse battery",
            "contact_email": "joko@example.com",
            "primary_domain": "joko.example.com",
            "package": "default",
        }
    )

    username: AccountName
    password: Password
    contact_email: EmailAddress
    primary_domain: DomainName
    package: PackageName | None = None
    owner: Annotated[PanelName | None, Field(description="admin only: the reseller to own it")] = (
        None
    )


_DETAIL_EXAMPLE: dict[str, Any] = {
    "account": {
        "schema_version": 1,
        "username": "joko",
        "uid": 20001,
        "gid": 20001,
        "primary_domain": "joko.example.com",
        "home_dir": "/home/joko",
        "shell": "/bin/bash",
        "status": "active",
        "created_at": "2026-01-01T10:00:00+00:00",
        "updated_at": "2026-01-01T10:00:00+00:00",
        "package": "default",
        "contact_email": "joko@example.com",
        "owner": "admin",
        "last_login_ip": None,
    },
    "limits": {"schema_version": 1, "disk_quota_mb": 1024, "max_databases": 1},
    "domains": {
        "schema_version": 1,
        "primary": "joko.example.com",
        "addon_domains": [],
        "subdomains": [],
        "alias_domains": [],
    },
    "services": {
        "schema_version": 1,
        "web_server": "nginx",
        "php": {"enabled": True, "version": "8.2", "fpm_pool": "jopanel-joko", "open_basedir": []},
    },
    "ssh": {"schema_version": 1, "enabled": True, "mode": "sftp_chroot", "authorized_keys": []},
    "meta": {
        "schema_version": 1,
        "notes": "",
        "last_applied_revision": REVISION_EXAMPLE,
        "audit": {
            "last_action": "create",
            "last_actor": "admin",
            "last_time": "2026-01-01T10:00:00+00:00",
        },
    },
    "revision": REVISION_EXAMPLE,
}


class AccountDetail(AccountView):
    """An account's six files as read from disk now; `revision` is also the ETag."""

    model_config = _example(_DETAIL_EXAMPLE)


class UserUpdate(AccountChange):
    """A partial change: only the fields given are changed (send If-Match: the ETag)."""

    model_config = _in_example(
        {"account": {"contact_email": "new@example.com"}, "limits": {"max_databases": 5}}
    )

    force: bool | None = Field(
        None, description="apply limits (or a package) below current usage anyway"
    )


class PasswordIn(_In):
    model_config = _in_example({"password": "a new long password"})

    password: Password


class Meter(BaseModel):
    """One usage bar: what is used against its limit (0: unlimited)."""

    name: str
    label: str
    unit: str
    used: float | int
    limit: int
    percent: float | None
    over: bool


class DiskSource(BaseModel):
    source: str = Field(description="quota (the kernel's count) or walk (a measured walk)")
    measured_at: float = Field(description="unix time of the measurement")
    age_s: float
    complete: bool = Field(description="false when the walk ran out of time")


class BandwidthOut(BaseModel):
    month: str
    bytes: int
    by_domain: dict[str, int]
    # Over bandwidth_quota_mb this month, and what the package says happens then:
    # `warn` keeps serving, `block` answers 509 (`blocked` while it does).
    over: bool = False
    action: Literal["warn", "block"] = "warn"
    blocked: bool = False
    warning: str | None = None


class StatsOut(BaseModel):
    """limits.json next to what the system measures: disk (quota, or a walk cached with
    its age), bandwidth this month from the access logs, and the counts limits cap."""

    model_config = _example(
        {
            "username": "joko",
            "status": "active",
            "limits": {"disk_quota_mb": 1024, "max_addon_domains": 1},
            "usage": {
                "disk_used_mb": 0.02,
                "files": 4,
                "bandwidth_used_mb": 1.5,
                "addon_domains": 0,
                "subdomains": 0,
                "alias_domains": 0,
                "databases": 0,
                "db_users": 0,
                "cron_jobs": 0,
            },
            "meters": [
                {
                    "name": "disk_used_mb", "label": "Disk", "unit": "MB", "used": 0.02,
                    "limit": 1024, "percent": 0.0, "over": False,
                }
            ],
            "disk": {"source": "walk", "measured_at": 1790000000.0, "age_s": 42.0,
                     "complete": True},
            "bandwidth": {"month": "2026-11", "bytes": 1572864,
                          "by_domain": {"joko.example.com": 1572864}},
        }
    )  # fmt: skip

    username: str
    status: str
    limits: dict[str, int]
    usage: dict[str, float | int]
    meters: list[Meter] = []
    disk: DiskSource | None = None
    bandwidth: BandwidthOut | None = None


# --- packages -------------------------------------------------------------------------
class PackageOut(BaseModel):
    model_config = _example(
        {
            "name": "default",
            "description": "Default hosting package",
            "disk_quota_mb": 1024,
            "max_databases": 1,
        }
    )

    name: str
    description: str = ""
    disk_quota_mb: int
    bandwidth_quota_mb: int
    max_addon_domains: int
    max_subdomains: int
    max_alias_domains: int
    max_databases: int
    max_db_users: int
    max_ftp_accounts: int
    max_cron_jobs: int
    cpu_limit_percent: int
    memory_limit_mb: int
    io_limit_mb_s: int
    bandwidth_over_action: Literal["warn", "block"] = "warn"
    # Answers of an update only: the accounts that got the new limits, and what a forced
    # update set below usage.
    accounts_updated: list[str] = []
    forced: list[str] = []


class PackageFields(LimitsPatch):
    description: Annotated[str | None, Field(max_length=500)] = None


class PackageCreate(PackageFields):
    """A new plan; limits not given take the defaults (0 means unlimited)."""

    model_config = _in_example(
        {"name": "gold", "description": "Gold plan", "disk_quota_mb": 10240, "max_databases": 10}
    )

    name: PackageName


class PackageUpdate(PackageFields):
    """Only the fields given are changed. Every account on the package gets the new
    limits (a revision each), except fields set differently for that account."""

    model_config = _in_example({"disk_quota_mb": 20480})

    force: bool | None = Field(
        None, description="update accounts even where a new limit is below their usage"
    )


# --- audit ----------------------------------------------------------------------------
class AuditOut(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 42,
                    "at": "2026-01-01T10:00:00+00:00",
                    "actor": "admin as joko",
                    "action": "users.update",
                    "target": "joko",
                    "ip": "203.0.113.7",
                    "result": "ok",
                    "detail": "200",
                }
            ]
        },
    )

    id: int
    at: datetime
    actor: str
    action: str
    target: str | None
    ip: str | None
    result: str
    detail: str | None

    @field_validator("at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        # SQLite and MariaDB hand back naive datetimes; every stored time is UTC.
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class AuditPage(BaseModel):
    model_config = _example({"items": [], "total": 0, "page": 1, "per_page": 50})

    items: list[AuditOut]
    total: int
    page: int
    per_page: int


# --- system ---------------------------------------------------------------------------
class LoadOut(BaseModel):
    model_config = _example(
        {
            "load_1": 0.12,
            "load_5": 0.2,
            "load_15": 0.18,
            "cpu_count": 2,
            "memory_total_mb": 3934,
            "memory_available_mb": 2811,
            "uptime_seconds": 86400.5,
        }
    )

    load_1: float
    load_5: float
    load_15: float
    cpu_count: int
    memory_total_mb: int
    memory_available_mb: int
    uptime_seconds: float


class ServiceOut(BaseModel):
    model_config = _example({"name": "nginx", "status": "running", "detail": "pid 812"})

    name: str
    status: Literal["running", "stopped", "unknown"]
    detail: str = ""


class ServicesOut(BaseModel):
    model_config = _example({"items": [{"name": "agent", "status": "running", "detail": "ok"}]})

    items: list[ServiceOut]


class ReindexOut(BaseModel):
    model_config = _example({"indexed": 10000, "duration_ms": 2150.4})

    indexed: int
    duration_ms: float


class HealthOut(BaseModel):
    model_config = _example({"status": "ok", "agent": "ok", "database": "ok"})

    status: Literal["ok", "degraded"]
    agent: Literal["ok", "down"]
    database: Literal["ok", "down"]
