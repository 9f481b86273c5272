"""Files root writes inside an account's home, without ever following the account's symlinks.

An account controls everything below its home: any component of `domains/x/public_html`
or `.ssh` may be a symlink planted to make root write elsewhere (`.ssh -> /etc`). So every
walk here opens one component at a time with `O_NOFOLLOW` relative to the previous
directory's descriptor, and every change (mkdir, chown, ACL, file swap) is made through
those descriptors: there is no path left to race on.

The web server reaches document roots through POSIX ACLs rather than group membership:
the home stays `user:user 0750` (so no other account can read it), and gets one extra
entry `user:www-data:--x` (traverse only, no listing); document roots get
`user:www-data:r-x` plus the same as a default ACL, so files created later with a tight
umask stay readable by nginx. ACLs are read and written as the kernel's
`system.posix_acl_*` xattrs on the open descriptor (no `setfacl` process, no path).
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ACCESS_ACL = "system.posix_acl_access"
DEFAULT_ACL = "system.posix_acl_default"
_ACL_VERSION = 2
_USER_OBJ, _USER, _GROUP_OBJ, _GROUP, _MASK, _OTHER = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
_UNDEFINED_ID = 0xFFFFFFFF
_ENTRY = struct.Struct("<HHI")
_HEADER = struct.Struct("<I")
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC

TRAVERSE = 0o1
READ_TRAVERSE = 0o5


class UnsafePath(OSError):
    """A component inside a home is a symlink or not a directory: left alone."""


@dataclass(frozen=True)
class AclEntry:
    tag: int
    perm: int
    id: int = _UNDEFINED_ID


def decode_acl(blob: bytes) -> list[AclEntry]:
    (version,) = _HEADER.unpack_from(blob, 0)
    if version != _ACL_VERSION:
        raise ValueError(f"unknown ACL xattr version {version}")
    return [
        AclEntry(*_ENTRY.unpack_from(blob, offset))
        for offset in range(_HEADER.size, len(blob), _ENTRY.size)
    ]


def encode_acl(entries: list[AclEntry]) -> bytes:
    ordered = sorted(entries, key=lambda e: (e.tag, e.id))
    return _HEADER.pack(_ACL_VERSION) + b"".join(_ENTRY.pack(e.tag, e.perm, e.id) for e in ordered)


def _read_acl(fd: int, name: str) -> list[AclEntry] | None:
    try:
        return decode_acl(os.getxattr(fd, name))
    except OSError as exc:
        if exc.errno in (errno.ENODATA, errno.EOPNOTSUPP):
            return None
        raise


def _base_entries(fd: int) -> list[AclEntry]:
    """The three entries every ACL has, from the access ACL if any, else from the mode."""
    access = _read_acl(fd, ACCESS_ACL)
    if access is not None:
        return [e for e in access if e.tag in (_USER_OBJ, _GROUP_OBJ, _OTHER)]
    mode = stat.S_IMODE(os.fstat(fd).st_mode)
    return [
        AclEntry(_USER_OBJ, (mode >> 6) & 7),
        AclEntry(_GROUP_OBJ, (mode >> 3) & 7),
        AclEntry(_OTHER, mode & 7),
    ]


def _with_user(entries: list[AclEntry], uid: int, perm: int) -> list[AclEntry]:
    kept = [e for e in entries if e.tag != _MASK and not (e.tag == _USER and e.id == uid)]
    kept.append(AclEntry(_USER, perm, uid))
    # The mask is the union of the group class, as setfacl recalculates it.
    mask = 0
    for entry in kept:
        if entry.tag in (_USER, _GROUP_OBJ, _GROUP):
            mask |= entry.perm
    return [*kept, AclEntry(_MASK, mask)]


def has_user_grant(fd: int, uid: int, perm: int, *, default: bool = False) -> bool:
    """True if `uid` has at least `perm` (through the mask) on the descriptor."""
    entries = _read_acl(fd, DEFAULT_ACL if default else ACCESS_ACL)
    if entries is None:
        return False
    mask = next((e.perm for e in entries if e.tag == _MASK), 7)
    return any(e.tag == _USER and e.id == uid and e.perm & mask & perm == perm for e in entries)


def grant_user(fd: int, uid: int, perm: int, *, default: bool = False) -> None:
    """Add (or widen to) `user:<uid>:<perm>` in the access or default ACL of `fd`."""
    if not default:
        entries = _read_acl(fd, ACCESS_ACL) or _base_entries(fd)
        os.setxattr(fd, ACCESS_ACL, encode_acl(_with_user(entries, uid, perm)))
        return
    entries = _read_acl(fd, DEFAULT_ACL) or _base_entries(fd)
    os.setxattr(fd, DEFAULT_ACL, encode_acl(_with_user(entries, uid, perm)))


# --- walking a home ----------------------------------------------------------------------


def _open_child(parent: int, name: str) -> int:
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=parent)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise UnsafePath(exc.errno, f"{name} is a symlink or not a directory") from None
        raise


@contextmanager
def open_home(home: Path) -> Iterator[int]:
    """The home directory itself, refusing a symlink in its place."""
    try:
        fd = os.open(home, _DIR_FLAGS)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise UnsafePath(exc.errno, f"{home} is a symlink or not a directory") from None
        raise
    try:
        yield fd
    finally:
        os.close(fd)


@contextmanager
def open_subdir(
    home_fd: int,
    relative: str,
    *,
    create: bool = False,
    owner: tuple[int, int] | None = None,
    mode: int = 0o755,
) -> Iterator[int]:
    """`relative` below the home, one component at a time; created (owned by `owner`) if asked.

    Raises FileNotFoundError when a component is missing and `create` is false, and
    UnsafePath when one is a symlink or a file.
    """
    fd = os.dup(home_fd)
    try:
        for part in [p for p in relative.split("/") if p]:
            if create:
                try:
                    os.mkdir(part, mode, dir_fd=fd)
                except FileExistsError:
                    pass
                else:
                    child = _open_child(fd, part)
                    if owner is not None:
                        os.fchown(child, *owner)
                    os.fchmod(child, mode)  # the umask must not narrow it
                    os.close(fd)
                    fd = child
                    continue
            child = _open_child(fd, part)
            os.close(fd)
            fd = child
        yield fd
    finally:
        os.close(fd)


def exists_at(home_fd: int, relative: str) -> bool:
    """Whether the directory `relative` exists below the home (UnsafePath if a link)."""
    try:
        with open_subdir(home_fd, relative):
            return True
    except FileNotFoundError:
        return False


@dataclass(frozen=True)
class Blocker:
    """A component of a path below the home that is not a real directory."""

    path: str  # relative to the home
    symlink: bool  # else a file, fifo, socket...: anything but a directory

    def describe(self) -> str:
        return "a symlink" if self.symlink else "not a directory"


def find_blocker(home_fd: int, relative: str) -> Blocker | None:
    """The first component of `relative` that is a symlink or not a directory.

    None when every component that exists is a real directory (the rest may be missing).
    Only lstat and `O_NOFOLLOW` opens: nothing is followed.
    """
    parts = [p for p in relative.split("/") if p]
    fd = os.dup(home_fd)
    try:
        for index, part in enumerate(parts):
            here = "/".join(parts[: index + 1])
            try:
                st = os.stat(part, dir_fd=fd, follow_symlinks=False)
            except FileNotFoundError:
                return None
            if not stat.S_ISDIR(st.st_mode):
                return Blocker(here, symlink=stat.S_ISLNK(st.st_mode))
            try:
                child = _open_child(fd, part)
            except UnsafePath:  # swapped for a link since the lstat
                return Blocker(here, symlink=True)
            except FileNotFoundError:
                return None
            os.close(fd)
            fd = child
        return None
    finally:
        os.close(fd)


def clear_blocker(home_fd: int, blocker: Blocker) -> str | None:
    """Take `blocker` out of the way so a directory can be made in its place.

    A symlink is unlinked (never followed: its target is not touched); anything else that
    is not a directory is renamed aside in the same directory, keeping the account's data.
    Returns the new name of a moved entry. The parent is reached with `O_NOFOLLOW` opens.
    """
    parent, _, name = blocker.path.rpartition("/")
    try:
        with open_subdir(home_fd, parent) as parent_fd:
            return _clear_entry(parent_fd, name)
    except FileNotFoundError:  # gone meanwhile: nothing left in the way
        return None


def _clear_entry(parent_fd: int, name: str) -> str | None:
    st = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
    if stat.S_ISDIR(st.st_mode):
        return None
    if stat.S_ISLNK(st.st_mode):
        os.unlink(name, dir_fd=parent_fd)  # removes the link itself, never its target
        return None
    aside = f"{name}.jopanel-moved-{secrets.token_hex(4)}"
    os.rename(name, aside, src_dir_fd=parent_fd, dst_dir_fd=parent_fd)
    return aside


# --- one file in a directory descriptor --------------------------------------------------


@dataclass(frozen=True)
class FileState:
    content: bytes
    uid: int
    gid: int
    mode: int


def read_file_at(dir_fd: int, name: str) -> FileState | None:
    """A regular file in `dir_fd` (a symlink counts as absent: it will be replaced)."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return None
        raise
    with os.fdopen(fd, "rb") as handle:
        st = os.fstat(handle.fileno())
        if not stat.S_ISREG(st.st_mode):
            return None
        return FileState(handle.read(), st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode))


def write_file_at(
    dir_fd: int, name: str, data: bytes, *, owner: tuple[int, int], mode: int
) -> None:
    """Atomically replace `name` in `dir_fd`: temp file, fchown/fchmod, fsync, rename."""
    tmp = f".{name}.tmp-{secrets.token_hex(6)}"
    fd = os.open(
        tmp,
        os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
        0o600,
        dir_fd=dir_fd,
    )
    try:
        try:
            os.fchown(fd, *owner)
            os.fchmod(fd, mode)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        try:
            os.unlink(tmp, dir_fd=dir_fd)
        except FileNotFoundError:
            pass
        raise
    os.fsync(dir_fd)


def remove_file_at(dir_fd: int, name: str) -> bool:
    try:
        os.unlink(name, dir_fd=dir_fd)
    except FileNotFoundError:
        return False
    return True
