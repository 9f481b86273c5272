"""Usage measurement cost: the disk walk next to `du -sx`, and access-log parsing.

    .venv/bin/python -m bench.usage_bench [--files 10000] [--lines 100000]

A home of N small files (in 100 directories, a tenth of them hard links) is walked
cold-ish (after a `sync`) and warm; `du -sxB1` runs on the same tree for comparison. An
access log of M lines in JoPanel's format (20 hosts, one month) is parsed from offset 0,
then read again incrementally with nothing new (what every later stats call pays).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from rich.console import Console
from rich.table import Table

from jopanel.system.accesslog import Totals, read_log
from jopanel.system.diskwalk import walk

T = TypeVar("T")


def make_home(home: Path, files: int) -> None:
    for i in range(files):
        directory = home / f"d{i % 100}"
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / f"f{i}.txt"
        if i % 10 == 9:
            os.link(home / "d0" / "f0.txt", target)
        else:
            target.write_bytes(b"x" * (i % 5000))


def make_log(log: Path, lines: int) -> None:
    with log.open("w") as handle:
        for i in range(lines):
            handle.write(
                f"1793000000.{i % 1000:03d} host{i % 20}.example.com {200 + i % 9000} "
                f'{i % 9000} 127.0.0.1 [26/Oct/2026:10:00:00 +0000] "GET /p{i} HTTP/1.1" '
                f'200 "-" "bench"\n'
            )


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--lines", type=int, default=100_000)
    args = parser.parse_args()
    table = Table(title="usage measurement")
    for column in ("what", "seconds", "result"):
        table.add_column(column)
    with tempfile.TemporaryDirectory(dir="/var/tmp") as tmp:
        home, log = Path(tmp) / "home", Path(tmp) / "site.access.log"
        make_home(home, args.files)
        subprocess.run(["sync"], check=True)
        for label in ("walk (first)", "walk (warm)"):
            seconds, result = timed(lambda: walk(home))
            row = f"{label}, {args.files} files"
            table.add_row(row, f"{seconds:.3f}", f"{result.bytes} B")
        seconds, du = timed(
            lambda: subprocess.run(["du", "-sxB1", str(home)], capture_output=True, check=True)
        )
        table.add_row("du -sxB1, same tree", f"{seconds:.3f}", du.stdout.split()[0].decode())
        make_log(log, args.lines)
        totals: Totals = {}
        seconds, state = timed(lambda: read_log(log, {}, totals))
        sent = sum(sum(h.values()) for h in totals.values())
        table.add_row(f"parse {args.lines} log lines", f"{seconds:.3f}", f"{sent} B")
        seconds, _ = timed(lambda: read_log(log, state, totals))
        table.add_row("read again, nothing new", f"{seconds:.6f}", "")
    Console().print(table)


if __name__ == "__main__":
    main()
