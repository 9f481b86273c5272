"""The table and the six summary lines (their wording is part of issue 15's contract)."""

from __future__ import annotations

from collections import defaultdict
from typing import TextIO

from .ledger import Ledger, Sample


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def outcome(sample: Sample) -> str:
    if sample.status is None:
        return "none"
    if sample.via == "cli":
        return "2xx" if sample.status == 1000 else "4xx" if sample.status < 1006 else "5xx"
    return f"{sample.status // 100}xx"


def report(ledger: Ledger, faults: list[str], seconds: float, out: TextIO) -> int:
    by_kind: dict[str, list[Sample]] = defaultdict(list)
    for sample in ledger.samples:
        by_kind[sample.kind].append(sample)
    header = f"{'operation':<20} {'n':>6} {'2xx':>6} {'4xx':>5} {'5xx':>5} {'none':>5} " \
             f"{'p50 ms':>8} {'p99 ms':>8}"  # fmt: skip
    print(header, file=out)
    print("-" * len(header), file=out)
    for kind in sorted(by_kind):
        samples = by_kind[kind]
        counts: dict[str, int] = defaultdict(int)
        for sample in samples:
            counts[outcome(sample)] += 1
        times = [s.ms for s in samples]
        print(
            f"{kind:<20} {len(samples):>6} {counts['2xx']:>6} {counts['4xx']:>5} "
            f"{counts['5xx']:>5} {counts['none']:>5} {percentile(times, 0.5):>8.1f} "
            f"{percentile(times, 0.99):>8.1f}",
            file=out,
        )
    kinds: dict[str, int] = defaultdict(int)
    for fault in faults:
        kinds[fault] += 1
    print("faults: " + (", ".join(f"{k} x{n}" for k, n in sorted(kinds.items())) or "none"),
          file=out)  # fmt: skip
    if ledger.checked:
        print("checked: " + ", ".join(f"{k} {v}" for k, v in ledger.checked.items()), file=out)
    for note in ledger.notes:
        print(f"note: {note}", file=out)
    for violation in ledger.violations:
        print(f"VIOLATION: {violation}", file=out)
    times = [s.ms for s in ledger.samples]
    print(f"ops: {len(ledger.samples)}", file=out)
    print(f"ops/s: {len(ledger.samples) / seconds if seconds else 0:.1f}", file=out)
    print(f"p50 ms: {percentile(times, 0.5):.1f}", file=out)
    print(f"p99 ms: {percentile(times, 0.99):.1f}", file=out)
    print(f"faults injected: {len(faults)}", file=out)
    print(f"violations: {len(ledger.violations)}", file=out)
    return len(ledger.violations)
