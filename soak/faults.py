"""Faults injected while the load runs, in a fixed rotation spread over the run."""

from __future__ import annotations

import threading
import time

import httpx

from .cluster import ADMIN, ADMIN_PASSWORD, Cluster
from .ledger import Ledger

ROTATION = ("kill-agent", "useradd-fails", "reindex", "kill-api")


class Faults:
    def __init__(self, cluster: Cluster, ledger: Ledger, seconds: float) -> None:
        self.cluster = cluster
        self.ledger = ledger
        self.seconds = seconds
        self.done: list[tuple[float, str]] = []
        self.armed = 0
        # At least the whole rotation once, then one fault every ~15 s.
        self.count = max(len(ROTATION), int(seconds // 15))

    def run(self, stop: threading.Event) -> None:
        interval = self.seconds / (self.count + 1)
        started = time.monotonic()
        for index in range(self.count):
            # At fixed times from the start, however long the previous fault took.
            if stop.wait(max(0.0, started + (index + 1) * interval - time.monotonic())):
                return
            kind = ROTATION[index % len(ROTATION)]
            try:
                self.inject(kind)
            except Exception as exc:  # noqa: BLE001 - a fault that could not be injected
                self.ledger.violation(f"fault {kind} could not be injected: {exc}")

    def inject(self, kind: str) -> None:
        if kind in ("kill-agent", "kill-api"):
            self.cluster.kill_and_restart(kind.removeprefix("kill-"))
            self.done.append((time.time(), kind))
        elif kind == "useradd-fails":
            self.cluster.arm_useradd_failure()
            self.armed += 1
        elif kind == "reindex":
            self.reindex()

    def reindex(self) -> None:
        """A full reindex through the API (the CLI's `reindex` when the API does not answer)."""
        url = self.cluster.url
        try:
            login = httpx.post(
                f"{url}/api/auth/login",
                json={"username": ADMIN, "password": ADMIN_PASSWORD},
                timeout=60,
            )
            token = login.json()["access_token"]
            response = httpx.post(
                f"{url}/api/admin/reindex",
                headers={"Authorization": f"Bearer {token}"},
                timeout=120,
            )
            ok = response.status_code == 200
        except (httpx.TransportError, KeyError, ValueError):
            ok = False
        if not ok:
            self.cluster.cli("reindex")
        self.done.append((time.time(), "reindex"))

    def injected(self) -> list[str]:
        """Every fault that happened (a useradd failure only when one really fired)."""
        fired = self.cluster.useradd_fired()
        return [kind for _, kind in self.done] + ["useradd-fails"] * len(fired)
