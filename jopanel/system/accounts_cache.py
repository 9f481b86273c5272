"""SystemAccounts whose readers parse passwd/shadow/group once per version of the file.

A migration looks up thousands of accounts in a passwd that grows to thousands of lines;
parsing it anew for each lookup makes a run quadratic. shadow-utils replace these files
by rename, so (inode, size, mtime) changes with every write and a cached parse is never
stale. The parsers are those of system/accounts.py; only the caching is here. An agent
context uses it when asked (`LocalAgent(settings, cached_accounts=True)`, what
`migrate-v1` runs its ops on): a long-lived agent serving many writers keeps the plain
readers.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ..settings import Settings
from .accounts import (
    PasswdEntry,
    SystemAccounts,
    parse_group,
    parse_passwd,
    parse_shadow,
)
from .runner import Runner

T = TypeVar("T")
Key = tuple[int, int, int] | None


class CachedAccounts(SystemAccounts):
    def __init__(self, settings: Settings, runner: Runner) -> None:
        super().__init__(settings, runner)
        self._cache: dict[str, tuple[Key, Any]] = {}

    def _parsed(self, relative: str, parse: Callable[[Path], T]) -> T:
        path = Path(relative) if relative.startswith("/") else self.settings.path(relative)
        try:
            st = os.stat(path)
            key: Key = (st.st_ino, st.st_size, st.st_mtime_ns)
        except FileNotFoundError:
            key = None
        cached = self._cache.get(relative)
        if cached is not None and cached[0] == key:
            value: T = cached[1]
            return value
        parsed = parse(path)
        self._cache[relative] = (key, parsed)
        return parsed

    def passwd(self) -> dict[str, PasswdEntry]:
        return dict(self._parsed("etc/passwd", parse_passwd))

    def get(self, name: str) -> PasswdEntry | None:
        return self._parsed("etc/passwd", parse_passwd).get(name)

    def shadow_hash(self, name: str) -> str | None:
        return self._parsed("etc/shadow", parse_shadow).get(name)

    def groups(self) -> dict[str, int]:
        return dict(self._parsed("etc/group", parse_group))

    def host_names(self) -> set[str]:
        names = set(self._parsed("etc/passwd", parse_passwd))
        if self.settings.is_sandbox:
            names |= set(self._parsed("/etc/passwd", parse_passwd))
        return names
