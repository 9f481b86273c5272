"""Panel logins over real HTTP vs. the bare password checks they wrap, same run.

    .venv/bin/python -m bench.login_bench [--logins 40]

A hosting account's login asks the agent to check its shadow entry (yescrypt); a staff
login checks an argon2id hash in the database. Baselines: one crypt(3) verification and
one argon2id verification in this process. Failed logins are padded to the failure floor
(0.4 s) whatever they cost, so they are reported apart.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import uvicorn
from rich.console import Console
from rich.table import Table

from jopanel.agent import server
from jopanel.agent.client import SocketAgent
from jopanel.api.app import create_app
from jopanel.auth.passwords import hash_login_password, verify_login_password
from jopanel.auth.sessions import LoginThrottle
from jopanel.settings import load_settings
from jopanel.system.crypt import hash_system_password, verify_system_password
from jopanel.system.sandbox import init_root

PASSWORD = "bench password 1"


def timed(count: int, action: Callable[[], object]) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--logins", type=int, default=40)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="jopanel-login-bench-"))
    try:
        settings = load_settings(scratch / "root")
        init_root(settings)
        listener = server.bind(settings)
        threading.Thread(target=server.run, args=(listener,), daemon=True).start()
        agent = SocketAgent(settings)
        app = create_app(settings, agent, throttle=LoginThrottle(per_account=10**6, per_ip=10**6))
        app.state.ctx.staff.create("boss", PASSWORD, "admin")
        agent.execute(
            "create_user",
            {"username": "joko", "password": PASSWORD, "contact_email": "j@example.com",
             "primary_domain": "joko.example.com"},
        )  # fmt: skip
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
        web = uvicorn.Server(config)
        threading.Thread(target=web.run, daemon=True).start()
        while not web.started:
            time.sleep(0.02)
        port = web.servers[0].sockets[0].getsockname()[1]
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)

        def login(name: str, password: str) -> Callable[[], object]:
            return lambda: client.post(
                "/api/auth/login", json={"username": name, "password": password}
            )

        yescrypt, argon2 = hash_system_password(PASSWORD), hash_login_password(PASSWORD)
        rows = [
            ("crypt(3) yescrypt verify (baseline)",
             timed(args.logins, lambda: verify_system_password(PASSWORD, yescrypt))),
            ("argon2id verify (baseline)",
             timed(args.logins, lambda: verify_login_password(PASSWORD, argon2))),
            ("account login (agent checks shadow)", timed(args.logins, login("joko", PASSWORD))),
            ("staff login (argon2id in the DB)", timed(args.logins, login("boss", PASSWORD))),
            ("failed login, unknown name", timed(5, login("nosuch", "wrong one"))),
            ("failed login, account", timed(5, login("joko", "wrong one"))),
        ]  # fmt: skip
        table = Table(title=f"Panel logins ({args.logins} each; failures 5)")
        for column in ("what", "p50 ms", "p99 ms"):
            table.add_column(column)
        for name, samples in rows:
            ordered = sorted(samples)
            p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
            table.add_row(name, f"{statistics.median(samples):.1f}", f"{p99:.1f}")
        Console().print(table)
        web.should_exit = True
        client.close()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
