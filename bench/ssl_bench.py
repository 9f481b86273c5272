"""Issuing certificates against a real ACME CA: Debian's pebble, validation delay off.

    .venv/bin/python -m bench.ssl_bench [--certs 100] [--dir /var/tmp]

In a temporary sandbox root (run as root: nginx binds loopback ports, workers drop to
www-data) it starts pebble + pebble-challtestsrv (every name resolves to 127.0.0.1) and
the sandbox's real nginx, makes one account with `--certs` subdomains, then times:

- issuing one certificate per subdomain, one `ssl_issue` after another (each: ACME order,
  HTTP-01 fetched by pebble from nginx, finalize, checks, swap, `nginx -t`, reload);
- one `ssl_renew` renewing all of them (a window wide enough to make every one due);

and counts the nginx reloads each phase caused (the reloads are real `nginx -s reload`).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from jopanel.agent.context import Call
from jopanel.agent.transaction import change_account
from jopanel.settings import load_settings
from jopanel.system.reload import reloader_for
from jopanel.system.sandbox import init_root

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.ssl.pebble import free_port, running_pebble  # noqa: E402 - test helpers, reused
from tests.ssl.serving import serving  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--certs", type=int, default=100)
    parser.add_argument("--dir", default="/tmp")
    args = parser.parse_args()
    console = Console()
    parent = Path(tempfile.mkdtemp(prefix="jopanel-ssl-bench-", dir=args.dir))
    parent.chmod(0o755)
    root = parent / "root"
    init_root(load_settings(root))
    root.chmod(0o755)
    http_port, https_port = free_port(), free_port()
    with running_pebble(parent / "pebble", http_port) as pebble:
        with serving(
            root, http_port, https_port,
            acme_directory=pebble.directory, acme_ca_bundle=pebble.ca_bundle,
        ) as served:  # fmt: skip
            served.op(
                "create_user", username="bench", password="correct horse 1",
                contact_email="bench@example.com", primary_domain="bench.example.com",
            )  # fmt: skip
            change_account(
                Call(served.ctx), "bench", "bench_limits",
                lambda c: c.with_(limits=c.limits.model_copy(update={"max_subdomains": 0})),
            )  # fmt: skip
            sites = [f"s{i}.bench.example.com" for i in range(args.certs)]
            for site in sites:
                served.op("domain_add", username="bench", domain=site, type="subdomain")
            reloader = reloader_for(served.settings, served.ctx.runner)
            reloader.flush()
            # The ACME account is registered once per server: not part of a certificate.
            served.op("ssl_issue", username="bench", domain="bench.example.com")
            reloader.flush()

            before = reloader.reloads["nginx"]
            times = []
            started = time.perf_counter()
            for site in sites:
                t0 = time.perf_counter()
                served.op("ssl_issue", username="bench", domain=site)
                times.append(time.perf_counter() - t0)
            reloader.flush()
            issue_total = time.perf_counter() - started
            issue_reloads = reloader.reloads["nginx"] - before

            before = reloader.reloads["nginx"]
            t0 = time.perf_counter()
            renewed = served.op("ssl_renew", username="bench", within_days=3650)
            reloader.flush()
            renew_total = time.perf_counter() - t0
            renew_reloads = reloader.reloads["nginx"] - before
            ok = sum(1 for r in renewed.data if r["result"] == "renewed")
            served_ok = sum(1 for r in served.op("ssl_status", username="bench").data
                            if r["serving"])  # fmt: skip

    table = Table(title=f"ACME against pebble: {args.certs} certificates, real nginx")
    for column in ("phase", "certificates", "total s", "per cert ms", "p50 ms", "max ms",
                   "nginx reloads"):  # fmt: skip
        table.add_column(column)
    table.add_row(
        "issue (one op each)", str(len(times)), f"{issue_total:.1f}",
        f"{issue_total / len(times) * 1000:.0f}", f"{statistics.median(times) * 1000:.0f}",
        f"{max(times) * 1000:.0f}", str(issue_reloads),
    )  # fmt: skip
    table.add_row(
        "renew (one ssl_renew)", str(ok), f"{renew_total:.1f}",
        f"{renew_total / max(ok, 1) * 1000:.0f}", "-", "-", str(renew_reloads),
    )  # fmt: skip
    console.print(table)
    console.print(f"sites served over HTTPS at the end: {served_ok} of {args.certs + 1}")
    shutil.rmtree(parent, ignore_errors=True)


if __name__ == "__main__":
    main()
