"""Multi-step changes that undo themselves when a step fails.

    with Flow(call, "create_user") as flow:
        flow.step("useradd", lambda: ..., undo=lambda: ...)

In dry-run, steps are only recorded in `flow.plan`. Tests name a step in the
`fault_point` setting ("create_user:useradd") to make it fail just before it runs, which
exercises every rollback path with the real commands.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import TracebackType

from ..errors import JoPanelError
from .context import Call

log = logging.getLogger("jopanel.agent.flow")


class InjectedFault(JoPanelError):
    code = "injected_fault"


class Flow:
    def __init__(self, call: Call, name: str) -> None:
        self.call = call
        self.name = name
        self.plan: list[str] = []
        self.steps: list[str] = []
        self.done: list[str] = []
        self._undo: list[tuple[str, Callable[[], object]]] = []

    @property
    def dry_run(self) -> bool:
        return self.call.dry_run

    def step(
        self,
        name: str,
        do: Callable[[], object],
        *,
        undo: Callable[[], object] | None = None,
        describe: str | None = None,
        idempotent_undo: bool = False,
    ) -> None:
        """Run `do`; remember `undo` for a later failure.

        With `idempotent_undo` the undo is registered before `do` runs, so a step that
        fails half-way (several commands) is undone too.
        """
        self.steps.append(name)
        self.plan.append(describe or name)
        if self.dry_run:
            return
        if self.call.ctx.settings.fault_point == f"{self.name}:{name}":
            raise InjectedFault(f"injected failure before step {name}")
        if undo is not None and idempotent_undo:
            self._undo.append((name, undo))
        do()
        self.done.append(name)
        if undo is not None and not idempotent_undo:
            self._undo.append((name, undo))

    def __enter__(self) -> Flow:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            return
        for name, undo in reversed(self._undo):
            try:
                undo()
            except Exception:  # noqa: BLE001 - keep undoing the rest; log what failed
                log.exception("%s: undo of %s failed", self.name, name)
