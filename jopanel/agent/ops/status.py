"""`service_status`: whether the hosting services and the agent itself run.

Read-only: each service's pid file under ROOT (where JoPanel's nginx, sshd and PHP-FPM
configs put it) is read and its pid probed with signal 0; nothing is signalled, started
or written. The PHP-FPM versions are those with a pool directory under ROOT, the same
ones the agent writes pools for (jopanel.agent.hosting.Hosting.families).
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel

from ...system.phpfpm import PhpFpm
from ..context import AgentContext, Call
from ..hosting import Hosting
from ..registry import OpResult, Payload, op

# A pid file is a number and a newline; anything longer is not one.
PID_FILE_MAX = 64


class Empty(Payload):
    pass


class ServiceState(BaseModel):
    """One service as `service_status` reports it."""

    name: str  # "agent", "nginx", "sshd", "php-fpm:8.2", "mariadb"
    running: bool
    pid: int | None = None  # the pid its pid file names (dead or alive)
    pid_file: str | None = None
    detail: str = ""


def pid_files(ctx: AgentContext) -> list[tuple[str, Path]]:
    """(service, pid file under ROOT), as the configs JoPanel generates name them."""
    settings = ctx.settings
    php = [f for f in Hosting(ctx).families() if isinstance(f, PhpFpm)]
    return [
        ("nginx", settings.path("run/nginx.pid")),  # jopanel.system.nginx main config
        ("sshd", settings.path("run/sshd.pid")),  # jopanel.system.sshd main config
        *((fpm.reload_key, fpm.pid_file()) for fpm in php),
        ("mariadb", settings.path("run/mysqld/mysqld.pid")),
    ]


def read_pid(path: Path) -> int | None:
    """The pid in `path`, or None when there is no file or no pid in it."""
    try:
        # O_NOFOLLOW and O_NONBLOCK: a symlink or a FIFO planted there is not a pid file.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        head = os.read(fd, PID_FILE_MAX + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    fields = head.split()
    if len(head) > PID_FILE_MAX or len(fields) != 1 or not fields[0].isdigit():
        return None
    pid = int(fields[0])
    return pid if pid > 0 else None  # kill(0) or kill(-1) would not probe one process


def alive(pid: int) -> bool:
    """Whether a process with this pid exists (signal 0 probes, delivers nothing)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, owned by someone we may not signal
    except OverflowError:
        return False
    return True


def service_state(name: str, pid_file: Path) -> ServiceState:
    pid = read_pid(pid_file)
    if pid is None:
        what = "no pid in" if os.path.lexists(pid_file) else "no pid file"
        return ServiceState(
            name=name, running=False, pid_file=str(pid_file), detail=f"{what} {pid_file}"
        )
    if alive(pid):
        return ServiceState(
            name=name, running=True, pid=pid, pid_file=str(pid_file), detail=f"pid {pid}"
        )
    return ServiceState(
        name=name,
        running=False,
        pid=pid,
        pid_file=str(pid_file),
        detail=f"stale pid file {pid_file} (pid {pid})",
    )


@op("service_status", Empty, target=None, reads_only=True)
def service_status(call: Call, p: Empty) -> OpResult:
    """The agent first (it answers, so it runs; in-process that is the CLI's own pid),
    then each service from its pid file."""
    ctx = call.ctx
    agent = ServiceState(
        name="agent", running=True, pid=os.getpid(), detail=str(ctx.settings.socket_path)
    )
    states = [agent, *(service_state(name, path) for name, path in pid_files(ctx))]
    return OpResult(changed=False, data=[s.model_dump(mode="json") for s in states])
