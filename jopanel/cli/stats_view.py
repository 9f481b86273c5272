"""`jopanel user stats` as people read it: one row per limit with a bar, then where the
disk figure comes from and the month's bandwidth per domain."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from .output import console

BAR = 20


def _amount(value: float | int, unit: str) -> str:
    text = f"{value:g}" if isinstance(value, float) else str(value)
    return f"{text} {unit}".strip()


def bar(percent: float | None) -> str:
    if percent is None:
        return ""
    filled = min(BAR, round(BAR * percent / 100))
    return "█" * filled + "·" * (BAR - filled) + f" {percent:g}%"


def age(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s ago"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"


def print_stats(data: dict[str, Any]) -> None:
    table = Table(title=f"{data['username']}: usage ({data['status']})")
    for column in ("", "used", "limit", ""):
        table.add_column(column)
    for meter in data["meters"]:
        limit = _amount(meter["limit"], meter["unit"]) if meter["limit"] else "unlimited"
        style = "bold red" if meter["over"] else None
        table.add_row(
            meter["label"], _amount(meter["used"], meter["unit"]), limit, bar(meter["percent"]),
            style=style,
        )  # fmt: skip
    console.print(table)
    disk = data["disk"]
    if disk["source"] == "quota":
        console.print("Disk: the filesystem's quota (counted by the kernel, enforced)")
    else:
        partial = "" if disk["complete"] else ", partial: the walk ran out of time"
        console.print(
            f"Disk: measured by a walk of the home {age(disk['age_s'])}{partial} "
            "(no filesystem quota here; --refresh measures again)"
        )
    bandwidth = data["bandwidth"]
    if bandwidth.get("warning"):
        console.print(f"Warning: {bandwidth['warning']}")
    if bandwidth["by_domain"]:
        per_domain = Table(title=f"Bandwidth {bandwidth['month']}")
        per_domain.add_column("domain")
        per_domain.add_column("sent", justify="right")
        for domain, sent in bandwidth["by_domain"].items():
            per_domain.add_row(domain, f"{sent / 1048576:.2f} MB")
        console.print(per_domain)
    else:
        console.print(f"Bandwidth {bandwidth['month']}: nothing served yet")
