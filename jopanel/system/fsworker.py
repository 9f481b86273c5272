"""`python -I -S fsworker.py UID GID HOME_FD`: one file-manager operation as the account.

The agent (root) opens the account's home once, refusing a symlink in its place, and
starts this script with that descriptor. The script drops to the account's uid/gid
(no supplementary groups, no new privileges) before reading anything, so the kernel
checks every access against the account's own rights. It then reads one JSON request
line on stdin (`{"op", "args", "limits"}`), and for `write` the file's bytes after it,
and answers one JSON line on stdout (`{"ok": true, "data"}` or `{"ok": false, "error",
"message", "field"}`); `download` follows its answer with the file's bytes.

Every path is resolved relative to the home descriptor with `openat2` and
RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS: `..`, absolute paths and
a symlink at any level (including one swapped in while the operation runs) fail in the
kernel, never by comparing strings. Without openat2 (kernels before 5.6) the same walk is
done one component at a time with O_NOFOLLOW. Changes are then made through directory
descriptors (`*at` calls on a name), so a renamed or swapped parent cannot redirect them.

The privileges are dropped here rather than by `subprocess(user=...)` because the
interpreter may live where the account cannot execute it (a root-only pyenv). Only the
standard library is imported: with `-I -S` the interpreter starts in ~15 ms.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import stat
import sys
import traceback
import unicodedata
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    import zipfile
else:
    zipfile = None  # imported by load_zipfile, only for zip/unzip (16 ms of start-up)


def load_zipfile() -> None:
    """Import zipfile and the codec it loads lazily, while the library is still readable."""
    global zipfile
    import encodings.cp437  # noqa: F401, PLC0415
    import zipfile as module  # noqa: PLC0415

    zipfile = module


# --- paths -------------------------------------------------------------------------------

MAX_PATH = 4096
MAX_NAME = 255


class Refused(Exception):
    """An answer other than success: code is one of the JoPanel error codes."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


def check_path(value: str, *, allow_home: bool = True) -> str:
    """`value` as a canonical path relative to the home ("" is the home itself).

    Refused: absolute, NUL/control/format characters, backslashes, `.`/`..`/empty
    components, names over 255 bytes, paths over 4096 bytes. One trailing slash is fine.
    Shared by the API, the agent's payload models and this worker (ValueError if bad).
    """
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if len(value.encode("utf-8", "surrogatepass")) > MAX_PATH:
        raise ValueError(f"longer than {MAX_PATH} bytes")
    if value.startswith("/"):
        raise ValueError("must be relative to the home")
    for char in value:
        if char == "\\":
            raise ValueError("backslashes are not allowed")
        if unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn"):
            raise ValueError(f"character U+{ord(char):04X} is not allowed")
    path = value[:-1] if value.endswith("/") else value
    if path in ("", "."):
        if not allow_home:
            raise ValueError("must name something inside the home")
        return ""
    for part in path.split("/"):
        if part in ("", ".", ".."):
            raise ValueError(f"component {part!r} is not allowed")
        if len(part.encode("utf-8")) > MAX_NAME:
            raise ValueError(f"a name is longer than {MAX_NAME} bytes")
    return path


def split_parent(path: str) -> tuple[str, str]:
    parent, _, name = path.rpartition("/")
    return parent, name


# --- openat2 -----------------------------------------------------------------------------

SYS_OPENAT2 = 437  # x86_64 and aarch64 alike
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
RESOLVE = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS
RENAME_NOREPLACE = 1
O_PATH = getattr(os, "O_PATH", 0o10000000)


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_HAS_OPENAT2 = True


def _openat2(dir_fd: int, path: str, flags: int, mode: int) -> int:
    how = _OpenHow(flags | os.O_CLOEXEC, mode if flags & os.O_CREAT else 0, RESOLVE)
    for _ in range(16):  # EAGAIN: a rename raced the lookup; retrying is what the man page says
        fd = _libc.syscall(
            SYS_OPENAT2,
            ctypes.c_int(dir_fd),
            ctypes.c_char_p(os.fsencode(path)),
            ctypes.byref(how),
            ctypes.c_size_t(ctypes.sizeof(how)),
        )
        if fd >= 0:
            return int(fd)
        err = ctypes.get_errno()
        if err != errno.EAGAIN:
            raise OSError(err, os.strerror(err), path)
    raise OSError(errno.EAGAIN, "path kept changing", path)


def _walk_open(dir_fd: int, path: str, flags: int, mode: int) -> int:
    """The fallback: one component at a time, never following a symlink."""
    parts = path.split("/")
    fd = os.dup(dir_fd)
    try:
        for part in parts[:-1]:
            child = os.open(part, O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
            os.close(fd)
            fd = child
        return os.open(parts[-1], flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=fd)
    finally:
        os.close(fd)


def open_beneath(home: int, path: str, flags: int, mode: int = 0o600) -> int:
    """Open `path` (checked, relative) below the home descriptor, no symlink anywhere."""
    global _HAS_OPENAT2
    target = path or "."
    if _HAS_OPENAT2 and os.environ.get("JOPANEL_FS_NO_OPENAT2") != "1":
        try:
            return _openat2(home, target, flags, mode)
        except OSError as exc:
            if exc.errno != errno.ENOSYS:
                raise
            _HAS_OPENAT2 = False  # kernel before 5.6
    return _walk_open(home, target, flags | os.O_NOFOLLOW, mode)


class Home:
    """The home descriptor plus the helpers every op uses."""

    def __init__(self, fd: int, limits: dict[str, int]) -> None:
        self.fd = fd
        self.uid = os.getuid()
        self.limits = limits

    def open(self, path: str, flags: int, mode: int = 0o600) -> int:
        return open_beneath(self.fd, path, flags, mode)

    def dir(self, path: str) -> int:
        return self.open(path, os.O_RDONLY | os.O_DIRECTORY)

    def parent(self, path: str, field: str = "path") -> tuple[int, str]:
        """(descriptor of the directory holding `path`, its last name)."""
        if not path:
            raise Refused("invalid", "must name something inside the home", field)
        parent, name = split_parent(path)
        return self.dir(parent), name

    def check_linked(self, st: os.stat_result, what: str) -> None:
        """A hard link to a file the account does not own may be a file from outside."""
        if not stat.S_ISDIR(st.st_mode) and st.st_nlink > 1 and st.st_uid != self.uid:
            raise Refused("forbidden", f"{what} is a hard link to a file you do not own")

    def open_regular(self, path: str, flags: int = os.O_RDONLY) -> tuple[int, os.stat_result]:
        fd = self.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK)  # NONBLOCK: no fifo hang
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            raise Refused("invalid", f"{path or '.'} is not a regular file", "path")
        try:
            self.check_linked(st, path)
        except Refused:
            os.close(fd)
            raise
        return fd, st


def lstat_at(dir_fd: int, name: str) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def rename_noreplace(src_dir: int, src: str, dst_dir: int, dst: str) -> None:
    result = _libc.renameat2(
        ctypes.c_int(src_dir),
        ctypes.c_char_p(os.fsencode(src)),
        ctypes.c_int(dst_dir),
        ctypes.c_char_p(os.fsencode(dst)),
        ctypes.c_uint(RENAME_NOREPLACE),
    )
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), dst)


def temp_name(name: str) -> str:
    return f".{name[:180]}.jopanel-{os.urandom(6).hex()}"


def _display(name: str) -> str:
    """A name as JSON can carry it (bytes that are not UTF-8 shown as U+FFFD)."""
    return os.fsencode(name).decode("utf-8", "replace")


def kind_of(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISLNK(mode):
        return "symlink"
    return "other"


# --- reading -----------------------------------------------------------------------------


def op_list(home: Home, args: dict[str, Any]) -> dict[str, Any]:
    path = check_path(args["path"])
    offset, limit = int(args.get("offset", 0)), int(args.get("limit", 1000))
    fd = home.dir(path)
    rows: list[dict[str, Any]] = []
    try:
        with os.scandir(fd) as entries:
            for entry in entries:
                if len(rows) >= home.limits["list_max"]:
                    raise Refused("too_large", f"more than {home.limits['list_max']} entries")
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue  # removed while we listed
                rows.append(
                    {
                        "name": _display(entry.name),
                        "type": kind_of(st.st_mode),
                        "size": st.st_size,
                        "mode": f"{stat.S_IMODE(st.st_mode):04o}",
                        "mtime": int(st.st_mtime),
                        "mine": st.st_uid == home.uid,
                    }
                )
    finally:
        os.close(fd)
    rows.sort(key=lambda r: (r["type"] != "dir", r["name"]))
    return {
        "path": path,
        "total": len(rows),
        "offset": offset,
        "entries": rows[offset : offset + limit],
    }


def _is_binary(data: bytes) -> bool:
    if b"\x00" in data[:8192]:
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def op_read(home: Home, args: dict[str, Any]) -> dict[str, Any]:
    path = check_path(args["path"], allow_home=False)
    cap = home.limits["text_max"]
    fd, st = home.open_regular(path)
    try:
        if st.st_size > cap:
            raise Refused("too_large", f"{st.st_size} bytes; the editor opens up to {cap}", "path")
        with os.fdopen(os.dup(fd), "rb") as handle:
            data = handle.read(cap + 1)
    finally:
        os.close(fd)
    if len(data) > cap:
        raise Refused("too_large", f"larger than {cap} bytes", "path")
    binary = _is_binary(data)
    return {
        "path": path,
        "size": len(data),
        "mode": f"{stat.S_IMODE(st.st_mode):04o}",
        "mtime": int(st.st_mtime),
        "binary": binary,
        "content": None if binary else data.decode("utf-8"),
    }


def op_download(home: Home, args: dict[str, Any], out: IO[bytes]) -> None:
    path = check_path(args["path"], allow_home=False)
    fd, st = home.open_regular(path)
    try:
        answer(out, {"ok": True, "data": {"path": path, "size": st.st_size}})
        remaining = st.st_size
        while remaining > 0:  # exactly the announced size; a shrunk file ends the stream short
            chunk = os.read(fd, min(remaining, 1 << 20))
            if not chunk:
                break
            out.write(chunk)
            remaining -= len(chunk)
        out.flush()
    finally:
        os.close(fd)


# --- writing -----------------------------------------------------------------------------


def op_write(home: Home, args: dict[str, Any], data: IO[bytes]) -> dict[str, Any]:
    """Atomic: a temp file in the same directory, renamed over the target at the end."""
    path = check_path(args["path"], allow_home=False)
    length, cap = int(args["length"]), home.limits["write_max"]
    if length > cap:
        raise Refused("too_large", f"{length} bytes; at most {cap}")
    parent, name = home.parent(path)
    try:
        existing = lstat_at(parent, name)
        mode = 0o644
        if existing is not None:
            if not args.get("overwrite"):
                raise Refused("conflict", f"{path} already exists", "path")
            if not stat.S_ISREG(existing.st_mode):
                raise Refused("invalid", f"{path} is not a regular file", "path")
            home.check_linked(existing, path)
            mode = stat.S_IMODE(existing.st_mode)
        tmp = temp_name(name)
        fd = os.open(
            tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=parent
        )
        try:
            with os.fdopen(fd, "wb", closefd=True) as handle:
                remaining = length
                while remaining > 0:
                    chunk = data.read(min(remaining, 1 << 20))
                    if not chunk:
                        raise Refused("invalid", "the upload ended early")
                    handle.write(chunk)
                    remaining -= len(chunk)
                handle.flush()
                os.fchmod(handle.fileno(), mode & 0o777)
                os.fsync(handle.fileno())
            if existing is not None:
                os.rename(tmp, name, src_dir_fd=parent, dst_dir_fd=parent)
            else:
                rename_noreplace(parent, tmp, parent, name)
        except BaseException:
            try:
                os.unlink(tmp, dir_fd=parent)
            except OSError:
                pass
            raise
        st = os.stat(name, dir_fd=parent, follow_symlinks=False)
    finally:
        os.close(parent)
    return {"path": path, "size": st.st_size, "mode": f"{stat.S_IMODE(st.st_mode):04o}"}


def op_mkdir(home: Home, args: dict[str, Any]) -> dict[str, Any]:
    path = check_path(args["path"], allow_home=False)
    parent, name = home.parent(path)
    try:
        os.mkdir(name, 0o755, dir_fd=parent)
    finally:
        os.close(parent)
    return {"path": path}


def op_move(home: Home, args: dict[str, Any]) -> dict[str, Any]:
    src = check_path(args["source"], allow_home=False)
    dst = check_path(args["destination"], allow_home=False)
    src_dir, src_name = home.parent(src, "source")
    try:
        dst_dir, dst_name = home.parent(dst, "destination")
        try:
            rename_noreplace(src_dir, src_name, dst_dir, dst_name)
        finally:
            os.close(dst_dir)
    finally:
        os.close(src_dir)
    return {"source": src, "destination": dst}


def remove_at(dir_fd: int, name: str) -> int:
    """Remove `name` and, for a directory, all below it; never follows a symlink."""
    st = lstat_at(dir_fd, name)
    if st is None:
        return 0
    if not stat.S_ISDIR(st.st_mode):
        os.unlink(name, dir_fd=dir_fd)
        return 1
    try:
        fd = os.open(
            name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd
        )
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
        os.unlink(name, dir_fd=dir_fd)  # swapped for a symlink meanwhile: the link goes
        return 1
    removed = 0
    try:
        dst = os.fstat(fd)
        if dst.st_uid == os.getuid() and dst.st_mode & 0o300 != 0o300:
            os.fchmod(fd, stat.S_IMODE(dst.st_mode) | 0o700)  # own dir made read-only
        for child in os.listdir(fd):
            removed += remove_at(fd, child)
    finally:
        os.close(fd)
    os.rmdir(name, dir_fd=dir_fd)
    return removed + 1


def op_delete(home: Home, args: dict[str, Any]) -> dict[str, Any]:
    path = check_path(args["path"], allow_home=False)
    parent, name = home.parent(path)
    try:
        if lstat_at(parent, name) is None:
            raise Refused("not_found", f"{path} does not exist", "path")
        removed = remove_at(parent, name)
    finally:
        os.close(parent)
    return {"path": path, "removed": removed}


def op_chmod(home: Home, args: dict[str, Any]) -> dict[str, Any]:
    path = check_path(args["path"], allow_home=False)
    mode = int(args["mode"])
    if mode & ~0o777:
        raise Refused("invalid", "only permission bits (0000-0777)", "mode")
    parent, name = home.parent(path)
    try:
        st = lstat_at(parent, name)
        if st is None:
            raise Refused("not_found", f"{path} does not exist", "path")
        if stat.S_ISLNK(st.st_mode):
            raise Refused("invalid", f"{path} is a symlink", "path")
        home.check_linked(st, path)
        try:
            # AT_SYMLINK_NOFOLLOW: glibc pins the entry with O_PATH first, so a symlink
            # swapped in after the lstat is refused (EOPNOTSUPP), never followed.
            os.chmod(name, mode, dir_fd=parent, follow_symlinks=False)
        except OSError as exc:
            if exc.errno in (errno.EOPNOTSUPP, errno.ENOTSUP):
                raise Refused("invalid", f"{path} is a symlink", "path") from None
            raise
    finally:
        os.close(parent)
    return {"path": path, "mode": f"{mode:04o}"}


# --- copy --------------------------------------------------------------------------------


class Budget:
    """Entries and bytes a recursive operation may still use."""

    def __init__(self, entries: int, size: int) -> None:
        self.entries, self.size = entries, size

    def take(self, entries: int = 0, size: int = 0) -> None:
        self.entries -= entries
        self.size -= size
        if self.entries < 0:
            raise Refused("too_large", "too many entries")
        if self.size < 0:
            raise Refused("too_large", "too many bytes")


def _copy_file(home: Home, src_dir: int, name: str, dst_dir: int, dst: str, budget: Budget) -> None:
    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=src_dir)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return
        home.check_linked(st, name)
        budget.take(1, st.st_size)
        out = os.open(
            dst,
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
            0o600,
            dir_fd=dst_dir,
        )
        try:
            while True:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    break
                os.write(out, chunk)
            os.fchmod(out, stat.S_IMODE(st.st_mode) & 0o777)
        finally:
            os.close(out)
    finally:
        os.close(fd)


def _copy_tree(home: Home, src_fd: int, dst_fd: int, skip: tuple[int, int], budget: Budget) -> None:
    for name in sorted(os.listdir(src_fd)):
        st = lstat_at(src_fd, name)
        if st is None or (st.st_dev, st.st_ino) == skip:
            continue
        if stat.S_ISDIR(st.st_mode):
            budget.take(1)
            child = os.open(
                name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=src_fd
            )
            try:
                os.mkdir(name, 0o700, dir_fd=dst_fd)
                out = os.open(
                    name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dst_fd
                )
                try:
                    _copy_tree(home, child, out, skip, budget)
                    os.fchmod(out, stat.S_IMODE(os.fstat(child).st_mode) & 0o777)
                finally:
                    os.close(out)
            finally:
                os.close(child)
        elif stat.S_ISREG(st.st_mode):
            _copy_file(home, src_fd, name, dst_fd, name, budget)
        elif stat.S_ISLNK(st.st_mode):
            budget.take(1)
            os.symlink(os.readlink(name, dir_fd=src_fd), name, dir_fd=dst_fd)  # as a link


def op_copy(home: Home, args: dict[str, Any]) -> dict[str, Any]:
    src = check_path(args["source"], allow_home=False)
    dst = check_path(args["destination"], allow_home=False)
    budget = Budget(home.limits["tree_entries"], home.limits["tree_bytes"])
    src_dir, src_name = home.parent(src, "source")
    try:
        dst_dir, dst_name = home.parent(dst, "destination")
        try:
            st = lstat_at(src_dir, src_name)
            if st is None:
                raise Refused("not_found", f"{src} does not exist", "source")
            if lstat_at(dst_dir, dst_name) is not None:
                raise Refused("conflict", f"{dst} already exists", "destination")
            try:
                if stat.S_ISDIR(st.st_mode):
                    child = os.open(
                        src_name,
                        os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                        dir_fd=src_dir,
                    )
                    try:
                        os.mkdir(dst_name, 0o700, dir_fd=dst_dir)
                        out = os.open(
                            dst_name,
                            os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                            dir_fd=dst_dir,
                        )
                        try:
                            made = os.fstat(out)
                            _copy_tree(home, child, out, (made.st_dev, made.st_ino), budget)
                            os.fchmod(out, stat.S_IMODE(os.fstat(child).st_mode) & 0o777)
                        finally:
                            os.close(out)
                    finally:
                        os.close(child)
                elif stat.S_ISREG(st.st_mode):
                    _copy_file(home, src_dir, src_name, dst_dir, dst_name, budget)
                else:
                    raise Refused("invalid", f"{src} is not a file or directory", "source")
            except BaseException:
                remove_at(dst_dir, dst_name)  # no half copy left behind
                raise
        finally:
            os.close(dst_dir)
    finally:
        os.close(src_dir)
    return {"source": src, "destination": dst}


# --- zip ---------------------------------------------------------------------------------


def _zip_add(
    home: Home,
    zf: zipfile.ZipFile,
    dir_fd: int,
    name: str,
    arc: str,
    skip: tuple[int, int],
    budget: Budget,
    skipped: list[str],
) -> None:
    st = lstat_at(dir_fd, name)
    if st is None or (st.st_dev, st.st_ino) == skip:
        return
    if stat.S_ISDIR(st.st_mode):
        budget.take(1)
        fd = os.open(
            name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd
        )
        try:
            info = zipfile.ZipInfo(arc + "/")
            info.external_attr = (stat.S_IFDIR | (stat.S_IMODE(st.st_mode) & 0o777)) << 16 | 0x10
            zf.writestr(info, b"")
            for child in sorted(os.listdir(fd)):
                _zip_add(home, zf, fd, child, f"{arc}/{child}", skip, budget, skipped)
        finally:
            os.close(fd)
    elif stat.S_ISREG(st.st_mode):
        fd = os.open(
            name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd
        )
        try:
            fst = os.fstat(fd)
            if fst.st_nlink > 1 and fst.st_uid != home.uid:
                skipped.append(_display(arc))
                return
            budget.take(1, fst.st_size)
            info = zipfile.ZipInfo(_display(arc))
            info.external_attr = (stat.S_IFREG | (stat.S_IMODE(fst.st_mode) & 0o777)) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            with zf.open(info, "w", force_zip64=True) as out:
                while True:
                    chunk = os.read(fd, 1 << 20)
                    if not chunk:
                        break
                    out.write(chunk)
        finally:
            os.close(fd)
    else:
        skipped.append(_display(arc))  # symlinks and special files are left out


def op_zip(home: Home, args: dict[str, Any]) -> dict[str, Any]:
    sources = [check_path(p, allow_home=False) for p in args["paths"]]
    dst = check_path(args["destination"], allow_home=False)
    budget = Budget(home.limits["tree_entries"], home.limits["tree_bytes"])
    skipped: list[str] = []
    dst_dir, dst_name = home.parent(dst, "destination")
    try:
        if lstat_at(dst_dir, dst_name) is not None:
            raise Refused("conflict", f"{dst} already exists", "destination")
        tmp = temp_name(dst_name)
        fd = os.open(
            tmp,
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
            0o644,
            dir_fd=dst_dir,
        )
        try:
            made = os.fstat(fd)
            with os.fdopen(fd, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as zf:
                for src in sources:
                    src_dir, src_name = home.parent(src, "paths")
                    try:
                        if lstat_at(src_dir, src_name) is None:
                            raise Refused("not_found", f"{src} does not exist", "paths")
                        _zip_add(
                            home,
                            zf,
                            src_dir,
                            src_name,
                            src_name,
                            (made.st_dev, made.st_ino),
                            budget,
                            skipped,
                        )
                    finally:
                        os.close(src_dir)
            rename_noreplace(dst_dir, tmp, dst_dir, dst_name)
        except BaseException:
            try:
                os.unlink(tmp, dir_fd=dst_dir)
            except OSError:
                pass
            raise
        size = os.stat(dst_name, dir_fd=dst_dir, follow_symlinks=False).st_size
    finally:
        os.close(dst_dir)
    return {"path": dst, "size": size, "skipped": skipped}


def check_member(info: zipfile.ZipInfo) -> tuple[str, bool]:
    """(checked relative name, is a directory) of an archive entry, or Refused."""
    raw = info.filename
    kind = (info.external_attr >> 16) & 0o170000
    if kind == stat.S_IFLNK:
        raise Refused("invalid", f"archive entry {raw!r} is a symlink", "path")
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise Refused("invalid", f"archive entry {raw!r} is a special file", "path")
    if raw.startswith("/") or (len(raw) > 1 and raw[1] == ":"):
        raise Refused("invalid", f"archive entry {raw!r} is absolute", "path")
    try:
        name = check_path(raw, allow_home=False)
    except ValueError as exc:
        raise Refused("invalid", f"archive entry {raw!r}: {exc}", "path") from None
    return name, raw.endswith("/") or kind == stat.S_IFDIR


def _ensure_dirs(root: int, parts: list[str]) -> int:
    fd = os.dup(root)
    for part in parts:
        try:
            os.mkdir(part, 0o755, dir_fd=fd)
        except FileExistsError:
            pass
        child = os.open(
            part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd
        )
        os.close(fd)
        fd = child
    return fd


def _extract(home: Home, zf: zipfile.ZipFile, stage: int) -> list[str]:
    limits = home.limits
    members = zf.infolist()
    if len(members) > limits["unzip_entries"]:
        raise Refused("too_large", f"{len(members)} entries; at most {limits['unzip_entries']}")
    checked = [(info, *check_member(info)) for info in members]  # refuse before writing
    total, top = 0, []
    for info, name, is_dir in checked:
        parts = name.split("/")
        if parts[0] not in top:
            top.append(parts[0])
        if is_dir:
            os.close(_ensure_dirs(stage, parts))
            continue
        dir_fd = _ensure_dirs(stage, parts[:-1])
        try:
            out = os.open(
                parts[-1],
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                0o600,
                dir_fd=dir_fd,
            )
            try:
                written = 0
                with zf.open(info) as src:  # sizes measured here, not taken from headers
                    while True:
                        chunk = src.read(1 << 20)
                        if not chunk:
                            break
                        written += len(chunk)
                        total += len(chunk)
                        if total > limits["unzip_bytes"]:
                            raise Refused(
                                "too_large", f"archive expands past {limits['unzip_bytes']} bytes"
                            )
                        if (
                            written > (1 << 20)
                            and written > max(info.compress_size, 1) * limits["unzip_ratio"]
                        ):
                            raise Refused(
                                "too_large",
                                f"entry {name!r} expands more than {limits['unzip_ratio']}x",
                            )
                        os.write(out, chunk)
                mode = (info.external_attr >> 16) & 0o777
                os.fchmod(out, (mode or 0o644) | 0o600)
            finally:
                os.close(out)
        finally:
            os.close(dir_fd)
    return top


def op_unzip(home: Home, args: dict[str, Any]) -> dict[str, Any]:
    src = check_path(args["path"], allow_home=False)
    dst = check_path(args.get("destination", ""))
    fd, _st = home.open_regular(src)
    try:
        dest = home.dir(dst)
    except BaseException:
        os.close(fd)
        raise
    raw = os.fdopen(fd, "rb")
    try:
        stage_name = temp_name("unzip")
        os.mkdir(stage_name, 0o700, dir_fd=dest)
        stage = os.open(
            stage_name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dest
        )
        moved: list[str] = []
        try:
            try:
                with zipfile.ZipFile(raw) as zf:
                    top = _extract(home, zf, stage)
            # zipfile's NotImplementedError is an entry whose compression method it does not
            # support (e.g. deflate64): refused like any archive it cannot read.
            except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError) as exc:
                raise Refused("invalid", f"not a usable zip archive: {exc}", "path") from None
            for name in top:
                try:
                    rename_noreplace(stage, name, dest, name)
                except FileExistsError:
                    raise Refused(
                        "conflict", f"{name} already exists in {dst or 'the home'}", "destination"
                    ) from None
                moved.append(name)
        except BaseException:
            for name in moved:  # put back what was already moved, then drop it all
                try:
                    rename_noreplace(dest, name, stage, name)
                except OSError:
                    pass
            raise
        finally:
            os.close(stage)
            remove_at(dest, stage_name)
    finally:
        raw.close()
        os.close(dest)
    return {"path": src, "destination": dst, "extracted": [_display(n) for n in top]}


# --- main --------------------------------------------------------------------------------

OPS: dict[str, Callable[[Home, dict[str, Any]], dict[str, Any]]] = {
    "list": op_list,
    "read": op_read,
    "mkdir": op_mkdir,
    "move": op_move,
    "copy": op_copy,
    "delete": op_delete,
    "chmod": op_chmod,
    "zip": op_zip,
    "unzip": op_unzip,
}

ERRNO_CODES = {
    errno.ENOENT: ("not_found", "no such file or directory"),
    errno.EEXIST: ("conflict", "already exists"),
    errno.ENOTEMPTY: ("conflict", "directory not empty"),
    errno.EACCES: ("forbidden", "permission denied"),
    errno.EPERM: ("forbidden", "operation not permitted"),
    errno.ELOOP: ("invalid", "a symlink is in the way (symlinks are never followed)"),
    errno.EXDEV: ("invalid", "the path leaves the home"),
    errno.ENOTDIR: ("invalid", "a component is not a directory"),
    errno.EISDIR: ("invalid", "is a directory"),
    errno.EINVAL: ("invalid", "invalid operation (a directory into itself?)"),
    errno.ENAMETOOLONG: ("invalid", "name too long"),
    errno.ENOSPC: ("conflict", "no space left"),
    errno.EDQUOT: ("conflict", "disk quota exceeded"),
    errno.ENXIO: ("invalid", "not a regular file"),
}


def answer(out: IO[bytes], body: dict[str, Any]) -> None:
    out.write(json.dumps(body).encode() + b"\n")
    out.flush()


def drop_privileges(uid: int, gid: int) -> None:
    if uid <= 0 or gid <= 0:
        raise SystemExit("refusing to run as root")
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    if os.getresuid() != (uid, uid, uid) or os.getresgid() != (gid, gid, gid) or os.getgroups():
        raise SystemExit("privileges not dropped")
    _libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS
    os.umask(0o022)


def run(home: Home, request: dict[str, Any], stdin: IO[bytes], out: IO[bytes]) -> None:
    name = request.get("op")
    args = request.get("args")
    if not isinstance(args, dict):
        raise Refused("invalid", "args must be an object")
    if name == "download":
        op_download(home, args, out)
        return
    if name == "write":
        data = op_write(home, args, stdin)
    elif isinstance(name, str) and name in OPS:
        data = OPS[name](home, args)
    else:
        raise Refused("invalid", f"unknown op {str(name)[:40]!r}")
    answer(out, {"ok": True, "data": data})


def main(argv: list[str]) -> None:
    if len(argv) != 3:
        raise SystemExit("usage: fsworker.py UID GID HOME_FD")
    uid, gid, home_fd = (int(a) for a in argv)
    out = sys.stdout.buffer
    stdin = sys.stdin.buffer
    try:  # the agent's own request: parsed as root only to know which modules to load
        request = json.loads(stdin.readline(1 << 20))
    except ValueError:
        request = None
    if isinstance(request, dict) and request.get("op") in ("zip", "unzip"):
        load_zipfile()
    # Imports after this line would fail where the interpreter's library is root-only.
    drop_privileges(uid, gid)
    try:
        if not isinstance(request, dict) or not isinstance(request.get("limits"), dict):
            raise Refused("invalid", "malformed request")
        if os.fstat(home_fd).st_uid != uid:
            raise Refused("forbidden", "the home is not owned by the account")
        run(Home(home_fd, request["limits"]), request, stdin, out)
    except Refused as exc:
        answer(out, {"ok": False, "error": exc.code, "message": exc.message, "field": exc.field})
    except ValueError as exc:  # check_path and malformed numbers
        answer(out, {"ok": False, "error": "invalid", "message": str(exc), "field": None})
    except OSError as exc:
        code, message = ERRNO_CODES.get(exc.errno or 0, ("internal", os.strerror(exc.errno or 0)))
        if code == "internal":
            traceback.print_exc()  # the agent logs the worker's stderr
        answer(out, {"ok": False, "error": code, "message": message, "field": None})
    except Exception:  # noqa: BLE001 - one answer whatever happens; details to stderr
        traceback.print_exc()
        answer(out, {"ok": False, "error": "internal", "message": "file operation failed"})


if __name__ == "__main__":
    main(sys.argv[1:])
