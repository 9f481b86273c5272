"""File manager ops: every one runs in the file worker as the account (system/fsworker.py).

The agent never opens an account's file with root's powers: it checks the payload (paths
relative, no `..`, no control characters: `fsworker.check_path`), that the account
exists and, for changes, is not suspended (403), then hands the request to a worker that
drops to the account's uid/gid and resolves every path beneath the home without
following symlinks. Files the worker creates belong to the account because the kernel
makes them so. Changes are journaled like every other op.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

from pydantic import AfterValidator, Field

from ...errors import Forbidden, TooLarge, ValidationFailed
from ...schemas.base import Username
from ...system import fsproc
from ...system.fsworker import check_path
from .. import streams
from ..context import Call
from ..registry import OpResult, Payload, op


def _inside(value: str) -> str:
    return check_path(value, allow_home=False)


# A path below the home; HomePath may also be "" (the home itself).
HomePath = Annotated[str, Field(max_length=4096), AfterValidator(check_path)]
EntryPath = Annotated[str, Field(min_length=1, max_length=4096), AfterValidator(_inside)]


class FileRef(Payload):
    username: Username
    path: EntryPath


class DirRef(Payload):
    username: Username
    path: HomePath = ""


class FileList(DirRef):
    offset: int = Field(0, ge=0)
    limit: int = Field(1000, ge=1, le=10_000)


class FileUpload(FileRef):
    length: int = Field(ge=0)
    overwrite: bool = False
    # "text": a save from the editor (the editor's size limit, not the upload limit).
    kind: str = Field("upload", pattern=r"^(upload|text)$")


class FileMove(Payload):
    username: Username
    source: EntryPath
    destination: EntryPath


class FileChmod(FileRef):
    mode: int = Field(ge=0, le=0o7777)


class FileZip(Payload):
    username: Username
    paths: list[EntryPath] = Field(min_length=1, max_length=100)
    destination: EntryPath


class FileUnzip(FileRef):
    destination: HomePath = ""


def limits_for(call: Call) -> fsproc.Limits:
    return fsproc.Limits(write_max=call.ctx.settings.max_upload_bytes)


def _account(call: Call, username: str, *, change: bool) -> fsproc.Account:
    config = call.ctx.store.read(username)  # NotFound for an unknown account
    if change and config.account.status == "suspended":
        raise Forbidden("the account is suspended; its files cannot be changed")
    home = call.ctx.settings.home_of(username)
    return fsproc.Account(home=home, uid=config.account.uid, gid=config.account.gid)


def _run(call: Call, username: str, op_name: str, args: dict[str, Any], *, change: bool) -> Any:
    account = _account(call, username, change=change)
    return fsproc.run(account, op_name, args, limits_for(call))


@op("file_list", FileList, reads_only=True)
def file_list(call: Call, p: FileList) -> OpResult:
    args = {"path": p.path, "offset": p.offset, "limit": p.limit}
    return OpResult(changed=False, data=_run(call, p.username, "list", args, change=False))


@op("file_read", FileRef, reads_only=True)
def file_read(call: Call, p: FileRef) -> OpResult:
    return OpResult(
        changed=False, data=_run(call, p.username, "read", {"path": p.path}, change=False)
    )


@op("file_download", FileRef, reads_only=True)
def file_download(call: Call, p: FileRef) -> OpResult:
    sink = streams.OUTPUT.get()
    if sink is None:
        raise ValidationFailed("file_download needs an output stream (agent /stream)", field="op")
    account = _account(call, p.username, change=False)
    data = fsproc.run(account, "download", {"path": p.path}, limits_for(call), sink=sink)
    return OpResult(changed=False, data=data)


@op("file_upload", FileUpload)
def file_upload(call: Call, p: FileUpload) -> OpResult:
    limits = limits_for(call)
    cap = limits.text_max if p.kind == "text" else limits.write_max
    if p.length > cap:
        raise TooLarge(f"{p.length} bytes; at most {cap}", field="file")
    stream = streams.INPUT.get()
    if stream is None:
        raise ValidationFailed("file_upload needs an input stream (agent /stream)", field="op")
    source, length = stream
    if length != p.length:
        raise ValidationFailed("the stream's length differs from the payload's", field="length")
    account = _account(call, p.username, change=True)
    if call.dry_run:
        return OpResult(changed=False, plan=[f"write {p.path} ({p.length} bytes)"])
    args = {"path": p.path, "length": p.length, "overwrite": p.overwrite}
    data = fsproc.run(
        account, "write", args, replace(limits, write_max=cap), source=source, length=length
    )
    return OpResult(changed=True, plan=[f"write {p.path} ({p.length} bytes)"], data=data)


def _change(call: Call, username: str, op_name: str, args: dict[str, Any], plan: str) -> OpResult:
    account = _account(call, username, change=True)
    if call.dry_run:
        return OpResult(changed=False, plan=[plan])
    data = fsproc.run(account, op_name, args, limits_for(call))
    return OpResult(changed=True, plan=[plan], data=data)


@op("file_mkdir", FileRef)
def file_mkdir(call: Call, p: FileRef) -> OpResult:
    return _change(call, p.username, "mkdir", {"path": p.path}, f"mkdir {p.path}")


@op("file_move", FileMove)
def file_move(call: Call, p: FileMove) -> OpResult:
    args = {"source": p.source, "destination": p.destination}
    return _change(call, p.username, "move", args, f"move {p.source} to {p.destination}")


@op("file_copy", FileMove)
def file_copy(call: Call, p: FileMove) -> OpResult:
    args = {"source": p.source, "destination": p.destination}
    return _change(call, p.username, "copy", args, f"copy {p.source} to {p.destination}")


@op("file_delete", FileRef)
def file_delete(call: Call, p: FileRef) -> OpResult:
    return _change(call, p.username, "delete", {"path": p.path}, f"delete {p.path}")


@op("file_chmod", FileChmod)
def file_chmod(call: Call, p: FileChmod) -> OpResult:
    if p.mode & ~0o777:
        raise ValidationFailed(
            "only permission bits 0000-0777 (no setuid/setgid/sticky)", field="mode"
        )
    args = {"path": p.path, "mode": p.mode}
    return _change(call, p.username, "chmod", args, f"chmod {p.mode:04o} {p.path}")


@op("file_zip", FileZip)
def file_zip(call: Call, p: FileZip) -> OpResult:
    args = {"paths": p.paths, "destination": p.destination}
    return _change(
        call, p.username, "zip", args, f"zip {len(p.paths)} path(s) into {p.destination}"
    )


@op("file_unzip", FileUnzip)
def file_unzip(call: Call, p: FileUnzip) -> OpResult:
    args = {"path": p.path, "destination": p.destination}
    return _change(call, p.username, "unzip", args, f"unzip {p.path} into {p.destination or '.'}")
