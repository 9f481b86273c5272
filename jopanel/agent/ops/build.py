"""Building a new account's config from a create request."""

from __future__ import annotations

from datetime import datetime

from ...schemas import Account, Domains, Limits, Meta, PhpSettings, Services, Ssh, UserConfig
from ...store import utcnow

UNSTAMPED = "sha256:" + "0" * 64
DEFAULT_PHP = "8.2"


def new_config(
    *,
    username: str,
    uid: int,
    gid: int,
    primary_domain: str,
    contact_email: str,
    package: str,
    limits: Limits,
    owner: str,
    shell: str,
    status: str = "active",
    created_at: datetime | None = None,
    php_version: str = DEFAULT_PHP,
) -> UserConfig:
    now = utcnow()
    home = f"/home/{username}"
    account = Account.model_validate(
        {
            "username": username,
            "uid": uid,
            "gid": gid,
            "primary_domain": primary_domain,
            "home_dir": home,
            "shell": shell,
            "status": status,
            "created_at": created_at or now,
            "updated_at": now,
            "package": package,
            "contact_email": contact_email,
            "owner": owner,
        }
    )
    services = Services(
        php=PhpSettings(version=php_version, fpm_pool=f"jopanel-{username}", open_basedir=[home])
    )
    return UserConfig(
        account=account,
        limits=limits,
        domains=Domains(primary=primary_domain),
        services=services,
        ssh=Ssh(),
        meta=Meta(last_applied_revision=UNSTAMPED),
    )
