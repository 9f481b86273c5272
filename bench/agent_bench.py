"""Create N accounts through the agent vs. a raw loop of the same commands, same run.

    .venv/bin/python -m bench.agent_bench [--accounts 200] [--updates 200]

The baseline does what any panel must do per account, with nothing of ours around it:
hash the password, groupadd, useradd --prefix with a skeleton home, usermod -p, and
write six JSON files with json.dump + os.replace.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from jopanel.agent import server
from jopanel.agent.client import SocketAgent
from jopanel.settings import load_settings
from jopanel.system.crypt import hash_system_password as hash_password
from jopanel.system.runner import Runner, Secret
from jopanel.system.sandbox import init_root

PASSWORD = "bench password 1"


def baseline(root: Path, count: int) -> float:
    runner = Runner()
    prefix = ["--prefix", str(root)]
    skel = root / "etc/jopanel/skel"
    config_root = root / "baseline-configs"
    config_root.mkdir()
    started = time.perf_counter()
    for i in range(count):
        name = f"base{i:04d}"
        uid = 30000 + i
        hashed = hash_password(PASSWORD)
        runner.run(["groupadd", *prefix, "-g", str(uid), name])
        runner.run(
            [
                "useradd",
                *prefix,
                "-u",
                str(uid),
                "-g",
                str(uid),
                "-d",
                f"/home/{name}",
                "-m",
                "-k",
                str(skel),
                "-s",
                "/bin/bash",
                name,
            ]
        )
        runner.run(["usermod", *prefix, "-p", Secret(hashed), name])
        directory = config_root / name
        directory.mkdir(mode=0o700)
        for kind in ("account", "limits", "domains", "services", "ssh", "meta"):
            tmp = directory / f".{kind}.tmp"
            with open(tmp, "w") as handle:
                json.dump({"schema_version": 1, "username": name, "uid": uid}, handle, indent=2)
            os.replace(tmp, directory / f"{kind}.json")
    return time.perf_counter() - started


def through_agent(root: Path, count: int, updates: int) -> tuple[float, list[float]]:
    settings = load_settings(root)
    bound = server.bind(settings)
    thread = threading.Thread(target=server.run, args=(bound,), daemon=True)
    thread.start()
    agent = SocketAgent(settings)
    try:
        started = time.perf_counter()
        for i in range(count):
            agent.execute(
                "create_user",
                {
                    "username": f"acct{i:04d}",
                    "password": PASSWORD,
                    "contact_email": f"a{i}@example.com",
                    "primary_domain": f"site{i}.example.com",
                },
            )
        elapsed = time.perf_counter() - started
        latencies = []
        for i in range(updates):
            name = f"acct{i % count:04d}"
            t0 = time.perf_counter()
            agent.execute(
                "update_user_config",
                {"username": name, "account": {"contact_email": f"u{i}@example.org"}},
            )
            latencies.append((time.perf_counter() - t0) * 1000)
        return elapsed, latencies
    finally:
        agent.close()
        bound.shutdown()
        thread.join(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--updates", type=int, default=200)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="jopanel-bench-"))
    try:
        base_root = workdir / "baseline"
        agent_root = workdir / "agent"
        for root in (base_root, agent_root):
            init_root(load_settings(root))
        base_s = baseline(base_root, args.accounts)
        agent_s, latencies = through_agent(agent_root, args.accounts, args.updates)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    quantiles = statistics.quantiles(latencies, n=100)
    table = Table(title=f"Create {args.accounts} accounts (sandbox root, real shadow-utils)")
    for column in ("what", "total s", "accounts/s", "ms/account"):
        table.add_column(column, justify="right")
    for label, seconds in (
        ("raw commands + json.dump (baseline)", base_s),
        ("jopanel agent over its socket", agent_s),
    ):
        table.add_row(
            label,
            f"{seconds:.2f}",
            f"{args.accounts / seconds:.1f}",
            f"{seconds / args.accounts * 1000:.1f}",
        )
    table.add_row("ratio agent / baseline", f"{agent_s / base_s:.2f}x", "", "")
    console = Console()
    console.print(table)
    updates = Table(title=f"update_user_config latency over {args.updates} updates")
    for column in ("p50 ms", "p99 ms", "max ms"):
        updates.add_column(column, justify="right")
    updates.add_row(f"{quantiles[49]:.1f}", f"{quantiles[98]:.1f}", f"{max(latencies):.1f}")
    console.print(updates)


if __name__ == "__main__":
    main()
