"""The report: counts per kind and result, every row not migrated, JSON for scripts."""

from __future__ import annotations

import io
import json

from rich.console import Console

from jopanel.migrate.report import Outcome, Report


def _report() -> Report:
    report = Report(source="root@/run/mysqld/mysqld.sock/v1", shape="orm shape", dry_run=True)
    report.add(Outcome("account", 3, "Joko", "joko", "migrated", "would create",
                       notes=["username 'Joko' became 'joko'"]))  # fmt: skip
    reason = "username 'ab' is not valid in V2: must match ^[a-z][a-z0-9]{2,15}$"
    report.add(Outcome("account", 4, "ab", None, "skipped", reason=reason))
    report.add(Outcome("account", 5, "x[bold]y", "xy", "failed", reason="[red]uid 20001 taken"))
    report.seconds = 2.0
    return report


def test_counts_and_json() -> None:
    data = json.loads(json.dumps(_report().to_dict()))
    assert data["counts"] == {"migrated": 1, "skipped": 1, "failed": 1}
    assert data["counts_by_kind"]["account"] == {"migrated": 1, "skipped": 1, "failed": 1}
    assert data["skipped"][0]["reason"].endswith("^[a-z][a-z0-9]{2,15}$")
    assert data["failed"][0]["v1_name"] == "x[bold]y"
    assert data["accounts_per_second"] == 0.5
    assert _report().ok is False


def test_render_shows_v1_values_verbatim() -> None:
    out = io.StringIO()
    _report().render(Console(file=out, width=200, color_system=None))
    text = out.getvalue()
    assert "^[a-z][a-z0-9]{2,15}$" in text
    assert "x[bold]y" in text and "[red]uid 20001 taken" in text
    assert "dry run: nothing was written" in text
    assert "1 migrated, 1 skipped, 1 failed" in text
