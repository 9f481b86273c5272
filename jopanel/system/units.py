"""The systemd units of a JoPanel server: the root agent and the unprivileged API.

Paths are those the host sees: on a sandbox root the units carry `--root ROOT`, so the
same files work under `systemd-analyze verify` (and would run the sandbox's services).
"""

from __future__ import annotations

import shlex
from pathlib import Path

from ..settings import Settings

AGENT_UNIT = "jopanel-agent.service"
API_UNIT = "jopanel-api.service"
# `jopanel ssl renew` once a day (docs/ssl.md); the timer is enabled, the service it starts
# is a oneshot that is never started or restarted by itself.
RENEW_SERVICE = "jopanel-ssl-renew.service"
RENEW_TIMER = "jopanel-ssl-renew.timer"
UNITS = (AGENT_UNIT, API_UNIT, RENEW_TIMER)


def unit_dir(settings: Settings) -> Path:
    return settings.path("etc/systemd/system")


def _exec(binary: Path, settings: Settings, *args: str) -> str:
    argv = [str(binary)]
    if settings.is_sandbox:
        argv += ["--root", str(settings.root)]
    return shlex.join([*argv, *args])


def agent_unit(settings: Settings, binary: Path) -> str:
    return f"""\
# Written by `jopanel install`; `jopanel upgrade` rewrites it.
[Unit]
Description=JoPanel agent (root; the only process that changes the system)
After=network.target

[Service]
Type=simple
ExecStart={_exec(binary, settings, "agent")}
Restart=on-failure
RestartSec=2s
# Logs are JSON lines on stderr; journald keeps them.
Environment=PYTHONUNBUFFERED=1
KillSignal=SIGTERM
TimeoutStopSec=60s

[Install]
WantedBy=multi-user.target
"""


def api_unit(settings: Settings, binary: Path, state_dir: Path) -> str:
    user = settings.service_user
    return f"""\
# Written by `jopanel install`; `jopanel upgrade` rewrites it.
[Unit]
Description=JoPanel API and web UI (unprivileged; reaches the system through the agent)
After=network.target {AGENT_UNIT}
Wants={AGENT_UNIT}

[Service]
Type=simple
User={user}
Group={user}
ExecStart={_exec(binary, settings, "serve")}
Restart=on-failure
RestartSec=2s
Environment=PYTHONUNBUFFERED=1
UMask=0077
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictSUIDSGID=yes
RestrictNamespaces=yes
LockPersonality=yes
CapabilityBoundingSet=
AmbientCapabilities=
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
# Its own state only (the SQLite database); the agent's socket is reached through the
# {user} group (connecting needs no write access to the file system).
ReadWritePaths={state_dir}

[Install]
WantedBy=multi-user.target
"""


def renew_service(settings: Settings, binary: Path) -> str:
    return f"""\
# Written by `jopanel install`; `jopanel upgrade` rewrites it. Started by {RENEW_TIMER}.
[Unit]
Description=JoPanel: renew ACME certificates that expire within 30 days
After=network-online.target {AGENT_UNIT}
Wants=network-online.target

[Service]
Type=oneshot
ExecStart={_exec(binary, settings, "ssl", "renew")}
Environment=PYTHONUNBUFFERED=1
"""


def renew_timer() -> str:
    return f"""\
# Written by `jopanel install`; `jopanel upgrade` rewrites it.
[Unit]
Description=JoPanel: daily certificate renewal

[Timer]
OnCalendar=daily
RandomizedDelaySec=1h
Persistent=true
Unit={RENEW_SERVICE}

[Install]
WantedBy=timers.target
"""
