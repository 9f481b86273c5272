"""Config store throughput next to plain JSON files, in one temporary root.

    .venv/bin/python -m bench.store_bench [--accounts 10000] [--dir /var/tmp]

For N accounts it measures, for the ConfigStore: creates (one revision each: six files
fsynced, the directory fsynced, a symlink swapped), validated reads, and a full scan
(`list_usernames` + read each); reads are also timed without validation, to show
where their time goes. The baselines write the same six documents per account
with plain `json.dump` + `os.replace` into plain directories, once without any fsync and
once with the file and directory fsynced, and read them back with `json.load`.

Only the store calls and the file I/O are timed; building each config is not. Reads run
on a warm page cache, right after the writes, as a panel's reads mostly do.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from rich.console import Console
from rich.table import Table

from jopanel.agent.ops.build import new_config
from jopanel.atomic import fsync_dir
from jopanel.schemas import KINDS, Limits, UserConfig
from jopanel.settings import load_settings
from jopanel.store import ConfigStore
from jopanel.system.sandbox import init_root

FIRST_UID = 20000
P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class Timings:
    """Seconds spent per phase, and how many operations each phase did."""

    seconds: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, phase: str, seconds: float) -> None:
        self.seconds[phase] = self.seconds.get(phase, 0.0) + seconds
        self.counts[phase] = self.counts.get(phase, 0) + 1

    def rate(self, phase: str) -> float:
        return self.counts[phase] / self.seconds[phase]


def usernames(count: int) -> Iterator[str]:
    for n in range(count):
        yield f"u{n:07d}"


def account_config(username: str, n: int) -> UserConfig:
    return new_config(
        username=username,
        uid=FIRST_UID + n,
        gid=FIRST_UID + n,
        primary_domain=f"{username}.example.com",
        contact_email=f"{username}@example.com",
        package="default",
        limits=Limits(),
        owner="admin",
        shell="/bin/bash",
    )


def timed(
    timings: Timings, phase: str, call: Callable[P, R], *args: P.args, **kwargs: P.kwargs
) -> R:
    started = time.perf_counter()
    result = call(*args, **kwargs)
    timings.add(phase, time.perf_counter() - started)
    return result


# --- the ConfigStore ---------------------------------------------------------------------


def bench_store(base: Path, count: int) -> Timings:
    settings = load_settings(base / "root")
    init_root(settings)
    store = ConfigStore(settings)
    timings = Timings()
    for n, name in enumerate(usernames(count)):
        config = account_config(name, n)
        timed(
            timings,
            "write",
            store.write,
            config,
            expected_revision=None,
            actor="bench",
            action="create",
            create=True,
        )
    for name in usernames(count):
        timed(timings, "read", store.read, name)
    for name in usernames(count):
        timed(timings, "read_raw", store.read_documents, name)
    for name in usernames(min(count, 1000)):
        config = store.read(name)
        notes = config.meta.model_copy(update={"notes": "benchmarked"})
        timed(
            timings,
            "update",
            store.write,
            config.with_(meta=notes),
            expected_revision=config.revision,
            actor="bench",
            action="update",
        )
    started = time.perf_counter()
    scanned = [store.read(name) for name in store.list_usernames()]
    timings.seconds["scan"] = time.perf_counter() - started
    timings.counts["scan"] = len(scanned)
    return timings


# --- the baselines: json.dump + os.replace into plain directories ------------------------


def write_plain(directory: Path, documents: dict[str, Any], durable: bool) -> None:
    directory.mkdir()
    for kind in KINDS:
        final = directory / f"{kind}.json"
        tmp = directory / f".{kind}.json.tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(documents[kind], handle, indent=2, ensure_ascii=False)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, final)
    if durable:
        fsync_dir(directory)
        fsync_dir(directory.parent)


def read_plain(directory: Path) -> dict[str, Any]:
    documents = {}
    for kind in KINDS:
        with open(directory / f"{kind}.json", encoding="utf-8") as handle:
            documents[kind] = json.load(handle)
    return documents


def bench_plain(base: Path, count: int, durable: bool) -> Timings:
    top = base / ("plain-fsync" if durable else "plain")
    top.mkdir()
    timings = Timings()
    for n, name in enumerate(usernames(count)):
        documents = account_config(name, n).stamped().documents()
        timed(timings, "write", write_plain, top / name, documents, durable)
    for name in usernames(count):
        timed(timings, "read", read_plain, top / name)
    started = time.perf_counter()
    scanned = [read_plain(top / name) for name in sorted(os.listdir(top))]
    timings.seconds["scan"] = time.perf_counter() - started
    timings.counts["scan"] = len(scanned)
    return timings


# --- report ------------------------------------------------------------------------------


def filesystem(path: Path) -> str:
    try:
        out = subprocess.run(
            ["df", "--output=fstype", str(path)],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.split()[-1]


def report(count: int, where: Path, results: dict[str, Timings]) -> Table:
    store = results["store"]
    table = Table(title=f"Config store, {count:,} accounts ({filesystem(where)} at {where})")
    table.add_column("measure")
    for heading in ("ConfigStore", "json.dump + os.replace", "same + fsync"):
        table.add_column(heading, justify="right")

    def row(label: str, values: list[str]) -> None:
        table.add_row(label, *values)

    order = ["store", "plain", "plain-fsync"]
    row("creates / s", [f"{results[k].rate('write'):,.0f}" for k in order])
    row("reads / s", [f"{results[k].rate('read'):,.0f}" for k in order])
    row("  of which raw JSON, no validation", [f"{store.rate('read_raw'):,.0f}", "—", "—"])
    row("full scan (list + read all)", [f"{results[k].seconds['scan']:.2f} s" for k in order])
    row("updates / s (read + CAS write)", [f"{store.rate('update'):,.0f}", "—", "—"])
    row(
        "mean create latency",
        [
            f"{1000 * results[k].seconds['write'] / results[k].counts['write']:.2f} ms"
            for k in order
        ],
    )
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.store_bench", description=__doc__)
    parser.add_argument("--accounts", type=int, default=10_000, help="accounts to write")
    parser.add_argument("--dir", type=Path, default=None, help="where to make the temp root")
    args = parser.parse_args(argv)
    console = Console(width=max(Console().width, 96))
    base = Path(tempfile.mkdtemp(prefix="jopanel-bench-", dir=args.dir))
    try:
        results: dict[str, Timings] = {}
        runs: list[tuple[str, str, Callable[[], Timings]]] = [
            ("store", "ConfigStore", lambda: bench_store(base, args.accounts)),
            ("plain", "json.dump + os.replace", lambda: bench_plain(base, args.accounts, False)),
            ("plain-fsync", "with fsync", lambda: bench_plain(base, args.accounts, True)),
        ]
        for key, label, run in runs:
            with console.status(f"{label}: {args.accounts:,} accounts"):
                results[key] = run()
        console.print(report(args.accounts, base, results))
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
