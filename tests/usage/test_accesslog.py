"""The access-log reader on hand-made logs: foreign lines, half-written lines, folding."""

from __future__ import annotations

from pathlib import Path

from jopanel.agent.bandwidth import by_domain
from jopanel.agent.context import AgentContext
from jopanel.system.accesslog import Totals, read_log
from tests.conftest import Op, new_user

OCT = "1793000000.123"  # 2026-10-26 UTC
LINE = '{t} {host} {sent} 10 127.0.0.1 [x] "GET / HTTP/1.1" 200 "-" "ua"\n'


def test_foreign_and_partial_lines(tmp_path: Path) -> None:
    log = tmp_path / "a.access.log"
    log.write_text(
        '127.0.0.1 - - [x] "GET / HTTP/1.1" 200 5 "-" "ua"\n'  # combined: skipped
        + LINE.format(t=OCT, host="a.test", sent=100)
        + LINE.format(t=OCT, host="A.TEST", sent=50)
        + LINE.format(t=OCT, host="a.test", sent=7).rstrip("\n")  # still being written
    )
    totals: Totals = {}
    state = read_log(log, {}, totals)
    assert totals == {"2026-10": {"a.test": 150}}
    with log.open("a") as handle:
        handle.write("\n")
    state = read_log(log, state, totals)
    assert totals == {"2026-10": {"a.test": 157}}
    assert read_log(log, state, totals) == state and totals["2026-10"]["a.test"] == 157


def test_www_counts_for_its_domain(ctx: AgentContext, op: Op) -> None:
    new_user(op, "joko")
    config = ctx.store.read("joko")
    folded = by_domain(config, {"joko.example.com": 5, "www.joko.example.com": 7, "gone.test": 1})
    assert folded == {"gone.test": 1, "joko.example.com": 12}
