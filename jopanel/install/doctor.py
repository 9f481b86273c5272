"""`jopanel doctor`: every check a row (ok / warn / fail) with what to do about it."""

from __future__ import annotations

import datetime as dt
import shutil
import stat
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from ..agent.client import Agent
from ..agent.server import service_gid, socket_in_use
from ..errors import JoPanelError
from ..settings import CONFIG_RELPATH, Settings
from ..system.runner import Runner
from ..system.units import UNITS, unit_dir
from .database import current_revision, head_revision
from .packages import missing_packages
from .panel_tls import not_after, panel_cert
from .service_user import service_ids

BINARIES = ("useradd", "usermod", "userdel", "groupadd", "nginx", "sshd", "crontab")
DISK_WARN, DISK_FAIL = 0.10, 0.03  # free fraction
CERT_WARN_DAYS = 14


@dataclass
class Check:
    check: str
    status: str  # ok | warn | fail
    detail: str
    fix: str = ""


def _binaries(settings: Settings, runner: Runner) -> list[Check]:
    rows = []
    for name in BINARIES:
        try:
            rows.append(Check(f"binary {name}", "ok", runner.which(name)))
        except JoPanelError:
            rows.append(Check(f"binary {name}", "fail", "not installed", "jopanel install"))
    if not settings.is_sandbox:
        missing = missing_packages(runner)
        rows.append(
            Check("packages", "fail", "missing: " + " ".join(missing), "jopanel install")
            if missing
            else Check("packages", "ok", "all installed")
        )
    return rows


def _installed(settings: Settings) -> list[Check]:
    rows = []
    ids = service_ids(settings)
    if ids is None:
        rows.append(Check(f"user {settings.service_user}", "warn", "missing", "jopanel install"))
    else:
        rows.append(Check(f"user {ids.name}", "ok", f"uid {ids.uid} gid {ids.gid}"))
    config = settings.path(CONFIG_RELPATH)
    rows.append(
        Check("settings", "ok", str(config))
        if config.is_file()
        else Check("settings", "warn", f"{config} missing (defaults used)", "jopanel install")
    )
    key = settings.secret_key_path
    try:
        st = key.stat()
        owner_ok = st.st_uid in (0, ids.uid if ids else 0)
        loose = stat.S_IMODE(st.st_mode) & 0o077
        rows.append(
            Check("secret key", "fail", f"{key} is readable by others", f"chmod 600 {key}")
            if loose or not owner_ok
            else Check("secret key", "ok", f"{key} 0600")
        )
    except FileNotFoundError:
        rows.append(Check("secret key", "fail", f"{key} missing", "jopanel install"))
    return rows


def _units(settings: Settings, runner: Runner) -> list[Check]:
    rows = []
    for name in UNITS:
        path = unit_dir(settings) / name
        if not path.is_file():
            rows.append(Check(f"unit {name}", "warn", "not installed", "jopanel install"))
            continue
        if settings.is_sandbox or shutil.which("systemctl") is None:
            rows.append(Check(f"unit {name}", "ok", f"{path} (not started here)"))
            continue
        state = runner.run(["systemctl", "is-active", name], check=False).stdout.strip()
        rows.append(
            Check(f"unit {name}", "ok", state)
            if state == "active"
            else Check(f"unit {name}", "fail", state or "unknown", f"systemctl restart {name}")
        )
    return rows


def _socket(settings: Settings) -> list[Check]:
    path = settings.socket_path
    if not socket_in_use(path):
        return [
            Check(
                "agent socket", "warn", f"no agent on {path} (the CLI runs ops in-process)",
                "systemctl start jopanel-agent",
            )
        ]  # fmt: skip
    st = path.stat()
    gid = service_gid(settings)
    mode = stat.S_IMODE(st.st_mode)
    if mode != 0o660 or st.st_uid != 0 or (gid is not None and st.st_gid != gid):
        return [
            Check(
                "agent socket", "fail", f"{path} is {mode:o} {st.st_uid}:{st.st_gid}",
                "systemctl restart jopanel-agent (it sets 0660 root:jopanel)",
            )
        ]  # fmt: skip
    return [Check("agent socket", "ok", f"{path} 0660 root:{gid if gid is not None else 0}")]


def _database(settings: Settings) -> list[Check]:
    try:
        current = current_revision(settings.db_url)
    except Exception as exc:  # noqa: BLE001 - doctor reports, never stops
        detail = " ".join(str(exc).split())[:200]
        return [Check("database", "fail", f"unreachable: {detail}", "check database_url")]
    head = head_revision()
    if current != head:
        return [Check("database", "fail", f"at {current}, code wants {head}", "jopanel upgrade")]
    return [Check("database", "ok", f"reachable, migrated ({head})")]


def _configs(agent: Agent) -> list[Check]:
    rows = []
    for row in agent.execute("check_configs", {}).data:
        name = f"config {row['family']}"
        if row["ok"]:
            rows.append(Check(name, "ok", f"{row['files']} files valid"))
        else:
            rows.append(Check(name, "fail", str(row.get("error")), "jopanel rebuild"))
    return rows


def _disk(settings: Settings) -> list[Check]:
    rows = []
    seen: set[int] = set()
    for path in (settings.root, settings.home_base, settings.state_dir):
        try:
            device = path.stat().st_dev
        except FileNotFoundError:
            continue
        if device in seen:
            continue
        seen.add(device)
        usage = shutil.disk_usage(path)
        free = usage.free / usage.total if usage.total else 1.0
        detail = f"{path}: {usage.free // 2**20} MiB free ({free:.0%})"
        status = "fail" if free < DISK_FAIL else "warn" if free < DISK_WARN else "ok"
        rows.append(Check("disk", status, detail, "" if status == "ok" else "free space"))
    return rows


def _certificates(settings: Settings) -> list[Check]:
    """The panel's certificate and every domain's current one (ROOT/etc/jopanel/ssl)."""
    found: list[tuple[str, Path]] = []
    cert, _key = panel_cert(settings)
    if cert.is_file():
        found.append(("panel", cert))
    ssl_dir = settings.etc_dir / "ssl"
    if ssl_dir.is_dir():
        for chain in sorted(ssl_dir.glob("*/current/fullchain.pem")):
            found.append((chain.parent.parent.name, chain))
    now = dt.datetime.now(dt.UTC)
    rows = []
    for name, path in found:
        try:
            days = (not_after(path) - now).days
        except (OSError, ValueError) as exc:
            rows.append(Check(f"certificate {name}", "fail", f"unreadable: {exc}", "renew it"))
            continue
        status = "fail" if days < 0 else "warn" if days < CERT_WARN_DAYS else "ok"
        detail = f"expires in {days} days" if days >= 0 else f"expired {-days} days ago"
        rows.append(
            Check(f"certificate {name}", status, detail, "" if status == "ok" else "renew it")
        )
    return rows


def _drift(agent: Agent) -> list[Check]:
    reports = agent.execute("reconcile", {}, dry_run=True).data
    rows = []
    drift = sum(len(r["changes"]) for r in reports)
    for report in reports:
        if report["error"]:
            rows.append(
                Check(f"account {report['username']}", "fail", report["error"],
                      f"jopanel user history {report['username']}")
            )  # fmt: skip
    rows.append(
        Check("drift", "warn", f"{drift} items in {len(reports)} accounts", "jopanel reconcile")
        if drift
        else Check("drift", "ok", f"none in {len(reports)} accounts")
    )
    return rows


def run_checks(settings: Settings, agent: Agent, runner: Runner | None = None) -> list[Check]:
    """Every check; one that crashes is a failed row, never the end of the report."""
    runner = runner or Runner()
    rows: list[Check] = [
        Check("root", "ok" if settings.users_dir.is_dir() else "fail", str(settings.root))
    ]
    steps: list[tuple[str, Callable[[], list[Check]]]] = [
        ("binaries", lambda: _binaries(settings, runner)),
        ("install", lambda: _installed(settings)),
        ("units", lambda: _units(settings, runner)),
        ("agent socket", lambda: _socket(settings)),
        ("database", lambda: _database(settings)),
        ("configs", lambda: _configs(agent)),
        ("disk", lambda: _disk(settings)),
        ("certificates", lambda: _certificates(settings)),
        ("drift", lambda: _drift(agent)),
    ]
    for name, step in steps:
        try:
            rows += step()
        except Exception as exc:  # noqa: BLE001 - doctor reports, never stops
            rows.append(Check(name, "fail", f"check failed: {exc}", ""))
    return rows


def as_rows(checks: list[Check]) -> list[dict[str, str]]:
    return [asdict(c) for c in checks]
