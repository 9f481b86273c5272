"""Logging set-up, one place for every process.

`jopanel agent` and `jopanel serve` write one JSON object per line on stderr (journald
keeps them): ts, level, logger, msg, request_id when known (the API request an agent
op serves), and the structured fields of the record. The CLI prints warnings and errors
as one readable line each, and repairs (records marked `progress`) as progress lines.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from contextvars import ContextVar
from typing import Any

# The API request being served (set by the API's middleware, and by the agent while it runs
# an op asked by that request): every log line written meanwhile names it.
REQUEST_ID: ContextVar[str | None] = ContextVar("jopanel_request_id", default=None)

PROGRESS = {"progress": True}  # `extra=` of a record that describes a repair, not a fault
# Record attributes that are not fields of the entry (uvicorn's color_message repeats msg).
_RESERVED = set(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "progress",
    "color_message",
}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        message = record.getMessage()
        fields: dict[str, Any] = {
            k: v for k, v in record.__dict__.items() if k not in _RESERVED and k != "fields"
        }
        fields.update(getattr(record, "fields", None) or {})
        if message.startswith("{"):  # a record that is already a JSON object (the op line)
            try:
                parsed = json.loads(message)
            except ValueError:
                parsed = None
            if isinstance(parsed, dict):
                fields = {**parsed, **fields}
                message = f"op {parsed.get('op')} {parsed.get('result')}"
        entry["msg"] = message
        request_id = fields.pop("request_id", None) or REQUEST_ID.get()
        if request_id:
            entry["request_id"] = request_id
        entry.update(fields)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class CliFormatter(logging.Formatter):
    """`jopanel: warning: …` for faults; `  …` for repairs reported as progress."""

    def format(self, record: logging.LogRecord) -> str:
        message = " ".join(record.getMessage().split())
        if getattr(record, "progress", False):
            return f"  {message}"
        return f"jopanel: {record.levelname.lower()}: {message}"


class _CliFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or bool(getattr(record, "progress", False))


def _install(handler: logging.Handler, level: int) -> None:
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)


def configure_service(level: int = logging.INFO) -> None:
    """JSON lines on stderr, for the agent and the API (run by systemd: journald)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    _install(handler, level)
    # One line per agent call already comes from uvicorn's access log and the agent itself.
    logging.getLogger("httpx").setLevel(logging.WARNING)


def configure_cli() -> None:
    """The CLI: one line per warning or error, repairs as progress lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(CliFormatter())
    handler.addFilter(_CliFilter())
    _install(handler, logging.INFO)
