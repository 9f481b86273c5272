"""Account search through the API's index vs. scanning the files; reindex time.

    .venv/bin/python -m bench.api_bench [--accounts 10000] [--queries 300]

Builds N accounts' config files with the real config store (no Linux users: search and
reindex only read the files), starts a real agent on the temp root and the API under
uvicorn on loopback, then measures over real HTTP:

- `GET /api/admin/users?search=…` answered from the index (goal: p50 ≤ 15 ms on SQLite);
- the same query answered by scanning the files (the agent's `list_users` with search);
- `POST /api/admin/reindex` for all N accounts (goal: ≤ 5 s).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI
from rich.console import Console
from rich.table import Table

from jopanel.agent import server
from jopanel.agent.client import SocketAgent
from jopanel.agent.ops.build import new_config
from jopanel.api.app import create_app
from jopanel.schemas import Limits
from jopanel.settings import Settings, load_settings
from jopanel.store import ConfigStore
from jopanel.system.sandbox import init_root

PASSWORD = "bench password 1"
OWNERS = ("admin", "resone", "restwo", "resthree")


def build_accounts(settings: Settings, count: int) -> float:
    store = ConfigStore(settings)
    limits = Limits()

    def write(i: int) -> None:
        name = f"u{i:05d}x"
        config = new_config(
            username=name,
            uid=20000 + i,
            gid=20000 + i,
            primary_domain=f"{name}.site{i % 97}.example",
            contact_email=f"{name}@mail{i % 13}.example",
            package="default",
            limits=limits,
            owner=OWNERS[i % len(OWNERS)],
            shell="/bin/bash",
            status="suspended" if i % 10 == 0 else "active",
        )
        store.write(config, expected_revision=None, actor="bench", action="create", create=True)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(write, range(count)))
    return time.perf_counter() - started


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    # IPPROTO_TCP so asyncio sets TCP_NODELAY on accepted sockets (no delayed-ACK stalls).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        app, log_level="warning", lifespan="off", access_log=False, proxy_headers=False
    )
    api = uvicorn.Server(config)
    thread = threading.Thread(target=api.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not api.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        api.should_exit = True
        thread.join(timeout=10)
        sock.close()


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p99 * 1000


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--scans", type=int, default=5)
    args = parser.parse_args()
    console = Console()
    scratch = Path(tempfile.mkdtemp(prefix="jopanel-api-bench-"))
    try:
        root = scratch / "root"
        settings = load_settings(root)
        init_root(settings)
        console.print(f"building {args.accounts} accounts under {root} ...")
        build_seconds = build_accounts(settings, args.accounts)
        listener = server.bind(settings)
        threading.Thread(target=server.run, args=(listener,), daemon=True).start()
        agent = SocketAgent(settings, timeout=600)
        app = create_app(settings, agent)
        app.state.ctx.staff.create("admin", PASSWORD, "admin")
        rng = random.Random(4)
        terms = [
            f"u{rng.randrange(args.accounts):05d}"[: rng.choice((4, 5, 6))]
            for _ in range(args.queries)
        ]
        terms += [f"site{rng.randrange(97)}" for _ in range(args.queries // 10)]
        with serving(app) as url, httpx.Client(base_url=url, timeout=600) as client:
            login = client.post("/api/auth/login", json={"username": "admin", "password": PASSWORD})
            client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
            reindex = timed(lambda: client.post("/api/admin/reindex").raise_for_status(), 3)
            counts = client.post("/api/admin/reindex").json()["indexed"]
            assert counts == args.accounts, counts
            client.get("/api/admin/users", params={"search": "warmup"}).raise_for_status()
            queue = iter(terms)
            index_samples = timed(
                lambda: client.get(
                    "/api/admin/users", params={"search": next(queue)}
                ).raise_for_status(),
                len(terms),
            )
            scan_terms = iter(terms)
            scan_samples = timed(
                lambda: agent.execute("list_users", {"search": next(scan_terms)}), args.scans
            )
        app.state.ctx.close()
        listener.shutdown()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    table = Table(title=f"API search and reindex, {args.accounts} accounts (SQLite, loopback HTTP)")
    for column in ("measure", "n", "p50 ms", "p99 ms", "goal"):
        table.add_column(column, justify="right" if column != "measure" else "left")
    p50, p99 = percentiles(index_samples)
    table.add_row(
        "GET /api/admin/users?search= (index)",
        str(len(index_samples)),
        f"{p50:.2f}",
        f"{p99:.2f}",
        "p50 ≤ 15",
    )
    s50, s99 = percentiles(scan_samples)
    table.add_row(
        "same search by scanning the files (agent)",
        str(len(scan_samples)),
        f"{s50:.1f}",
        f"{s99:.1f}",
        "baseline",
    )
    r50, r99 = percentiles(reindex)
    table.add_row(
        "POST /api/admin/reindex (all accounts)",
        str(len(reindex)),
        f"{r50:.0f}",
        f"{r99:.0f}",
        "≤ 5000",
    )
    console.print(table)
    load = os.getloadavg()
    console.print(
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs; "
        f"index answers {s50 / p50:.0f}x faster than a file scan at the median; "
        f"building the {args.accounts} config directories took {build_seconds:.1f} s"
    )


if __name__ == "__main__":
    main()
