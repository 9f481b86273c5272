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
into one line on stderr and the exit code, the agent into `{"error", "message"}` plus
what the class needs to be rebuilt (`to_dict`), which the client turns back into the
same class (`error_from_dict`). Every subclass registers its `code` just by being
defined, wherever it is (jopanel.agent.flow.InjectedFault, jopanel.migrate.errors);
a code taken twice is refused at import.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Self

# code -> class, filled by JoPanelError.__init_subclass__ (and JoPanelError itself below).
ERRORS_BY_CODE: dict[str, type[JoPanelError]] = {}

# A command's output crosses the socket as its tail only: enough for a log line.
WIRE_OUTPUT_LIMIT = 2000


class JoPanelError(Exception):
    """Base of every error JoPanel raises on purpose."""

    code: ClassVar[str] = "error"
    http_status: ClassVar[int] = 500
    exit_code: ClassVar[int] = 1

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "code" not in cls.__dict__:
            raise TypeError(f"{cls.__qualname__} must set its own `code`")
        if "__init__" in cls.__dict__ and "from_dict" not in cls.__dict__:
            # Another constructor means another way back from the wire.
            raise TypeError(f"{cls.__qualname__} has its own __init__ but no from_dict")
        taken = ERRORS_BY_CODE.get(cls.code)
        if taken is not None:
            raise TypeError(
                f"error code {cls.code!r} of {cls.__module__}.{cls.__qualname__} is already "
                f"taken by {taken.__module__}.{taken.__qualname__}"
            )
        ERRORS_BY_CODE[cls.code] = cls

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message

    def to_dict(self) -> dict[str, Any]:
        """The JSON the agent sends; `from_dict` of the same class reads it back."""
        data: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.field:
            data["field"] = self.field
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Rebuild an error of this class from `to_dict`'s JSON."""
        return cls(_message(data), field=_field(data))


ERRORS_BY_CODE[JoPanelError.code] = JoPanelError


def _message(data: dict[str, Any]) -> str:
    message = data.get("message")
    return message if isinstance(message, str) else "agent error"


def _field(data: dict[str, Any]) -> str | None:
    field = data.get("field")
    return field if isinstance(field, str) and field else None


class ValidationFailed(JoPanelError):
    """Input that breaks a rule; names the field and the bad value."""

    code = "invalid"
    http_status = 422
    exit_code = 2


class NotFound(JoPanelError):
    code = "not_found"
    http_status = 404
    exit_code = 3


class RootNotInitialised(NotFound):
    """A CLI verb pointed at a directory that `jopanel init` never prepared."""

    code = "no_root"


class Conflict(JoPanelError):
    """Duplicate name or domain, a limit reached, or a change that races another."""

    code = "conflict"
    http_status = 409
    exit_code = 4


class StaleRevision(Conflict):
    """An update was based on a revision that is no longer the current one."""

    code = "stale"
    http_status = 412


class TooLarge(JoPanelError):
    """Over a size or count limit (an upload, a file opened in the editor, an archive)."""

    code = "too_large"
    http_status = 413
    exit_code = 2


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

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "retry_after": self.retry_after}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        retry_after = data.get("retry_after")
        if isinstance(retry_after, bool) or not isinstance(retry_after, int | float):
            retry_after = 1.0
        return cls(_message(data), retry_after=retry_after, field=_field(data))


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
        self.argv = argv  # as the runner shows it: secrets already ****
        self.returncode = returncode
        self.output = output

    def to_dict(self) -> dict[str, Any]:
        return {
            **super().to_dict(),
            "argv": self.argv,
            "returncode": self.returncode,
            "output": self.output[-WIRE_OUTPUT_LIMIT:],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        argv = data.get("argv")
        returncode = data.get("returncode")
        output = data.get("output")
        return cls(
            _message(data),
            argv=[str(a) for a in argv] if isinstance(argv, list) else [],
            returncode=returncode if type(returncode) is int else -1,
            output=output[-WIRE_OUTPUT_LIMIT:] if isinstance(output, str) else "",
        )


class ConfigCorrupt(JoPanelError):
    """Files on disk that do not form one valid revision (hand edit, torn write)."""

    code = "corrupt"
    http_status = 500
    exit_code = 8


def error_from_dict(data: object) -> JoPanelError:
    """Rebuild an error sent across the agent socket as its own class (unknown: the base)."""
    if not isinstance(data, dict):
        return JoPanelError("agent error")
    cls = ERRORS_BY_CODE.get(str(data.get("error")), JoPanelError)
    return cls.from_dict(data)
