"""`jopanel file …`: an account's files, through the same ops (and the same worker running
as the account) as the API's file manager. PATHs are relative to the account's home."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sys
import tempfile
from typing import IO, Annotated, Any

import typer

from ..agent.client import LocalAgent, SocketAgent
from ..errors import ValidationFailed
from .output import ActingAgent, CliState, emit, emit_mapping, state_of

app = typer.Typer(help="Files in hosting accounts' homes.", no_args_is_help=True)

Overwrite = Annotated[bool, typer.Option("--overwrite", help="replace an existing file")]


def _streams(state: CliState) -> tuple[SocketAgent | LocalAgent, str]:
    """The agent under the CLI's ActingAgent wrapper, and the actor it records."""
    agent = state.agent
    inner = agent.inner if isinstance(agent, ActingAgent) else agent
    actor = agent.actor if isinstance(agent, ActingAgent) else "root"
    if not isinstance(inner, SocketAgent | LocalAgent):
        raise ValidationFailed("this agent cannot stream files")
    return inner, actor


def _done(state: CliState, data: Any, message: str) -> None:
    if state.as_json:
        emit(state, data)
    else:
        emit(state, None, message=message)


def _run(ctx: typer.Context, op: str, payload: dict[str, Any]) -> tuple[CliState, Any]:
    state = state_of(ctx)
    return state, state.agent.execute(op, payload).data


@app.command("list")
def file_list(
    ctx: typer.Context,
    user: str,
    path: Annotated[str, typer.Argument(help="a directory (default: the home)")] = "",
    offset: Annotated[int, typer.Option(min=0)] = 0,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 1000,
) -> None:
    """A directory's entries, directories first."""
    payload = {"username": user, "path": path, "offset": offset, "limit": limit}
    state, data = _run(ctx, "file_list", payload)
    if state.as_json:
        emit(state, data)
        return
    rows = [
        {
            **e,
            "name": e["name"] + ("/" if e["type"] == "dir" else ""),
            "mtime": dt.datetime.fromtimestamp(e["mtime"], dt.UTC).strftime("%Y-%m-%d %H:%M"),
        }
        for e in data["entries"]
    ]
    title = f"{user}:{path or '~'} ({data['total']} entries)"
    emit(state, rows, columns=["name", "type", "size", "mode", "mtime"], title=title)


@app.command("show")
def file_show(ctx: typer.Context, user: str, path: str) -> None:
    """Print a text file (up to 2 MiB; use `get` for binary files)."""
    state, data = _run(ctx, "file_read", {"username": user, "path": path})
    if state.as_json:
        emit(state, data)
    elif data["binary"]:
        raise ValidationFailed(f"{path} is a binary file; use `jopanel file get`", field="path")
    else:
        sys.stdout.write(data["content"])


@app.command("put")
def file_put(
    ctx: typer.Context,
    user: str,
    path: str,
    source: Annotated[
        str, typer.Option("--from", help="local file to upload (default: standard input)")
    ] = "-",
    overwrite: Overwrite = False,
) -> None:
    """Upload a local file (or standard input) to PATH, streamed; owned by the account."""
    state = state_of(ctx)
    payload: dict[str, Any] = {"username": user, "path": path, "overwrite": overwrite}
    with _local_source(source) as (stream, length):
        payload["length"] = length
        agent, actor = _streams(state)
        data = agent.send_stream("file_upload", payload, stream, length, actor=actor).data
    _done(state, data, f"{user}:{path} written ({data['size']} bytes)")


class _local_source:  # noqa: N801 - used as a context manager like a function
    """A local file opened for reading with its size; stdin is spooled first (its length
    is needed up front)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.handle: IO[bytes] | None = None

    def __enter__(self) -> tuple[IO[bytes], int]:
        if self.source == "-":
            spool = tempfile.TemporaryFile()
            shutil.copyfileobj(sys.stdin.buffer, spool, 1 << 20)
            spool.seek(0)
            self.handle = spool
        else:
            try:
                self.handle = open(self.source, "rb")  # noqa: SIM115 - closed in __exit__
            except OSError as exc:
                message = f"cannot read {self.source}: {exc.strerror}"
                raise ValidationFailed(message, field="from") from None
        return self.handle, os.fstat(self.handle.fileno()).st_size

    def __exit__(self, *_exc: object) -> None:
        if self.handle is not None:
            self.handle.close()


@app.command("get")
def file_get(
    ctx: typer.Context,
    user: str,
    path: str,
    target: Annotated[
        str, typer.Option("--to", help="local file to write (default: standard output)")
    ] = "-",
) -> None:
    """Download a file, streamed."""
    state = state_of(ctx)
    payload = {"username": user, "path": path}
    agent, actor = _streams(state)
    if target == "-":
        agent.fetch_to("file_download", payload, sys.stdout.buffer, actor=actor)
        sys.stdout.buffer.flush()
        return
    part = f"{target}.part"
    with open(part, "wb") as out:
        meta = agent.fetch_to("file_download", payload, out, actor=actor)
    os.replace(part, target)
    if not state.as_json:
        emit(state, None, message=f"{user}:{path} -> {target} ({meta.get('size', 0)} bytes)")


@app.command("mkdir")
def file_mkdir(ctx: typer.Context, user: str, path: str) -> None:
    """Create a directory."""
    state, data = _run(ctx, "file_mkdir", {"username": user, "path": path})
    _done(state, data, f"{user}:{path} created")


@app.command("move")
def file_move(ctx: typer.Context, user: str, source: str, destination: str) -> None:
    """Move or rename (refused if the destination exists)."""
    payload = {"username": user, "source": source, "destination": destination}
    state, data = _run(ctx, "file_move", payload)
    _done(state, data, f"{user}:{source} -> {destination}")


@app.command("copy")
def file_copy(ctx: typer.Context, user: str, source: str, destination: str) -> None:
    """Copy a file or a directory tree."""
    payload = {"username": user, "source": source, "destination": destination}
    state, data = _run(ctx, "file_copy", payload)
    _done(state, data, f"{user}:{source} copied to {destination}")


@app.command("delete")
def file_delete(ctx: typer.Context, user: str, path: str) -> None:
    """Delete a file or a directory tree (a symlink itself, never its target)."""
    state, data = _run(ctx, "file_delete", {"username": user, "path": path})
    _done(state, data, f"{user}:{path} deleted ({data['removed']} entries)")


@app.command("chmod")
def file_chmod(ctx: typer.Context, user: str, mode: str, path: str) -> None:
    """Set permission bits (octal, 000-777; no setuid, setgid or sticky)."""
    try:
        bits = int(mode, 8)
    except ValueError:
        raise ValidationFailed(f"{mode!r} is not an octal mode", field="mode") from None
    if not 0 <= bits <= 0o777 or len(mode) > 4:
        raise ValidationFailed("only permission bits 000-777", field="mode")
    state, data = _run(ctx, "file_chmod", {"username": user, "path": path, "mode": bits})
    _done(state, data, f"{user}:{path} mode {data['mode']}")


@app.command("zip")
def file_zip(
    ctx: typer.Context,
    user: str,
    destination: Annotated[str, typer.Argument(help="the archive to create")],
    paths: Annotated[list[str], typer.Argument(help="files and directories to put in it")],
) -> None:
    """Create a zip archive (symlinks and special files are left out)."""
    payload = {"username": user, "paths": paths, "destination": destination}
    state, data = _run(ctx, "file_zip", payload)
    if state.as_json:
        emit(state, data)
        return
    emit_mapping(state, data, f"{user}:{destination}")


@app.command("unzip")
def file_unzip(
    ctx: typer.Context,
    user: str,
    path: str,
    destination: Annotated[str, typer.Argument(help="directory (default: the home)")] = "",
) -> None:
    """Extract a zip archive (unsafe entries, bombs and clashes refused whole)."""
    payload = {"username": user, "path": path, "destination": destination}
    state, data = _run(ctx, "file_unzip", payload)
    _done(state, data, f"{user}:{path} extracted: {', '.join(data['extracted'])}")
