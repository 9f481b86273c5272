"""`/panel/files`: the account's file manager (browse with breadcrumbs, upload, new
folder, rename, permissions, delete, edit a text file, download).

Same agent ops and the same worker running as the account as `/api/user/files`; the
path checks are the API's. A refusal is shown above the listing. The editor converts the
browser's CRLF line ends back to LF.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from starlette.datastructures import UploadFile

from ...api.routes import user_files
from ...auth.sessions import Principal
from ...errors import JoPanelError, TooLarge, ValidationFailed
from ..context import web_context
from ..render import note_refusal, page, redirect
from ..session import AccountUser, Csrf

router = APIRouter(prefix="/panel/files", include_in_schema=False)

Dir = Annotated[str, Form(max_length=4096)]
Name = Annotated[str, Form(min_length=1, max_length=255)]


def _join(directory: str, name: str) -> str:
    if "/" in name:
        raise ValidationFailed("a name, not a path", field="name")
    return f"{directory}/{name}" if directory else name


def _crumbs(path: str) -> list[tuple[str, str]]:
    parts = path.split("/") if path else []
    return [(part, "/".join(parts[: i + 1])) for i, part in enumerate(parts)]


def _when(mtime: int) -> str:
    return dt.datetime.fromtimestamp(mtime, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def files_page(
    request: Request,
    principal: Principal,
    path: str = "",
    *,
    edit: str = "",
    done: str = "",
    error: str = "",
) -> HTMLResponse:
    ctx = web_context(request)
    listing: dict[str, Any] = {"path": path, "entries": [], "total": 0}
    editing: dict[str, Any] | None = None
    try:
        directory = user_files.checked(path, home_ok=True)
        listing = ctx.agent.execute(
            "file_list", {"username": principal.username, "path": directory},
            actor=principal.actor,
        ).data  # fmt: skip
        if edit:
            editing = ctx.agent.execute(
                "file_read", {"username": principal.username, "path": user_files.checked(edit)},
                actor=principal.actor,
            ).data  # fmt: skip
            if editing is not None and editing["binary"]:
                error, editing = f"{edit} is a binary file: download it instead", None
    except JoPanelError as exc:
        if exc.http_status >= 500:
            raise
        error = exc.message
    return page(
        request, "panel/files.html", principal=principal, listing=listing,
        path=listing["path"], crumbs=_crumbs(listing["path"]), editing=editing,
        done=done, error=error, quote=quote, when=_when,
    )  # fmt: skip


@router.get("")
def files(
    request: Request, principal: AccountUser, path: str = "", edit: str = "", done: str = ""
) -> HTMLResponse:
    return files_page(request, principal, path[:4096], edit=edit[:4096], done=done[:64])


def _after(
    request: Request, principal: Principal, directory: str, done: str, action: Any
) -> Response:
    request.state.audit_target = principal.username
    try:
        action()
    except JoPanelError as exc:
        if exc.http_status >= 500:
            raise
        note_refusal(request, exc)
        return files_page(request, principal, directory, error=exc.message)
    return redirect(f"/panel/files?path={quote(directory)}&done={done}")


def _op(request: Request, principal: Principal, op: str, payload: dict[str, Any]) -> Any:
    return (
        web_context(request)
        .agent.execute(op, {"username": principal.username, **payload}, actor=principal.actor)
        .data
    )


@router.post("/upload", dependencies=[Csrf])
async def upload(request: Request, principal: AccountUser) -> Response:
    form = await request.form()
    directory = form.get("path") or ""
    directory = directory if isinstance(directory, str) else ""
    upload_file = form.get("file")
    ctx = web_context(request)

    def action() -> None:
        if not isinstance(upload_file, UploadFile) or not upload_file.filename:
            raise ValidationFailed("choose a file to upload", field="file")
        target_dir = user_files.checked(directory, home_ok=True)
        user_files.upload_file(
            ctx, principal, target_dir, upload_file, form.get("overwrite") == "on"
        )

    try:
        return await run_in_threadpool(_after, request, principal, directory, "uploaded", action)
    finally:
        await form.close()  # the spooled upload


@router.post("/mkdir", dependencies=[Csrf])
def mkdir(request: Request, principal: AccountUser, path: Dir = "", name: Name = "") -> Response:
    def action() -> None:
        _op(request, principal, "file_mkdir", {"path": _join(path, name)})

    return _after(request, principal, path, "folder+created", action)


@router.post("/rename", dependencies=[Csrf])
def rename(
    request: Request, principal: AccountUser, name: Name, new_name: Name, path: Dir = ""
) -> Response:
    payload = {"source": _join(path, name), "destination": _join(path, new_name)}
    return _after(request, principal, path, "renamed",
                  lambda: _op(request, principal, "file_move", payload))  # fmt: skip


@router.post("/chmod", dependencies=[Csrf])
def chmod(
    request: Request,
    principal: AccountUser,
    name: Name,
    mode: Annotated[str, Form(max_length=4)],
    path: Dir = "",
) -> Response:
    def action() -> None:
        if not mode.isdigit() or any(c > "7" for c in mode) or int(mode, 8) > 0o777:
            raise ValidationFailed("permission bits 000-777 only (no setuid, setgid, sticky)")
        _op(request, principal, "file_chmod", {"path": _join(path, name), "mode": int(mode, 8)})

    return _after(request, principal, path, "permissions+changed", action)


@router.post("/delete", dependencies=[Csrf])
def delete(request: Request, principal: AccountUser, name: Name, path: Dir = "") -> Response:
    def action() -> None:
        _op(request, principal, "file_delete", {"path": _join(path, name)})

    return _after(request, principal, path, "deleted", action)


@router.post("/save", dependencies=[Csrf])
def save(
    request: Request,
    principal: AccountUser,
    file: Annotated[str, Form(min_length=1, max_length=4096)],
    content: Annotated[str, Form()] = "",
    path: Dir = "",
) -> Response:
    def action() -> None:
        data = content.replace("\r\n", "\n").encode()
        if len(data) > user_files.TEXT_MAX:
            raise TooLarge(f"the editor saves at most {user_files.TEXT_MAX} bytes")
        user_files.save_bytes(web_context(request), principal, user_files.checked(file), data)

    return _after(request, principal, path, "saved", action)


@router.get("/download")
def download(principal: AccountUser, request: Request, path: str) -> StreamingResponse:
    return user_files.download(principal, web_context(request), path[:4096])
