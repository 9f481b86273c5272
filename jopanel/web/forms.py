"""The one way a panel form changes the account: the op through `AccountService`, then
a redirect to the result, or the page again with the refusal next to its field."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request, Response

from ..auth.sessions import Principal
from ..errors import JoPanelError
from .context import web_context
from .render import note_refusal, redirect


def change_or_refuse(
    request: Request,
    principal: Principal,
    op: str,
    payload: dict[str, Any],
    *,
    then: str,
    refused: Callable[[JoPanelError], Response],
) -> Response:
    """Run `op` on the logged-in account; redirect to `then`, or answer `refused(exc)`
    (audited as refused) when the change is refused. Server errors propagate."""
    request.state.audit_target = principal.username
    try:
        web_context(request).accounts.account_op(principal, op, payload)
    except JoPanelError as exc:
        if exc.http_status >= 500:
            raise
        note_refusal(request, exc)
        return refused(exc)
    return redirect(then)
