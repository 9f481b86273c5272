"""The `jopanel` system user and group the API runs as (in ROOT's passwd/group)."""

from __future__ import annotations

from dataclasses import dataclass

from ..settings import Settings
from ..system.accounts import parse_group, parse_passwd
from ..system.runner import Runner

API_HOME = "/var/lib/jopanel-api"  # its state (the SQLite database); as ROOT sees it
NOLOGIN = "/usr/sbin/nologin"


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
    prefix = settings.prefix_args()
    if name not in parse_group(settings.path("etc/group")):
        runner.run(["groupadd", *prefix, "--system", "--", name])
        done.append(f"created the system group {name}")
    if name not in parse_passwd(settings.path("etc/passwd")):
        options = ["--system", "-g", name, "-d", API_HOME, "-M", "-s", NOLOGIN]
        runner.run(["useradd", *prefix, *options, "-c", "JoPanel API", "--", name])
        done.append(f"created the system user {name}")
    ids = service_ids(settings)
    if ids is None:
        raise RuntimeError(f"{name} is missing from {settings.path('etc/passwd')} after useradd")
    return ids, done
