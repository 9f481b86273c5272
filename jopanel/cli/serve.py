"""`jopanel serve` and `jopanel demo`: the API process (and, for the demo, its agent)."""

from __future__ import annotations

import grp
import logging
import os
import pwd
import secrets
import socket
import sys
import threading
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn
from sqlalchemy import select
from sqlalchemy.engine import make_url

from ..accounts.service import AccountService
from ..accounts.staff import StaffLogins
from ..agent import server as agent_server
from ..agent.client import Agent
from ..auth.sessions import Principal
from ..db.models import PanelUser
from ..db.session import init_db, make_sessionmaker, session_scope
from ..errors import Conflict, JoPanelError, ValidationFailed
from ..logs import configure_service
from ..settings import Settings
from ..system.sandbox import init_root
from .output import state_of

DEMO_ROOT = "./var/demo"
DEMO_ACCOUNT = "demo"


def parse_listen(listen: str) -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValidationFailed(f"expected host:port (got {listen!r})", field="listen")
    return host.strip("[]") or "127.0.0.1", int(port)


def ensure_port_free(host: str, port: int) -> None:
    """Refuse a port another process holds, before anything is created or printed."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    probe = socket.socket(family, socket.SOCK_STREAM)
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        probe.bind((host, port))
    except OSError as exc:
        raise Conflict(
            f"port {port} on {host} is not free ({exc.strerror}): choose another with --listen",
            field="listen",
        ) from exc
    finally:
        probe.close()


def _uvicorn(app: Any, listen: str, *, structured: bool = False) -> None:
    host, port = parse_listen(listen)
    # proxy_headers=False: X-Forwarded-For is judged by the app against trusted_proxies.
    # structured: uvicorn logs through the root logger (jopanel.logs' JSON lines).
    extra: dict[str, Any] = {"log_config": None} if structured else {}
    uvicorn.run(
        app, host=host, port=port, proxy_headers=False, log_level="info", lifespan="off", **extra
    )


def drop_privileges(settings: Settings) -> None:
    """Started as root on a production root: continue as the service user (the API never
    needs root: it reaches the system only through the agent)."""
    if os.geteuid() != 0 or settings.is_sandbox:
        return
    try:
        user = pwd.getpwnam(settings.service_user)
    except KeyError as exc:
        raise JoPanelError(f"service user {settings.service_user!r} does not exist") from exc
    if settings.db_url.startswith("sqlite:"):
        database = Path(make_url(settings.db_url).database or "")
        if database.parent == settings.state_dir:
            # Never hand the agent's root-only state (staging, uid counter) to the API.
            raise JoPanelError(
                "the SQLite database is in the agent's state directory: set database_url to "
                "a directory of its own (`jopanel install` uses /var/lib/jopanel-api)"
            )
        for path in database.parent.glob(f"{database.name}*"):
            os.chown(path, user.pw_uid, user.pw_gid)
        os.chown(database.parent, user.pw_uid, user.pw_gid)
    os.setgroups([g.gr_gid for g in grp.getgrall() if user.pw_name in g.gr_mem])
    os.setgid(user.pw_gid)
    os.setuid(user.pw_uid)


def serve(
    ctx: typer.Context,
    listen: Annotated[
        str | None, typer.Option("--listen", help="host:port (default LISTEN)")
    ] = None,
) -> None:
    """Run the REST API (unprivileged; it reaches the system only through the agent)."""
    from ..api.app import create_app

    settings = state_of(ctx).settings
    configure_service(logging.INFO)  # JSON lines on stderr, uvicorn's access log too
    app = create_app(settings)
    drop_privileges(settings)
    _uvicorn(app, listen or settings.listen, structured=True)


def _seed_demo(settings: Settings, agent: Agent) -> list[str]:
    """An admin with a fresh random password, and a sample account when there is none."""
    lines: list[str] = []
    engine = init_db(settings)
    sessions = make_sessionmaker(engine)
    principal = Principal(username="demo", role="admin", session_id="demo")
    try:
        with session_scope(sessions) as db:
            has_admin = (
                db.scalar(select(PanelUser.id).where(PanelUser.username == "admin")) is not None
            )
        if not has_admin:
            password = secrets.token_urlsafe(12)
            StaffLogins(sessions, agent).create("admin", password, "admin")
            lines.append(f"admin login: admin / {password}   (shown once; keep it)")
        else:
            lines.append("admin login: admin (password as printed when it was created)")
        accounts = AccountService(settings, agent, sessions)
        if not agent.execute("list_users", {}).data:
            password = secrets.token_urlsafe(12)
            accounts.create(
                principal, username=DEMO_ACCOUNT, password=password,
                contact_email="demo@example.com", primary_domain="demo.example.com",
            )  # fmt: skip
            lines.append(f"sample account login: {DEMO_ACCOUNT} / {password}")
        accounts.reindex("demo")
    except Conflict:
        pass
    finally:
        engine.dispose()
    return lines


def demo(
    ctx: typer.Context,
    listen: Annotated[
        str | None, typer.Option("--listen", help="host:port (default LISTEN)")
    ] = None,
) -> None:
    """Agent + API on a sandbox root (default ./var/demo) and SQLite; never touching /etc, /home."""
    from ..agent.client import SocketAgent
    from ..api.app import create_app
    from ..settings import load_settings

    state = state_of(ctx)
    settings = load_settings(Path(state.root or DEMO_ROOT).absolute())
    if not settings.is_sandbox:
        raise ValidationFailed("demo needs a sandbox root, not /", field="root")
    address = listen or settings.listen
    host, port = parse_listen(address)
    ensure_port_free(host, port)  # before init: a busy port leaves nothing behind
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    init_root(settings)
    # The agent in a thread of this process; it is bound before the thread starts.
    listener = agent_server.bind(settings)
    threading.Thread(target=agent_server.run, args=(listener,), daemon=True, name="agent").start()
    agent = SocketAgent(settings)
    lines = _seed_demo(settings, agent)
    app = create_app(settings, agent)
    sys.stdout.write(
        "\n".join(
            [
                f"Panel: http://{host}:{port}/login",
                f"JoPanel demo on the sandbox root {settings.root}",
                f"API:   http://{host}:{port}/api   docs: http://{host}:{port}/api/docs",
                *lines,
                "",
            ]
        )
    )
    sys.stdout.flush()
    _uvicorn(app, address)
