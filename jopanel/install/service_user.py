"""The `jopanel` system user and group the API runs as (in ROOT's passwd/group)."""

from __future__ import annotations

from dataclasses import dataclass

from ..settings import Settings
from ..system.accounts import SystemAccounts, parse_group, parse_passwd
from ..system.runner import Runner

API_HOME = "/var/lib/jopanel-api"  # its state (the SQLite database); as ROOT sees it


@dataclass(frozen=True)
class ServiceIds:
    name: str
    uid: int
    gid: int


def service_ids(settings: Settings) -> ServiceIds | None:
    """The service user's ids as written in ROOT/etc/passwd, or None when it is missing."""
    entry = parse_passwd(settings.path("etc/passwd")).get(settings.service_user)
    gid = parse_group(settings.path("etc/group")).get(settings.service_user)
    if entry is None or gid is None:
        return None
    return ServiceIds(settings.service_user, entry.uid, gid)


def ensure_service_user(settings: Settings, runner: Runner) -> tuple[ServiceIds, list[str]]:
    """Create the system group and user when missing (shadow-utils with ROOT's --prefix)."""
    done: list[str] = []
    name = settings.service_user
    accounts = SystemAccounts(settings, runner)
    if name not in parse_group(settings.path("etc/group")):
        accounts.add_system_group(name)
        done.append(f"created the system group {name}")
    if name not in parse_passwd(settings.path("etc/passwd")):
        accounts.add_system_user(name, name, API_HOME, "JoPanel API")
        done.append(f"created the system user {name}")
    ids = service_ids(settings)
    if ids is None:
        raise RuntimeError(f"{name} is missing from {settings.path('etc/passwd')} after useradd")
    return ids, done
