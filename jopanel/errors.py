"""One exception tree for the whole project.

    JoPanelError                      code         HTTP  exit
    ├── ValidationFailed              invalid      422   2
    ├── NotFound                      not_found    404   3
    ├── Conflict                      conflict     409   4
    │   └── StaleRevision             stale        412   4
    ├── Forbidden                     forbidden    403   5
    ├── NotAuthenticated              unauthenticated 401 5
    ├── Throttled                     throttled    429   5
    ├── AgentUnavailable              agent_down   503   6
    ├── CommandFailed                 command      500   7
    └── ConfigCorrupt                 corrupt      500   8

Each boundary translates: FastAPI handlers turn these into `{"detail": ...}`, the CLI
into one line on stderr and the exit code, the agent into `{"error", "message"}`.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar


class JoPanelError(Exception):
    """Base of every error JoPanel raises on purpose."""

    code: ClassVar[str] = "error"
    http_status: ClassVar[int] = 500
    exit_code: ClassVar[int] = 1

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.field:
            data["field"] = self.field
        return data


class ValidationFailed(JoPanelError):
    """Input that breaks a rule; names the field and the bad value."""

    code = "invalid"
    http_status = 422
    exit_code = 2


class NotFound(JoPanelError):
    code = "not_found"
    http_status = 404
    exit_code = 3


class Conflict(JoPanelError):
    """Duplicate name or domain, a limit reached, or a change that races another."""

    code = "conflict"
    http_status = 409
    exit_code = 4


class StaleRevision(Conflict):
    """An update was based on a revision that is no longer the current one."""

    code = "stale"
    http_status = 412


class Forbidden(JoPanelError):
    code = "forbidden"
    http_status = 403
    exit_code = 5


class NotAuthenticated(JoPanelError):
    """No login, a wrong password, or a session that has ended."""

    code = "unauthenticated"
    http_status = 401
    exit_code = 5


class Throttled(JoPanelError):
    """Too many failed logins for this account or from this address."""

    code = "throttled"
    http_status = 429
    exit_code = 5

    def __init__(self, message: str, *, retry_after: float = 1.0, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.retry_after = max(1, math.ceil(retry_after))


class AgentUnavailable(JoPanelError):
    code = "agent_down"
    http_status = 503
    exit_code = 6


class CommandFailed(JoPanelError):
    """A system command exited non-zero or timed out."""

    code = "command"
    http_status = 500
    exit_code = 7

    def __init__(self, message: str, *, argv: list[str], returncode: int, output: str) -> None:
        super().__init__(message)
        self.argv = argv
        self.returncode = returncode
        self.output = output


class ConfigCorrupt(JoPanelError):
    """Files on disk that do not form one valid revision (hand edit, torn write)."""

    code = "corrupt"
    http_status = 500
    exit_code = 8


ERRORS_BY_CODE: dict[str, type[JoPanelError]] = {
    cls.code: cls
    for cls in (
        JoPanelError,
        ValidationFailed,
        NotFound,
        Conflict,
        StaleRevision,
        Forbidden,
        NotAuthenticated,
        Throttled,
        AgentUnavailable,
        CommandFailed,
        ConfigCorrupt,
    )
}


def error_from_dict(data: dict[str, Any]) -> JoPanelError:
    """Rebuild an error sent across the agent socket."""
    cls = ERRORS_BY_CODE.get(str(data.get("error")), JoPanelError)
    message = str(data.get("message", "agent error"))
    field = data.get("field")
    if cls is CommandFailed:
        return JoPanelError(message, field=field)
    return cls(message, field=field if isinstance(field, str) else None)
