"""The API's context, seen from a page: pages use the same services as the API."""

from __future__ import annotations

from fastapi import Request

from ..api.context import ApiContext


def web_context(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx
