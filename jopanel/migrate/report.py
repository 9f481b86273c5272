"""The outcome of every V1 row: migrated, skipped (with the reason) or failed (with the reason)."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from rich.console import Console
from rich.table import Table
from rich.text import Text

Result = Literal["migrated", "skipped", "failed"]
KINDS = ("package", "admin", "account", "domain")
RESULTS: tuple[Result, ...] = ("migrated", "skipped", "failed")


@dataclass
class Outcome:
    kind: str
    v1_id: int
    v1_name: str
    v2_name: str | None
    result: Result
    action: str = ""
    reason: str = ""
    notes: list[str] = field(default_factory=list)


@dataclass
class Report:
    source: str
    shape: str
    dry_run: bool
    backup: dict[str, Any] | None = None
    notices: list[str] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0

    def add(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)

    def counts(self) -> dict[str, int]:
        counter = Counter(o.result for o in self.outcomes)
        return {r: counter.get(r, 0) for r in RESULTS}

    def counts_by_kind(self) -> dict[str, dict[str, int]]:
        counter = Counter((o.kind, o.result) for o in self.outcomes)
        return {k: {r: counter.get((k, r), 0) for r in RESULTS} for k in KINDS}

    def actions(self) -> dict[str, int]:
        return dict(sorted(Counter(o.action for o in self.outcomes if o.action).items()))

    @property
    def accounts_per_second(self) -> float:
        accounts = sum(1 for o in self.outcomes if o.kind == "account" and o.result == "migrated")
        return accounts / self.seconds if self.seconds > 0 else 0.0

    @property
    def ok(self) -> bool:
        return self.counts()["failed"] == 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "shape": self.shape,
            "dry_run": self.dry_run,
            "backup": self.backup,
            "notices": self.notices,
            "counts": self.counts(),
            "counts_by_kind": self.counts_by_kind(),
            "actions": self.actions(),
            "seconds": round(self.seconds, 3),
            "accounts_per_second": round(self.accounts_per_second, 2),
            "migrated": [asdict(o) for o in self.outcomes if o.result == "migrated"],
            "skipped": [asdict(o) for o in self.outcomes if o.result == "skipped"],
            "failed": [asdict(o) for o in self.outcomes if o.result == "failed"],
        }

    def render(self, console: Console, *, verbose: bool = False) -> None:
        """Counts per kind, then every row that was not migrated (all rows if verbose)."""
        summary = Table(
            title="V1 -> V2 migration",
            caption="dry run: nothing was written" if self.dry_run else None,
        )
        summary.add_column("kind")
        for result in RESULTS:
            summary.add_column(result, justify="right")
        for kind, counts in self.counts_by_kind().items():
            summary.add_row(kind, *(str(counts[r]) for r in RESULTS))
        totals = self.counts()
        summary.add_row("total", *(str(totals[r]) for r in RESULTS), style="bold")
        console.print(summary)
        rows = [o for o in self.outcomes if verbose or o.result != "migrated"]
        if rows:
            detail = Table(title="Rows not migrated" if not verbose else "Every V1 row")
            for column in ("kind", "v1 id", "v1 name", "v2 name", "result", "reason"):
                detail.add_column(column)
            for o in rows:
                style = {"failed": "red", "skipped": "yellow"}.get(o.result)
                reason = o.reason or "; ".join(o.notes)
                # Text, not markup: V1 values and reasons hold brackets ("^[a-z]...").
                cells = (o.kind, str(o.v1_id), o.v1_name, o.v2_name or "", o.result, reason)
                detail.add_row(*(Text(c) for c in cells), style=style)
            console.print(detail)
        noted = sum(1 for o in self.outcomes if o.result == "migrated" and o.notes)
        for notice in self.notices:
            console.print(Text(f"note: {notice}"))
        if self.backup:
            console.print(Text(f"backup: {self.backup['path']} (restore verified)"))
        actions = ", ".join(f"{n} {a}" for a, n in self.actions().items())
        console.print(
            f"{totals['migrated']} migrated, {totals['skipped']} skipped, {totals['failed']} failed"
            f" ({actions}) in {self.seconds:.1f}s; {noted} migrated with notes (see --json)"
        )
