"""Bandwidth from nginx access logs, read incrementally and safely across rotation.

Lines are in JoPanel's `jopanel_usage` format (nginx_http.conf.j2):
`$msec $host $bytes_sent $body_bytes_sent ...`; other lines (written before the format
existed) are skipped. For each log JoPanel remembers the inode it read and how far
(complete lines only). When the log was rotated (`mv log log.1`, then nginx reopens) the
rest of the old inode is read from `log.1` first, then the new file from 0; when a log
is shorter than the offset (truncated in place) it is read again from 0.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# Read at most this much per call and log (a huge backlog is finished on the next calls).
MAX_READ = 256 << 20
CHUNK = 1 << 20


@dataclass
class Position:
    inode: int
    offset: int

    def dump(self) -> dict[str, int]:
        return {"inode": self.inode, "offset": self.offset}

    @classmethod
    def load(cls, raw: Any) -> Position | None:
        try:
            return cls(int(raw["inode"]), int(raw["offset"]))
        except (TypeError, KeyError, ValueError):
            return None


Totals = dict[str, dict[str, int]]  # month "YYYY-MM" -> host -> bytes sent


def count_line(line: bytes, totals: Totals) -> bool:
    """Add one line's $bytes_sent to its host and month; False for a foreign line."""
    fields = line.split(None, 4)
    if len(fields) < 4:
        return False
    try:
        when = float(fields[0])
        sent = int(fields[2])
        host = fields[1].decode("ascii").lower()
    except (ValueError, UnicodeDecodeError):
        return False
    if sent < 0 or not host or host == "-":
        return False
    month = datetime.fromtimestamp(when, UTC).strftime("%Y-%m")
    per_host = totals.setdefault(month, {})
    per_host[host] = per_host.get(host, 0) + sent
    return True


def _lines(fd: int, start: int, limit: int) -> Iterator[tuple[bytes, int]]:
    """Complete lines from `start`, each with the offset just after it."""
    offset, pending, read = start, b"", 0
    while read < limit:
        chunk = os.pread(fd, CHUNK, offset + len(pending))
        if not chunk:
            return
        read += len(chunk)
        data = pending + chunk
        at = 0
        while True:
            end = data.find(b"\n", at)
            if end < 0:
                break
            yield data[at:end], offset + end + 1
            at = end + 1
        offset += at
        pending = data[at:]


def _read_from(path: Path, inode: int, start: int, totals: Totals) -> int | None:
    """Count the complete lines of `path` from `start` if it is still `inode`; the new
    offset, or None when the file is gone or is another file now."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NOCTTY)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if st.st_ino != inode:
            return None
        if st.st_size < start:  # truncated in place: what is there now is new
            start = 0
        offset = start
        for line, after in _lines(fd, start, MAX_READ):
            count_line(line, totals)
            offset = after
        return offset
    finally:
        os.close(fd)


def _inode(path: Path) -> int | None:
    try:
        st = os.stat(path, follow_symlinks=False)
    except OSError:
        return None
    return st.st_ino


def read_log(path: Path, state: dict[str, Any], totals: Totals) -> dict[str, Any]:
    """Count what `path` (and, after a rotation, `path.1`) gained since `state`; returns
    the new state ({"current": Position, "previous": Position | None} as dicts)."""
    current = Position.load(state.get("current"))
    previous = Position.load(state.get("previous"))
    rotated = path.with_name(path.name + ".1")
    # The inode read before a rotation: its rest is in .1 (nginx may still write to it
    # until it reopens its logs).
    if previous is not None:
        offset = _read_from(rotated, previous.inode, previous.offset, totals)
        previous = Position(previous.inode, offset) if offset is not None else None
    live = _inode(path)
    if current is not None and live != current.inode:
        # Rotated since the last read: finish the old inode where it now lives.
        offset = _read_from(rotated, current.inode, current.offset, totals)
        if offset is None:
            offset = _read_from(path, current.inode, current.offset, totals)
        previous = Position(current.inode, offset) if offset is not None else previous
        current = None
    if live is not None:
        start = current.offset if current is not None else 0
        offset = _read_from(path, live, start, totals)
        current = Position(live, offset) if offset is not None else None
    return {
        "current": current.dump() if current else None,
        "previous": previous.dump() if previous else None,
    }
