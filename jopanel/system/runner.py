"""The one way JoPanel runs a command: an argv list, never a shell.

Binaries are resolved to absolute paths once, the environment is explicit, every call
has a timeout, and secrets are shown as **** in logs and errors.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..errors import CommandFailed

log = logging.getLogger("jopanel.runner")

SAFE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
BASE_ENV = {"PATH": SAFE_PATH, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}


class Secret(str):
    """A command argument that must never be logged."""

    def masked(self) -> str:
        return "****"


@dataclass(frozen=True)
class Completed:
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float


def masked(argv: Sequence[str]) -> list[str]:
    return [a.masked() if isinstance(a, Secret) else str(a) for a in argv]


class Runner:
    """Runs argv lists. Subclassing is how tests count or observe commands."""

    _resolved: dict[tuple[str, str], str] = {}
    # Where binaries are looked up. Only a sandbox root may put a directory before
    # SAFE_PATH (Settings.command_path, set by AgentContext): how the soak harness shims
    # a command to fail now and then.
    search_path: str = SAFE_PATH

    def which(self, name: str) -> str:
        if name.startswith("/"):
            return name
        key = (self.search_path, name)
        found = self._resolved.get(key)
        if found is None:
            found = shutil.which(name, path=self.search_path)
            if found is None:
                raise CommandFailed(
                    f"{name} is not installed", argv=[name], returncode=127, output=""
                )
            self._resolved[key] = found
        return found

    def run(
        self,
        argv: Sequence[str],
        *,
        input: str | None = None,
        timeout: float = 60.0,
        env: Mapping[str, str] | None = None,
        check: bool = True,
    ) -> Completed:
        if not argv:
            raise ValueError("empty argv")
        full = [self.which(argv[0]), *(str(a) for a in argv[1:])]
        shown = masked([full[0], *argv[1:]])
        started = time.monotonic()
        try:
            proc = subprocess.run(  # noqa: S603 - argv list, no shell, absolute binary
                full,
                input=input,
                capture_output=True,
                text=True,
                timeout=timeout,
                env={**BASE_ENV, **(env or {})},
                close_fds=True,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise CommandFailed(
                f"{' '.join(shown)} timed out after {timeout:.0f}s",
                argv=shown,
                returncode=-1,
                output=str(exc.output or ""),
            ) from None
        seconds = time.monotonic() - started
        log.debug("ran %s -> %s in %.3fs", shown, proc.returncode, seconds)
        done = Completed(shown, proc.returncode, proc.stdout, proc.stderr, seconds)
        if check and proc.returncode != 0:
            detail = (proc.stderr or proc.stdout).strip().splitlines()
            reason = detail[-1] if detail else "no output"
            raise CommandFailed(
                f"{shown[0].rsplit('/', 1)[-1]} exited {proc.returncode}: {reason}",
                argv=shown,
                returncode=proc.returncode,
                output=(proc.stdout + proc.stderr)[-4000:],
            )
        return done
