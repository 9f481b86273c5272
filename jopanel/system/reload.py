"""Coalescing reloads: many changes in a burst, one reload per service.

Changing a file only marks its service dirty. A background timer reloads once the burst
has been quiet for `quiet` seconds (or `max_wait` after the first change, so a steady
stream still gets reloads); `flush()` reloads at once, and a process exiting flushes what
is pending. So a hundred domain changes cost one nginx reload, not a hundred.

The commands are settings (`nginx_reload`, `phpfpm_reload` with `{version}`,
`sshd_reload`). On the real root an empty setting means the distribution's systemd unit;
in a sandbox root it means nothing is signalled at all: the host's daemons are never
touched from a sandbox.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import JoPanelError
from ..settings import Settings
from .runner import Runner

log = logging.getLogger("jopanel.reload")

DEFAULT_COMMANDS = {
    "nginx": ["systemctl", "reload", "nginx"],
    "php-fpm": ["systemctl", "reload", "php{version}-fpm"],
    "sshd": ["systemctl", "reload", "ssh"],
}


class Reloader:
    """Marks services dirty and reloads each once per burst (see the module docstring)."""

    def __init__(
        self, settings: Settings, runner: Runner, *, quiet: float = 0.5, max_wait: float = 10.0
    ) -> None:
        self.settings = settings
        self.runner = runner
        self.quiet = quiet
        self.max_wait = max_wait
        self.requested: Counter[str] = Counter()  # marks, one per changed file
        self.reloads: Counter[str] = Counter()  # reloads actually run
        self.failures: Counter[str] = Counter()
        self._dirty: set[str] = set()
        self._first = 0.0
        self._last = 0.0
        self._lock = threading.Lock()
        self._reload_lock = threading.Lock()
        self._timer: threading.Thread | None = None
        self._holds = 0

    def command(self, service: str) -> list[str] | None:
        """The argv that reloads `service` ("nginx", "php-fpm:8.2", "sshd"), or None."""
        family, _, version = service.partition(":")
        configured = {
            "nginx": self.settings.nginx_reload,
            "php-fpm": self.settings.phpfpm_reload,
            "sshd": self.settings.sshd_reload,
        }[family]
        argv = list(configured)
        if not argv:
            if self.settings.is_sandbox:
                return None
            argv = list(DEFAULT_COMMANDS[family])
        return [a.replace("{version}", version) for a in argv]

    def mark(self, service: str) -> None:
        """Note that `service` needs a reload; it happens once the burst is over."""
        with self._lock:
            now = time.monotonic()
            if not self._dirty:
                self._first = now
            self._dirty.add(service)
            self._last = now
            self.requested[service] += 1
            if self._timer is None:
                self._timer = threading.Thread(
                    target=self._wait_then_flush, name="jopanel-reload", daemon=True
                )
                self._timer.start()

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold reloads back for a long batch (a rebuild), then reload once at its end."""
        with self._lock:
            self._holds += 1
        try:
            yield
        finally:
            with self._lock:
                self._holds -= 1
                release = self._holds == 0
            if release:
                self.flush()

    @property
    def pending(self) -> set[str]:
        with self._lock:
            return set(self._dirty)

    def _wait_then_flush(self) -> None:
        while True:
            with self._lock:
                if not self._dirty:
                    self._timer = None
                    return
                due = min(self._last + self.quiet, self._first + self.max_wait)
                wait = due - time.monotonic()
                if self._holds:
                    wait = self.quiet  # a batch is running: its end reloads
                elif wait <= 0:
                    services = self._take()
                    self._timer = None
                    break
            time.sleep(min(wait, 0.05))
        self._run(services)

    def _take(self) -> set[str]:
        services, self._dirty = self._dirty, set()
        return services

    def flush(self) -> list[str]:
        """Reload every dirty service now; returns the ones reloaded."""
        with self._lock:
            services = self._take()
        return self._run(services)

    def _run(self, services: set[str]) -> list[str]:
        done = []
        with self._reload_lock:
            for service in sorted(services):
                argv = self.command(service)
                if argv is None:
                    log.debug("sandbox root: not signalling %s", service)
                    continue
                try:
                    self.runner.run(argv, timeout=60)
                except JoPanelError as exc:  # the next change retries; never kill the agent
                    self.failures[service] += 1
                    log.error("reload of %s failed: %s", service, exc)
                    continue
                self.reloads[service] += 1
                done.append(service)
        return done


_reloaders: dict[tuple[object, ...], Reloader] = {}
_registry_lock = threading.Lock()


def reloader_for(settings: Settings, runner: Runner) -> Reloader:
    """The process's reloader for these settings (one per root and set of commands)."""
    key = (
        settings.root,
        tuple(settings.nginx_reload),
        tuple(settings.phpfpm_reload),
        tuple(settings.sshd_reload),
        id(runner),
    )
    with _registry_lock:
        reloader = _reloaders.get(key)
        if reloader is None:
            reloader = _reloaders[key] = Reloader(settings, runner)
        return reloader


@atexit.register
def flush_all() -> None:
    """A CLI process exits right after its op: reload what it changed before it goes."""
    for reloader in list(_reloaders.values()):
        reloader.flush()
