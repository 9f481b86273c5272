"""The server's load, memory, disk and uptime, read from /proc and statvfs (what the
unprivileged API and the admin dashboard show)."""

from __future__ import annotations

import os
import shutil
import socket
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class HostLoad:
    load_1: float
    load_5: float
    load_15: float
    cpu_count: int
    memory_total_mb: int
    memory_available_mb: int
    uptime_seconds: float

    def row(self) -> dict[str, Any]:
        return asdict(self)


def _meminfo() -> dict[str, int]:
    values: dict[str, int] = {}
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            key, _, rest = line.partition(":")
            values[key] = int(rest.split()[0]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return values


def host_load() -> HostLoad:
    load_1, load_5, load_15 = os.getloadavg()
    memory = _meminfo()
    try:
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        uptime = 0.0
    return HostLoad(
        load_1=load_1, load_5=load_5, load_15=load_15, cpu_count=os.cpu_count() or 1,
        memory_total_mb=memory.get("MemTotal", 0),
        memory_available_mb=memory.get("MemAvailable", 0), uptime_seconds=uptime,
    )  # fmt: skip


def server_address() -> tuple[str, str]:
    """This server's name and the address it resolves to (what an account points its
    domains at), from the system's own resolver; no packet is sent."""
    name = socket.getfqdn()
    try:
        infos = socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)
    except OSError:
        return name, ""
    addresses = [str(info[4][0]) for info in infos]
    public = [a for a in addresses if not a.startswith(("127.", "::1"))]
    return name, (public or addresses or [""])[0]


def disk_usage(path: Path) -> tuple[int, int]:
    """(used, total) MB of the filesystem holding `path`."""
    usage = shutil.disk_usage(path)
    return (usage.total - usage.free) // 2**20, usage.total // 2**20
