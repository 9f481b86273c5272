"""API-only errors and the handlers that turn every error into `{"detail": ...}` (one shape for
every client).

JoPanelError (jopanel.errors)        -> exc.http_status, {"detail", "code", "field"}
├── NotAuthenticated                 401 + WWW-Authenticate: Bearer
├── Throttled                        429 + Retry-After
└── PreconditionRequired             428 (PUT without If-Match)
RequestValidationError (pydantic)    422 naming the first bad field
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import JoPanelError, NotAuthenticated, Throttled

log = logging.getLogger("jopanel.api")


class PreconditionRequired(JoPanelError):
    code = "precondition_required"
    http_status = 428


def error_body(detail: str, code: str, field: str | None = None) -> dict[str, Any]:
    return {"detail": detail, "code": code, "field": field}


def jopanel_error_response(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, JoPanelError)
    headers: dict[str, str] = {}
    if isinstance(exc, NotAuthenticated):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(exc, Throttled):
        headers["Retry-After"] = str(exc.retry_after)
    status = exc.http_status
    if status >= 500 and status != 503:
        log.error("internal error: %s", exc)
        body = error_body("internal error", "internal")
    else:
        body = error_body(str(exc), exc.code, exc.field)
    return JSONResponse(body, status_code=status, headers=headers)


def _field_of(error: dict[str, Any]) -> str:
    # Drop the "body"/"query"/... prefix: clients name fields, not parameter locations.
    loc = [str(part) for part in error.get("loc", ())]
    if len(loc) > 1 and loc[0] in ("body", "query", "path", "header", "cookie"):
        loc = loc[1:]
    return ".".join(loc) or "body"


def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    first = errors[0] if errors else {}
    field = _field_of(first)
    message = str(first.get("msg", "invalid input")).removeprefix("Value error, ")
    return JSONResponse(error_body(f"{field}: {message}", "invalid", field), status_code=422)


def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400:
        # FastAPI's "error parsing the body" (malformed JSON): invalid input, like any other.
        return JSONResponse(error_body(f"body: {exc.detail}", "invalid", "body"), status_code=422)
    codes = {404: "not_found", 405: "method_not_allowed", 401: "unauthenticated"}
    body = error_body(str(exc.detail), codes.get(exc.status_code, "error"))
    return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)


def install_handlers(app: FastAPI) -> None:
    app.add_exception_handler(JoPanelError, jopanel_error_response)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
