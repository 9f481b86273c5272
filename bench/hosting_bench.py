"""Hosting services at scale: full rebuilds of N accounts and reloads for a burst of changes.

    .venv/bin/python -m bench.hosting_bench [--accounts 1000] [--burst 100] [--dir /var/tmp]

In a temporary sandbox root it sets up N accounts (config files, passwd/group lines and
homes written directly: setup is not what is measured), then times:

- a cold full rebuild (`jopanel rebuild`): document roots, ACLs, N vhosts, N pools,
  N Match blocks, each family checked once per batch by the real nginx/php-fpm/sshd;
- a warm rebuild (nothing to do) and a rebuild of the vhosts alone after deleting them;
- one account's change on its own (one staged check beside the N-1 other accounts);
- a burst of changes (an alias added to each of `--burst` accounts through the agent op),
  and how many nginx reloads it caused (the reload command is `true`, so only the count of
  reloads is real, never a signal).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from jopanel.agent.context import AgentContext
from jopanel.agent.ops.build import new_config
from jopanel.agent.registry import OpResult, execute
from jopanel.schemas import Limits
from jopanel.settings import Settings, load_settings
from jopanel.system.reload import reloader_for
from jopanel.system.sandbox import init_root

FIRST_UID = 20000


def names(count: int) -> list[str]:
    return [f"u{n:05d}" for n in range(count)]


def setup_accounts(settings: Settings, count: int) -> None:
    """Accounts as the store and shadow-utils would leave them, written in bulk."""
    ctx = AgentContext(settings)
    passwd, group, shadow = [], [], []
    limits = Limits(max_alias_domains=0)
    for index, name in enumerate(names(count)):
        uid = FIRST_UID + index
        config = new_config(
            username=name,
            uid=uid,
            gid=uid,
            primary_domain=f"{name}.example.com",
            contact_email=f"{name}@example.com",
            package="default",
            limits=limits,
            owner="admin",
            shell="/bin/bash",
        )
        ctx.store.write(config, expected_revision=None, actor="bench", action="bench", create=True)
        passwd.append(f"{name}:x:{uid}:{uid}:JoPanel account:/home/{name}:/bin/bash\n")
        group.append(f"{name}:x:{uid}:\n")
        shadow.append(f"{name}:!:20000:0:99999:7:::\n")
        ctx.accounts.make_home(name, uid, uid, settings.skel_dir)
    for file, lines in (("passwd", passwd), ("group", group), ("shadow", shadow)):
        with open(settings.path(f"etc/{file}"), "a", encoding="utf-8") as handle:
            handle.writelines(lines)


def timed(action: Callable[[], OpResult]) -> tuple[float, OpResult]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--burst", type=int, default=100)
    parser.add_argument("--dir", default=None, help="where the temporary root goes")
    args = parser.parse_args(argv)
    console = Console()
    base = Path(tempfile.mkdtemp(prefix="jopanel-hosting-bench-", dir=args.dir))
    try:
        root = base / "root"
        settings = load_settings(
            root, nginx_reload=["true"], phpfpm_reload=["true"], sshd_reload=["true"]
        )
        init_root(settings)
        started = time.perf_counter()
        setup_accounts(settings, args.accounts)
        setup = time.perf_counter() - started
        ctx = AgentContext(settings)
        reloader = reloader_for(settings, ctx.runner)

        def op(name: str, **payload: Any) -> OpResult:
            return execute(ctx, name, payload, actor="bench")

        rows: list[tuple[str, str, str]] = []
        n = args.accounts
        rows.append(("setup (not measured work)", f"{setup:.1f} s", f"{n} accounts"))

        cold_s, cold = timed(lambda: op("rebuild"))
        checks = cold.data["checks"]
        files = sum(1 for c in cold.plan if " jopanel-" in c)
        rows.append(
            (
                "full rebuild, cold",
                f"{cold_s:.2f} s",
                f"{files} files, {1000 * cold_s / n:.1f} ms/account; checks {checks}",
            )
        )
        reloader.flush()
        rows.append(
            (
                "  reloads after it",
                str(sum(reloader.reloads.values())),
                ", ".join(f"{k} x{v}" for k, v in sorted(reloader.reloads.items())),
            )
        )

        warm_s, warm = timed(lambda: op("rebuild"))
        rows.append(
            (
                "full rebuild, nothing to do",
                f"{warm_s:.2f} s",
                f"{len(warm.plan)} changes, checks {warm.data['checks']}",
            )
        )

        for link in settings.path("etc/nginx/sites-enabled").glob("jopanel-*.conf"):
            link.unlink()
        vhost_s, vhosts = timed(lambda: op("rebuild"))
        rows.append(
            (
                "rebuild of every vhost",
                f"{vhost_s:.2f} s",
                f"{len(vhosts.plan)} vhosts, {1000 * vhost_s / n:.2f} ms/vhost; "
                f"checks {vhosts.data['checks']}",
            )
        )

        one = names(n)[n // 2]
        settings.path(f"etc/nginx/sites-enabled/jopanel-{one}.conf").unlink()
        one_s, _ = timed(lambda: op("apply_user", username=one))
        rows.append(
            (
                "one account's vhost alone",
                f"{one_s * 1000:.0f} ms",
                f"one nginx -t of its own file ({n - 1} other accounts)",
            )
        )

        reloader.flush()
        before = dict(reloader.reloads)
        burst = names(n)[: args.burst]
        started = time.perf_counter()
        for name in burst:
            op("domain_add", username=name, domain=f"www.{name}.example.com", type="alias")
        burst_s = time.perf_counter() - started
        while reloader.pending:
            time.sleep(0.05)
        time.sleep(reloader.quiet + 0.2)
        nginx_reloads = reloader.reloads["nginx"] - before.get("nginx", 0)
        rows.append(
            (
                f"burst of {len(burst)} domain changes",
                f"{burst_s:.1f} s",
                f"{1000 * burst_s / len(burst):.0f} ms/change",
            )
        )
        rows.append(
            (
                "  nginx reloads for the burst",
                str(nginx_reloads),
                f"requested {len(burst)}x; quiet {reloader.quiet} s, "
                f"max wait {reloader.max_wait} s",
            )
        )

        table = Table(title=f"JoPanel hosting bench: {n} accounts, root {root}")
        for column in ("measure", "value", "detail"):
            table.add_column(column)
        for row in rows:
            table.add_row(*row)
        console.print(table)
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
