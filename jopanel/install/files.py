"""Files install writes: content, owner and mode set exactly, rewritten only when they differ."""

from __future__ import annotations

import os
from pathlib import Path

from ..atomic import ensure_dir, replace_file


def put_file(path: Path, data: bytes, mode: int, uid: int = 0, gid: int = 0) -> bool:
    """`path` holds `data` with `mode` and uid:gid afterwards; True when anything changed."""
    ensure_dir(path.parent, 0o755)
    try:
        st = os.lstat(path)
        same = path.is_file() and not path.is_symlink() and path.read_bytes() == data
    except FileNotFoundError:
        st, same = None, False
    if not same:
        replace_file(path, data, mode)
        os.chown(path, uid, gid)
        return True
    assert st is not None
    return fix_owner(path, mode, uid, gid)


def fix_owner(path: Path, mode: int, uid: int, gid: int) -> bool:
    """Give an existing file or directory `mode` and uid:gid; True when it changed."""
    st = os.lstat(path)
    changed = False
    if (st.st_uid, st.st_gid) != (uid, gid):
        os.lchown(path, uid, gid)
        changed = True
    if st.st_mode & 0o7777 != mode:
        os.chmod(path, mode)
        changed = True
    return changed


def put_dir(path: Path, mode: int, uid: int = 0, gid: int = 0) -> bool:
    """`path` is a directory with `mode` and uid:gid; True when it was made or changed."""
    made = not path.is_dir()
    ensure_dir(path, mode)
    return fix_owner(path, mode, uid, gid) or made
