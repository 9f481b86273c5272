"""Server time of the admin account pages with N accounts, next to the JSON API's list.

    .venv/bin/python -m bench.web_bench [--accounts 10000] [--requests 200]

Both answer from the same index; the page adds the session-cookie check and rendering
the table. The server time is measured in the app (a middleware around each request), so
the client's own parsing is not counted.
"""

from __future__ import annotations

import argparse
import random
import shutil
import tempfile
import threading
import time
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table
from starlette.types import ASGIApp, Receive, Scope, Send

from bench.api_bench import PASSWORD, build_accounts, percentiles, serving
from jopanel.agent import server
from jopanel.agent.client import SocketAgent
from jopanel.api.app import create_app
from jopanel.settings import load_settings
from jopanel.system.sandbox import init_root


class ServerTime:
    """Records how long the app took for each request (until its last body chunk)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.samples: dict[str, list[float]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        await self.app(scope, receive, send)
        if scope["type"] == "http":
            key = scope["path"]
            self.samples.setdefault(key, []).append(time.perf_counter() - started)  # seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    console = Console()
    scratch = Path(tempfile.mkdtemp(prefix="jopanel-web-bench-"))
    timer: ServerTime | None = None
    try:
        settings = load_settings(scratch / "root")
        init_root(settings)
        console.print(f"building {args.accounts} accounts ...")
        build_accounts(settings, args.accounts)
        listener = server.bind(settings)
        threading.Thread(target=server.run, args=(listener,), daemon=True).start()
        app = create_app(settings, SocketAgent(settings, timeout=600))
        app.state.ctx.staff.create("admin", PASSWORD, "admin")
        app.add_middleware(ServerTime)
        rng = random.Random(7)
        with serving(app) as url, httpx.Client(base_url=url, timeout=600) as client:
            form = client.get("/login")
            token = form.cookies.get("jopanel_csrf") or client.cookies.get("jopanel_csrf")
            client.post(
                "/login",
                data={"username": "admin", "password": PASSWORD, "csrf_token": token or ""},
            )
            api = client.post("/api/auth/login", json={"username": "admin", "password": PASSWORD})
            bearer = {"Authorization": f"Bearer {api.json()['access_token']}"}
            client.post("/api/admin/reindex", headers=bearer).raise_for_status()
            client.get("/admin/users").raise_for_status()  # warm the templates
            for _ in range(args.requests):
                term = f"u{rng.randrange(args.accounts):05d}"[: rng.choice((0, 4, 5))]
                page_no = rng.randrange(1, 40)
                client.get("/admin/users", params={"search": term, "page": page_no})
                client.get(
                    "/api/admin/users", params={"search": term, "page": page_no}, headers=bearer
                )
            timer = next(
                m for m in _middlewares(app) if isinstance(m, ServerTime)
            )  # the instance the app built
        listener.shutdown()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    assert timer is not None
    table = Table(title=f"Account list, {args.accounts} accounts (SQLite), server time")
    for column in ("request", "n", "p50 ms", "p99 ms", "goal"):
        table.add_column(column, justify="left" if column == "request" else "right")
    for path, goal in (("/admin/users", "p50 ≤ 50"), ("/api/admin/users", "")):
        samples = timer.samples.get(path, [])[1:]  # the warm-up request left out
        p50, p99 = percentiles(samples)
        table.add_row(f"GET {path}", str(len(samples)), f"{p50:.2f}", f"{p99:.2f}", goal)
    console.print(table)


def _middlewares(app: object) -> list[object]:
    """The middleware instances of a built Starlette app, outermost first."""
    found: list[object] = []
    current = getattr(app, "middleware_stack", None)
    while current is not None:
        found.append(current)
        current = getattr(current, "app", None)
    return found


if __name__ == "__main__":
    main()
