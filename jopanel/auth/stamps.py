"""The API's cache of password stamps (agent op `password_stamp`), so checking a session
against its account's shadow hash at every request costs a `stat`, not an agent call.

shadow-utils (chpasswd, passwd, usermod) and the agent replace the shadow file by rename,
so every change gives it a new inode: the cache holds while the file's (inode, size,
mtime, ctime) stays what it was when an entry was fetched, and is emptied as soon as it
differs. A change made in place still moves mtime and ctime.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

FileKey = tuple[int, int, int, int] | None
CACHE_MAX = 100_000


class PasswordStamps:
    def __init__(self, shadow: Path, fetch: Callable[[str], str | None]) -> None:
        self.shadow = shadow
        self._fetch = fetch
        self._key: FileKey = None
        self._stamps: dict[str, str | None] = {}
        self._lock = threading.Lock()

    def _file_key(self) -> FileKey:
        try:
            st = os.stat(self.shadow)
        except OSError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    def get(self, username: str) -> str | None:
        """The account's stamp now; asks the agent when the shadow file changed since."""
        key = self._file_key()  # before the fetch: a change during it empties the cache
        with self._lock:
            if key is not None and key == self._key and username in self._stamps:
                return self._stamps[username]
        stamp = self._fetch(username)
        with self._lock:
            if key != self._key or len(self._stamps) >= CACHE_MAX:
                self._stamps = {}
                self._key = key
            if key is not None:
                self._stamps[username] = stamp
        return stamp
