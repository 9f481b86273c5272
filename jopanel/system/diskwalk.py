"""Measure a directory tree's disk use the way `du -sx` does, within a time budget.

os.scandir, no symlink followed, allocated blocks (st_blocks) rather than apparent sizes,
a file with several hard links counted once, other filesystems mounted inside not
entered. A walk that runs out of time stops and says so (`complete` False).
"""

from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class WalkResult:
    bytes: int
    files: int
    complete: bool
    seconds: float


def walk(top: Path, *, budget_s: float = 20.0) -> WalkResult:
    started = time.monotonic()
    deadline = started + budget_s
    try:
        st = os.lstat(top)
    except FileNotFoundError:
        return WalkResult(0, 0, True, 0.0)
    if not stat.S_ISDIR(st.st_mode):
        return WalkResult(st.st_blocks * 512, 1, True, 0.0)
    device = st.st_dev
    total = st.st_blocks * 512
    files = 0
    seen: set[int] = set()  # inodes of files with more than one link
    stack = [os.fspath(top)]
    complete = True
    while stack:
        if time.monotonic() > deadline:
            complete = False
            break
        directory = stack.pop()
        try:
            entries = os.scandir(directory)
        except OSError:  # vanished or unreadable: counted as what we saw
            continue
        with entries:
            for entry in entries:
                try:
                    est = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if est.st_dev != device:
                    continue  # a mount inside the home belongs to another filesystem
                if stat.S_ISDIR(est.st_mode):
                    total += est.st_blocks * 512
                    stack.append(entry.path)
                    continue
                files += 1
                if est.st_nlink > 1:
                    if est.st_ino in seen:
                        continue
                    seen.add(est.st_ino)
                total += est.st_blocks * 512
    return WalkResult(total, files, complete, time.monotonic() - started)
