"""install, upgrade and uninstall, step by step; each step checks before it changes."""

from __future__ import annotations

import os
import secrets
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import make_url

from .. import validate
from ..accounts.staff import StaffLogins
from ..agent.client import agent_for_cli
from ..db.session import engine_for, make_sessionmaker
from ..errors import Forbidden, JoPanelError
from ..settings import CONFIG_RELPATH, Settings, load_settings
from ..system.runner import Runner
from ..system.sandbox import init_root
from ..system.units import (
    AGENT_UNIT,
    API_UNIT,
    RENEW_SERVICE,
    RENEW_TIMER,
    UNITS,
    agent_unit,
    api_unit,
    renew_service,
    renew_timer,
    unit_dir,
)
from .config import render_config, set_key, sqlite_url
from .database import check_url, prepare_database
from .files import fix_owner, put_dir, put_file
from .packages import install_packages, missing_packages
from .panel_acme import ensure_panel_acme, panel_hostname, resolves_here
from .panel_nginx import ensure_panel_site, remove_panel_site
from .panel_tls import ensure_panel_cert
from .service_user import API_HOME, ServiceIds, ensure_service_user

FIRST_ADMIN = "admin"


@dataclass
class Report:
    done: list[str] = field(default_factory=list)
    admin_password: str | None = None  # shown once, only when install created the admin


def jopanel_binary() -> Path:
    """The `jopanel` next to this interpreter (the venv's), else the one on PATH."""
    beside = Path(sys.executable).with_name("jopanel")
    if beside.exists():
        return beside
    found = shutil.which("jopanel")
    if found is None:
        raise JoPanelError("cannot find the jopanel executable for the systemd units")
    return Path(found)


def api_state_dir(settings: Settings) -> Path:
    """The API's own state (SQLite database): the only directory it may write. Beside,
    not inside, the agent's root-only state directory."""
    return settings.path(API_HOME)


def require_root() -> None:
    """Owners, units and system accounts: only root can set them up (a sandbox too)."""
    if os.geteuid() != 0:
        raise Forbidden("run this as root (sudo)")


def uses_systemd(settings: Settings, systemd: bool) -> bool:
    """Units are enabled and started only on the real root (a sandbox never touches them)."""
    return systemd and not settings.is_sandbox


def _systemctl(runner: Runner, *args: str) -> None:
    runner.run(["systemctl", *args], timeout=120)


def _reload_nginx(settings: Settings, runner: Runner, systemd: bool) -> None:
    if settings.nginx_reload:
        runner.run(settings.nginx_reload)
    elif uses_systemd(settings, systemd):
        _systemctl(runner, "reload-or-restart", "nginx")


def ensure_packages(settings: Settings, runner: Runner, wanted: bool | None) -> list[str]:
    """Debian packages on the real root; in a sandbox only when asked (--packages)."""
    if wanted is False or (wanted is None and settings.is_sandbox):
        return []
    missing = missing_packages(runner)
    if not missing:
        return []
    install_packages(runner, missing)
    return [f"installed {' '.join(missing)}"]


def ensure_config(
    settings: Settings, ids: ServiceIds, database_url: str | None, hostname: str | None
) -> list[str]:
    """jopanel.toml: written once with every key documented; --database-url and
    --hostname update it."""
    path = settings.path(CONFIG_RELPATH)
    done: list[str] = []
    if not path.exists():
        active: dict[str, object] = {
            "database_url": database_url or sqlite_url(api_state_dir(settings) / "jopanel.db"),
            "trusted_proxies": ["127.0.0.1"],  # the panel's nginx block
        }
        if hostname is not None:
            active["panel_hostname"] = hostname
        put_file(path, render_config(settings, active).encode(), 0o640, 0, ids.gid)
        done.append(f"wrote {path}")
    else:
        text = path.read_text(encoding="utf-8")
        current = load_settings(settings.root)
        for key, wanted, now in (
            ("database_url", database_url, current.db_url),
            ("panel_hostname", hostname, current.panel_hostname),
        ):
            if wanted is not None and wanted != now:
                text = set_key(text, key, wanted)
                done.append(f"set {key} in {path}")
        if put_file(path, text.encode(), 0o640, 0, ids.gid) and not done:
            done.append(f"fixed the owner and mode of {path}")
    return done


def _sqlite_files(settings: Settings) -> list[Path]:
    url = make_url(settings.db_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return []
    db = Path(url.database)
    return [p for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm")) if p.exists()]


def own_database(settings: Settings, ids: ServiceIds) -> list[str]:
    """SQLite files belong to the service user (root's later writes keep that owner)."""
    done = []
    for path in _sqlite_files(settings):
        if fix_owner(path, 0o600, ids.uid, ids.gid):
            done.append(f"gave {path} to {ids.name}")
    return done


def ensure_first_admin(settings: Settings, report: Report) -> None:
    """An `admin` login with a generated password, only when no admin exists at all."""
    engine = engine_for(settings)
    try:
        staff = StaffLogins(make_sessionmaker(engine), agent_for_cli(settings))
        if any(login.role == "admin" for login in staff.list()):
            return
        password = secrets.token_urlsafe(15)
        staff.create(FIRST_ADMIN, password, "admin")
        report.admin_password = password
        report.done.append(f"created the panel admin {FIRST_ADMIN}")
    finally:
        engine.dispose()


def write_units(settings: Settings) -> list[str]:
    binary = jopanel_binary()
    units = {
        AGENT_UNIT: agent_unit(settings, binary),
        API_UNIT: api_unit(settings, binary, api_state_dir(settings)),
        RENEW_SERVICE: renew_service(settings, binary),
        RENEW_TIMER: renew_timer(),
    }
    done = []
    for name, content in units.items():
        path = unit_dir(settings) / name
        if put_file(path, content.encode(), 0o644):
            done.append(f"wrote {path}")
    return done


def install(
    root: Path | None,
    *,
    systemd: bool = True,
    packages: bool | None = None,
    database_url: str | None = None,
    hostname: str | None = None,
    acme: bool | None = None,
    runner: Runner | None = None,
) -> Report:
    """`acme`: True seeks an ACME certificate for the panel's hostname, False never, None
    when the hostname resolves to this machine (never in a sandbox root)."""
    require_root()
    runner = runner or Runner()
    report = Report()
    settings = load_settings(root)
    if database_url is not None:
        check_url(database_url)
    if hostname is not None:
        hostname = validate.domain(hostname, field="hostname")
    report.done += ensure_packages(settings, runner, packages)
    report.done += init_root(settings)
    ids, done = ensure_service_user(settings, runner)
    report.done += done
    if put_dir(api_state_dir(settings), 0o700, ids.uid, ids.gid):
        report.done.append(f"prepared {api_state_dir(settings)}")
    report.done += ensure_config(settings, ids, database_url, hostname)
    settings = load_settings(root)  # now with the file's database_url and proxies
    if fix_owner(settings.secret_key_path, 0o600, ids.uid, ids.gid):
        report.done.append(f"gave the secret key {settings.secret_key_path} to {ids.name}")
    report.done += prepare_database(settings)
    ensure_first_admin(settings, report)
    report.done += own_database(settings, ids)
    name = panel_hostname(settings)
    report.done += ensure_panel_cert(settings, name)
    site_done = ensure_panel_site(settings, runner, name)
    report.done += site_done
    report.done += write_units(settings)
    if uses_systemd(settings, systemd):
        _systemctl(runner, "daemon-reload")
        _systemctl(runner, "enable", "--now", *UNITS)
    if site_done:
        _reload_nginx(settings, runner, systemd)
    report.done += _panel_acme(settings, runner, systemd, name, acme)
    return report


def _panel_acme(
    settings: Settings, runner: Runner, systemd: bool, name: str | None, acme: bool | None
) -> list[str]:
    if name is None or acme is False:
        return []
    if acme is None and (settings.is_sandbox or not resolves_here(name)):
        return []
    return ensure_panel_acme(settings, name, lambda: _reload_nginx(settings, runner, systemd))


def upgrade(root: Path | None, *, systemd: bool = True, runner: Runner | None = None) -> Report:
    """Migrate the database, rewrite units and the panel block, restart, regenerate configs."""
    require_root()
    runner = runner or Runner()
    report = Report()
    settings = load_settings(root)
    report.done += init_root(settings)
    report.done += prepare_database(settings)
    ids, _ = ensure_service_user(settings, runner)
    report.done += own_database(settings, ids)
    name = panel_hostname(settings)
    site_done = ensure_panel_site(settings, runner, name)
    report.done += site_done
    report.done += write_units(settings)
    if uses_systemd(settings, systemd):
        _systemctl(runner, "daemon-reload")
        _systemctl(runner, "restart", *UNITS)
    if site_done:
        _reload_nginx(settings, runner, systemd)
    report.done += _panel_acme(settings, runner, systemd, name, None)  # renews when due
    result = agent_for_cli(settings).execute("rebuild", {"username": None}, actor="upgrade")
    failed = result.data.get("failed") or {}
    report.done.append(f"regenerated the configs of {result.data.get('accounts', 0)} accounts")
    if failed:
        names = ", ".join(sorted(failed))
        raise JoPanelError(f"upgrade: rebuild failed for {names}; see `jopanel doctor`")
    return report


def uninstall(root: Path | None, *, systemd: bool = True, runner: Runner | None = None) -> Report:
    """Stop and remove the units and the panel's nginx block; accounts and files stay."""
    require_root()
    runner = runner or Runner()
    report = Report()
    settings = load_settings(root)
    if uses_systemd(settings, systemd):
        for name in UNITS:
            if (unit_dir(settings) / name).exists():
                runner.run(["systemctl", "disable", "--now", name], check=False, timeout=120)
                report.done.append(f"stopped and disabled {name}")
    for name in (*UNITS, RENEW_SERVICE):
        path = unit_dir(settings) / name
        if path.exists():
            path.unlink()
            report.done.append(f"removed {path}")
    if uses_systemd(settings, systemd):
        _systemctl(runner, "daemon-reload")
    site_done = remove_panel_site(settings)
    report.done += site_done
    if site_done:
        _reload_nginx(settings, runner, systemd)
    return report
