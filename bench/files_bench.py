"""The file manager through the real API and agent: listing a directory of 10,000 files
(p50/p95), and uploading a 200 MB file (MB/s) next to `cp` of the same file.

    .venv/bin/python -m bench.files_bench [--files 10000] [--mb 200] [--lists 30] [--runs 3]

Runs as root (the agent spawns its file worker, which drops to the account's uid). Times
are the client's, end to end: HTTP, the API, the agent socket, the worker. An upload is
spooled to disk by the multipart parser, piped through the agent into the worker and
fsync'd before its rename; `cp` does none of that (and `cp + sync` is shown too).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from bench.api_bench import serving
from jopanel.agent import server
from jopanel.agent.client import SocketAgent
from jopanel.agent.context import AgentContext
from jopanel.agent.registry import execute
from jopanel.api.app import create_app
from jopanel.settings import load_settings
from jopanel.system.sandbox import init_root

PASSWORD = "correct horse battery"
USER = "benchfm"


def p(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


def make_blob(path: Path, mb: int) -> None:
    chunk = os.urandom(1 << 20)
    with path.open("wb") as out:
        for i in range(mb):
            out.write(chunk[i % 7 :] + chunk[: i % 7])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--lists", type=int, default=30)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    console = Console()
    scratch = Path(tempfile.mkdtemp(prefix="jopanel-files-bench-"))
    rows: list[tuple[str, str, str, str]] = []
    try:
        settings = load_settings(scratch / "root", max_upload_bytes=(args.mb + 10) << 20)
        init_root(settings)
        ctx = AgentContext(settings)
        payload = {
            "username": USER,
            "password": PASSWORD,
            "contact_email": f"{USER}@example.com",
            "primary_domain": f"{USER}.example.com",
        }
        execute(ctx, "create_user", payload, actor="bench")
        home = settings.home_of(USER)
        uid, gid = home.stat().st_uid, home.stat().st_gid
        many = home / "many"
        many.mkdir()
        for i in range(args.files):
            (many / f"file-{i:05d}.txt").write_bytes(b"x")
            os.chown(many / f"file-{i:05d}.txt", uid, gid)
        os.chown(many, uid, gid)
        blob = scratch / "blob.bin"
        console.print(f"{args.files} files made; writing a {args.mb} MB file ...")
        make_blob(blob, args.mb)

        listener = server.bind(settings)
        threading.Thread(target=server.run, args=(listener,), daemon=True).start()
        app = create_app(settings, SocketAgent(settings, timeout=600))
        with serving(app) as url, httpx.Client(base_url=url, timeout=600) as client:
            login = client.post("/api/auth/login", json={"username": USER, "password": PASSWORD})
            login.raise_for_status()
            client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
            params = {"path": "many", "limit": args.files}
            client.get("/api/user/files/list", params=params).raise_for_status()  # warm
            lists = []
            for _ in range(args.lists):
                started = time.perf_counter()
                response = client.get("/api/user/files/list", params=params)
                lists.append(time.perf_counter() - started)
                assert response.json()["total"] == args.files
            rows.append(
                (f"list {args.files} files", str(args.lists), f"{p(lists, 0.5):.1f} ms",
                 f"{p(lists, 0.95):.1f} ms")
            )  # fmt: skip

            uploads, cps, syncs = [], [], []
            for run in range(args.runs):
                with blob.open("rb") as source:
                    started = time.perf_counter()
                    response = client.post(
                        "/api/user/files/upload",
                        files={"file": (f"up{run}.bin", source, "application/octet-stream")},
                    )
                    uploads.append(time.perf_counter() - started)
                assert response.status_code == 201, response.text
                assert (home / f"up{run}.bin").stat().st_size == args.mb << 20
                (home / f"up{run}.bin").unlink()
                target = scratch / f"cp{run}.bin"
                started = time.perf_counter()
                subprocess.run(["cp", str(blob), str(target)], check=True)
                cps.append(time.perf_counter() - started)
                subprocess.run(["sync", str(target)], check=True)
                syncs.append(time.perf_counter() - started)
                target.unlink()
        listener.shutdown()
        for name, samples in (
            (f"upload {args.mb} MB through the API", uploads),
            (f"cp {args.mb} MB", cps),
            (f"cp + sync {args.mb} MB", syncs),
        ):
            median = statistics.median(samples)
            rows.append(
                (name, str(len(samples)), f"{args.mb / median:.0f} MB/s", f"{median:.2f} s")
            )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    table = Table(title="File manager (client time, end to end)")
    for column in ("what", "n", "p50 / rate", "p95 / median time"):
        table.add_column(column, justify="left" if column == "what" else "right")
    for row in rows:
        table.add_row(*row)
    console.print(table)


if __name__ == "__main__":
    main()
