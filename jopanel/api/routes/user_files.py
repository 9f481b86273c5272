"""`/api/user/files/...`: the file manager of the logged-in account.

Paths are relative to the account's home (`public_html/index.html`; "" is the home).
They are checked here (relative, no `..`/`.`/empty component, no NUL, control character
or backslash, at most 4096 bytes; a percent-encoded dot arrives decoded and is refused
like any other), again by the agent's payload models, and resolved by a worker running
as the account beneath its home without following any symlink (jopanel.system.fsworker).

Uploads (multipart, field `file`, target directory `path`) and editor saves (the raw
body of `PUT /content`) are streamed to the agent; downloads are streamed back. A
suspended account can read and download but not change anything (403).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from starlette.datastructures import UploadFile

from ...agent.client import SocketAgent
from ...errors import JoPanelError, TooLarge, ValidationFailed
from ...system.fsproc import Limits
from ...system.fsworker import check_path
from ..deps import Ctx, HostingAccount
from ..schemas import ErrorOut, error_responses

router = APIRouter(prefix="/api/user/files", tags=["account: files"])

TEXT_MAX = Limits().text_max
TOO_LARGE: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorOut, "description": "Over the upload or editor size limit"}
}
PathQuery = Annotated[str, Query(max_length=4096, description="relative to the home")]


def _entry(value: str) -> str:
    return check_path(value, allow_home=False)


HomePath = Annotated[str, Field(max_length=4096), AfterValidator(check_path)]
EntryPath = Annotated[str, Field(min_length=1, max_length=4096), AfterValidator(_entry)]


def checked(value: str, *, field: str = "path", home_ok: bool = False) -> str:
    try:
        return check_path(value, allow_home=home_ok)
    except ValueError as exc:
        raise ValidationFailed(str(exc), field=field) from None


def _in(example: dict[str, Any]) -> ConfigDict:
    return ConfigDict(extra="forbid", json_schema_extra={"examples": [example]})


class PathIn(BaseModel):
    model_config = _in({"path": "public_html/images"})

    path: EntryPath


class MoveIn(BaseModel):
    model_config = _in({"source": "public_html/old.html", "destination": "public_html/new.html"})

    source: EntryPath
    destination: EntryPath


class ChmodIn(BaseModel):
    model_config = _in({"path": "public_html/index.html", "mode": "0644"})

    path: EntryPath
    mode: str = Field(pattern=r"^[0-7]{3,4}$", description="octal; permission bits only")


class ZipIn(BaseModel):
    model_config = _in({"paths": ["public_html"], "destination": "site.zip"})

    paths: list[EntryPath] = Field(min_length=1, max_length=100)
    destination: EntryPath


class UnzipIn(BaseModel):
    model_config = _in({"path": "site.zip", "destination": "restore"})

    path: EntryPath
    destination: HomePath = ""


class EntryOut(BaseModel):
    name: str
    type: str = Field(description="file, dir, symlink or other")
    size: int
    mode: str = Field(description="octal permission bits")
    mtime: int
    mine: bool = Field(description="owned by the account")


class ListOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "path": "public_html",
                    "total": 1,
                    "offset": 0,
                    "entries": [
                        {
                            "name": "index.html",
                            "type": "file",
                            "size": 512,
                            "mode": "0644",
                            "mtime": 1767225600,
                            "mine": True,
                        }
                    ],
                }
            ]
        }
    )

    path: str
    total: int
    offset: int
    entries: list[EntryOut]


class ContentOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "path": "public_html/index.html",
                    "size": 6,
                    "mode": "0644",
                    "mtime": 1767225600,
                    "binary": False,
                    "content": "hello\n",
                }
            ]
        }
    )

    path: str
    size: int
    mode: str
    mtime: int
    binary: bool
    content: str | None = Field(description="null for a binary file (download it)")


class ResultOut(BaseModel):
    """What a change answers: its paths, and for zip/unzip what went in or came out."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={"examples": [{"path": "public_html/new", "size": 0}]},
    )

    path: str | None = None
    source: str | None = None
    destination: str | None = None
    size: int | None = None
    mode: str | None = None


class DownloadOut(BaseModel):
    """A download answers the file's bytes (application/octet-stream, Content-Length,
    Content-Disposition: attachment); this model documents the X-File-Path header only."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"path": "backup.zip"}]})

    path: str


def _run(ctx: Ctx, principal: HostingAccount, op: str, payload: dict[str, Any]) -> Any:
    return ctx.agent.execute(
        op, {"username": principal.username, **payload}, actor=principal.actor
    ).data


def _stream_agent(ctx: Ctx) -> Any:
    agent = ctx.agent
    if not hasattr(agent, "send_stream"):
        raise JoPanelError("this agent cannot stream files")
    return agent


@router.get(
    "/list",
    name="user.files.list",
    summary="A directory's entries (directories first, then by name)",
    responses={
        **error_responses(401, 403, 404, 422, 503),
        413: {"model": ErrorOut, "description": "More entries than the listing limit"},
    },
    response_model=ListOut,
)
def list_files(
    principal: HostingAccount,
    ctx: Ctx,
    path: PathQuery = "",
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> Response:
    """Validated once and serialised by pydantic directly: FastAPI's generic encoder
    takes ~10x longer on a page of 10,000 entries."""
    payload = {"path": checked(path, home_ok=True), "offset": offset, "limit": limit}
    listing = ListOut.model_validate(_run(ctx, principal, "file_list", payload))
    return Response(listing.model_dump_json(), media_type="application/json")


@router.get(
    "/content",
    name="user.files.read",
    summary="A text file's content for the editor (up to 2 MiB)",
    responses={**error_responses(401, 403, 404, 422, 503), **TOO_LARGE},
)
def read_file(principal: HostingAccount, ctx: Ctx, path: PathQuery) -> ContentOut:
    data = _run(ctx, principal, "file_read", {"path": checked(path)})
    return ContentOut.model_validate(data)


@router.put(
    "/content",
    name="user.files.save",
    summary="Save a text file from the editor (raw UTF-8 body; atomic; keeps the mode)",
    responses={**error_responses(401, 403, 404, 409, 422, 503), **TOO_LARGE},
)
async def save_file(
    request: Request, principal: HostingAccount, ctx: Ctx, path: PathQuery
) -> ResultOut:
    """The body is the whole new content (any Content-Type). The file is created if
    missing, else replaced through a temp file and a rename, keeping its mode."""
    target = checked(path)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > TEXT_MAX:
            raise TooLarge(f"the editor saves at most {TEXT_MAX} bytes", field="content")
    try:
        bytes(body).decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationFailed("the content is not UTF-8 text", field="content") from None
    data = await run_in_threadpool(save_bytes, ctx, principal, target, bytes(body))
    return ResultOut.model_validate(data)


def save_bytes(ctx: Ctx, principal: HostingAccount, path: str, content: bytes) -> Any:
    """The editor's save (also used by the panel page)."""
    import io  # noqa: PLC0415 - only here

    payload = {
        "username": principal.username,
        "path": path,
        "length": len(content),
        "overwrite": True,
        "kind": "text",
    }
    result = _stream_agent(ctx).send_stream(
        "file_upload", payload, io.BytesIO(content), len(content), actor=principal.actor
    )
    return result.data


def upload_file(
    ctx: Ctx, principal: HostingAccount, directory: str, upload: UploadFile, overwrite: bool
) -> Any:
    """Stream one uploaded file (spooled to disk by the multipart parser) to the agent."""
    name = checked(upload.filename or "", field="file")
    if "/" in name:
        raise ValidationFailed("a file name, not a path", field="file")
    target = f"{directory}/{name}" if directory else name
    upload.file.seek(0, 2)
    length = upload.file.tell()
    upload.file.seek(0)
    payload = {
        "username": principal.username,
        "path": target,
        "length": length,
        "overwrite": overwrite,
    }
    result = _stream_agent(ctx).send_stream(
        "file_upload", payload, upload.file, length, actor=principal.actor
    )
    return result.data


@router.post(
    "/upload",
    name="user.files.upload",
    status_code=201,
    summary="Upload a file (multipart/form-data: `file`, `path` = target directory)",
    responses={**error_responses(401, 403, 404, 409, 422, 503), **TOO_LARGE},
)
async def upload(request: Request, principal: HostingAccount, ctx: Ctx) -> ResultOut:
    """Fields: `file` (the file; its name is kept), `path` (the directory, default the
    home), `overwrite` (`true` to replace an existing file, else 409). Bodies over
    `max_upload_bytes` are refused with 413 before they are read."""
    form = await request.form(max_files=1, max_fields=10)
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ValidationFailed("a multipart field `file` is required", field="file")
        directory = form.get("path") or ""
        if not isinstance(directory, str):
            raise ValidationFailed("must be text", field="path")
        directory = checked(directory, home_ok=True)
        overwrite = form.get("overwrite") in ("true", "1", "on")
        data = await run_in_threadpool(upload_file, ctx, principal, directory, upload, overwrite)
    finally:
        await form.close()
    return ResultOut.model_validate(data)


@router.get(
    "/download",
    name="user.files.download",
    summary="Download a file (streamed, always as an attachment)",
    responses={
        **error_responses(401, 403, 404, 422, 503),
        200: {
            "model": DownloadOut,
            "description": "The file's bytes",
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        },
    },
    response_class=StreamingResponse,
)
def download(principal: HostingAccount, ctx: Ctx, path: PathQuery) -> StreamingResponse:
    target = checked(path)
    agent = _stream_agent(ctx)
    payload = {"username": principal.username, "path": target}
    if not isinstance(agent, SocketAgent):
        raise JoPanelError("downloads need the agent's socket")
    stream = agent.fetch_stream("file_download", payload, actor=principal.actor)
    meta, chunks = stream.__enter__()  # errors (404, 403...) raise here, before any byte

    def body() -> Iterator[bytes]:
        try:
            yield from chunks
        finally:
            stream.__exit__(None, None, None)

    return StreamingResponse(
        body(),
        media_type="application/octet-stream",
        headers=download_headers(target, int(meta.get("size", 0))),
    )


def download_headers(path: str, size: int) -> dict[str, str]:
    """Always an attachment, never rendered: an account's HTML must not run on the
    panel's origin."""
    from urllib.parse import quote  # noqa: PLC0415

    name = path.rsplit("/", 1)[-1]
    ascii_name = "".join(
        c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name
    )
    return {
        "Content-Length": str(size),
        "Content-Disposition": (
            f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
        ),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox",
        "X-File-Path": quote(path),
    }


@router.post(
    "/mkdir",
    name="user.files.mkdir",
    status_code=201,
    summary="Create a directory",
    responses=error_responses(401, 403, 404, 409, 422, 503),
)
def mkdir(body: PathIn, principal: HostingAccount, ctx: Ctx) -> ResultOut:
    return ResultOut.model_validate(_run(ctx, principal, "file_mkdir", body.model_dump()))


@router.post(
    "/move",
    name="user.files.move",
    summary="Move or rename (409 if the destination exists)",
    responses=error_responses(401, 403, 404, 409, 422, 503),
)
def move(body: MoveIn, principal: HostingAccount, ctx: Ctx) -> ResultOut:
    return ResultOut.model_validate(_run(ctx, principal, "file_move", body.model_dump()))


@router.post(
    "/copy",
    name="user.files.copy",
    status_code=201,
    summary="Copy a file or a directory tree (symlinks copied as links, never followed)",
    responses={**error_responses(401, 403, 404, 409, 422, 503), **TOO_LARGE},
)
def copy(body: MoveIn, principal: HostingAccount, ctx: Ctx) -> ResultOut:
    return ResultOut.model_validate(_run(ctx, principal, "file_copy", body.model_dump()))


@router.post(
    "/chmod",
    name="user.files.chmod",
    summary="Change permission bits (0000-0777; setuid, setgid and sticky refused)",
    responses=error_responses(401, 403, 404, 422, 503),
)
def chmod(body: ChmodIn, principal: HostingAccount, ctx: Ctx) -> ResultOut:
    mode = int(body.mode, 8)
    if mode & ~0o777:
        raise ValidationFailed("setuid, setgid and sticky bits are not allowed", field="mode")
    payload = {"path": body.path, "mode": mode}
    return ResultOut.model_validate(_run(ctx, principal, "file_chmod", payload))


@router.post(
    "/zip",
    name="user.files.zip",
    status_code=201,
    summary="Create a zip archive of files and directories in the home",
    responses={**error_responses(401, 403, 404, 409, 422, 503), **TOO_LARGE},
)
def make_zip(body: ZipIn, principal: HostingAccount, ctx: Ctx) -> ResultOut:
    return ResultOut.model_validate(_run(ctx, principal, "file_zip", body.model_dump()))


@router.post(
    "/unzip",
    name="user.files.unzip",
    summary="Extract a zip archive (unsafe entries, bombs and name clashes refused whole)",
    responses={**error_responses(401, 403, 404, 409, 422, 503), **TOO_LARGE},
)
def unzip(body: UnzipIn, principal: HostingAccount, ctx: Ctx) -> ResultOut:
    return ResultOut.model_validate(_run(ctx, principal, "file_unzip", body.model_dump()))


@router.delete(
    "/delete",
    name="user.files.delete",
    status_code=204,
    summary="Delete a file or a directory tree (a symlink itself, never its target)",
    responses=error_responses(401, 403, 404, 422, 503),
)
def delete(principal: HostingAccount, ctx: Ctx, path: PathQuery) -> Response:
    _run(ctx, principal, "file_delete", {"path": checked(path)})
    return Response(status_code=204)
