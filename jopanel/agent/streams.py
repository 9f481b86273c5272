"""The byte streams of the file manager's upload and download ops.

An op's payload is JSON; a file's bytes are not. Whoever runs such an op (the agent's
`/stream` endpoint, or the CLI in-process) sets these for the duration of the call:
`INPUT` is (a readable stream, its exact length) for `file_upload`; `OUTPUT` is a
function that, given the answer's metadata, starts the response and returns the stream
the bytes go to, for `file_download`. Nothing is held in memory whole.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import IO, Any

from ..system.fsproc import Readable

Sink = Callable[[dict[str, Any]], IO[bytes]]

INPUT: ContextVar[tuple[Readable, int] | None] = ContextVar("jopanel_stream_in", default=None)
OUTPUT: ContextVar[Sink | None] = ContextVar("jopanel_stream_out", default=None)
# Ops that take or give a stream: only these may be called through `/stream`.
STREAM_OPS = frozenset({"file_upload", "file_download"})
