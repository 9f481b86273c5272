"""Start the file worker (fsworker.py) as an account: the one way the agent touches
an account's files for the file manager.

The home is opened here as root with O_PATH | O_NOFOLLOW (a symlink in its place is
refused) and must belong to the account; the worker inherits only that descriptor, an
empty environment and `/` as its working directory, drops to the account's uid/gid
first thing, and is killed after `timeout` seconds.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from ..errors import ERRORS_BY_CODE, Forbidden, JoPanelError, NotFound
from . import fsworker

log = logging.getLogger("jopanel.fsworker")

WORKER = str(Path(fsworker.__file__))
CHUNK = 1 << 20
# Tests set this to exercise the O_NOFOLLOW walk that replaces openat2 on old kernels.
FORCE_WALK = False


class Readable(Protocol):
    """What an upload is read from (a file, the agent's request body)."""

    def read(self, size: int = -1, /) -> bytes: ...


@dataclass(frozen=True)
class Limits:
    text_max: int = 2 * 1024 * 1024  # the editor's read and save size
    write_max: int = 256 * 1024 * 1024  # uploads (settings.max_upload_bytes)
    list_max: int = 100_000  # entries a directory listing reads before refusing
    tree_entries: int = 100_000  # copy / zip: entries walked
    tree_bytes: int = 4 * 1024**3  # copy / zip: bytes read
    unzip_entries: int = 10_000
    unzip_bytes: int = 1024**3  # total uncompressed, counted while extracting
    unzip_ratio: int = 200  # per entry, uncompressed / compressed, past its first MiB

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Account:
    home: Path
    uid: int
    gid: int


def _open_home(account: Account) -> int:
    try:
        fd = os.open(account.home, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        raise NotFound("the account has no home directory") from None
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise Forbidden("the home is a symlink or not a directory") from None
        raise
    if os.fstat(fd).st_uid != account.uid:
        os.close(fd)
        raise Forbidden("the home is not owned by the account")
    return fd


def _error(answer: dict[str, Any]) -> JoPanelError:
    cls = ERRORS_BY_CODE.get(str(answer.get("error")), JoPanelError)
    field = answer.get("field")
    message = str(answer.get("message") or "file operation failed")
    return cls.from_dict({"error": cls.code, "message": message, "field": field})


def run(
    account: Account,
    op: str,
    args: dict[str, Any],
    limits: Limits,
    *,
    source: Readable | None = None,
    length: int = 0,
    sink: Callable[[dict[str, Any]], IO[bytes]] | None = None,
    timeout: float = 600.0,
) -> dict[str, Any]:
    """Run one worker op; `source` feeds `length` bytes to `write`, `sink(answer)` gets
    the stream that `download`'s bytes are copied to. Raises the worker's refusal as
    the matching JoPanelError."""
    home_fd = _open_home(account)
    env = {"JOPANEL_FS_NO_OPENAT2": "1"} if FORCE_WALK else {}
    with tempfile.TemporaryFile() as errors:
        try:
            proc = subprocess.Popen(  # noqa: S603 - fixed argv, our own script
                [
                    sys.executable,
                    "-I",
                    "-S",
                    WORKER,
                    str(account.uid),
                    str(account.gid),
                    str(home_fd),
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors,
                pass_fds=(home_fd,),
                env=env,
                cwd="/",
            )
        finally:
            os.close(home_fd)
        with proc:  # closes the pipes whatever happens
            timer = threading.Timer(timeout, proc.kill)
            timer.start()
            try:
                return _talk(proc, op, args, limits, source, length, sink, errors)
            finally:
                timer.cancel()
                if proc.poll() is None:
                    proc.kill()


def _talk(
    proc: subprocess.Popen[bytes],
    op: str,
    args: dict[str, Any],
    limits: Limits,
    source: Readable | None,
    length: int,
    sink: Callable[[dict[str, Any]], IO[bytes]] | None,
    errors: IO[bytes],
) -> dict[str, Any]:
    assert proc.stdin is not None and proc.stdout is not None
    request = {"op": op, "args": args, "limits": limits.as_dict()}
    try:
        proc.stdin.write(json.dumps(request).encode() + b"\n")
        remaining = length if source is not None else 0
        while remaining > 0:
            chunk = source.read(min(CHUNK, remaining)) if source is not None else b""
            if not chunk:
                break  # the worker notices the short body and refuses
            proc.stdin.write(chunk)
            remaining -= len(chunk)
        proc.stdin.close()
    except BrokenPipeError:
        pass  # the worker refused before reading it all: its answer says why
    line = proc.stdout.readline(16 << 20)
    try:
        answer = json.loads(line)
    except ValueError:
        proc.wait()
        errors.seek(0)
        tail = errors.read()[-500:].decode(errors="replace").strip()
        raise JoPanelError(f"file worker failed: {tail or 'no answer'}") from None
    if not isinstance(answer, dict) or not answer.get("ok"):
        if isinstance(answer, dict) and answer.get("error") == "internal":
            proc.wait()
            errors.seek(0)
            log.error("file worker: %s", errors.read()[-4000:].decode(errors="replace"))
        raise _error(answer if isinstance(answer, dict) else {})
    data = answer.get("data")
    if sink is not None:
        out = sink(data if isinstance(data, dict) else {})
        while chunk := proc.stdout.read(CHUNK):
            out.write(chunk)
        out.flush()
    proc.wait()
    return data if isinstance(data, dict) else {}
