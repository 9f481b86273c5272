"""Rendering nginx, PHP-FPM and sshd files from the Jinja2 templates beside this module.

Autoescape is off: these are not HTML, and no escaping scheme is right for all three
syntaxes. Instead nothing reaches a template unchecked: the models already refuse
newlines, `;`, `{`, `}`, quotes and `$` in every value, and `render` checks every string
in the context once more (paths, which include ROOT, also may not hold whitespace or `#`).
A value that fails raises ValidationFailed and no file is written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from .. import validate
from ..errors import ValidationFailed

TEMPLATES = Path(__file__).with_name("templates")
# Values made only of these characters are safe in all three syntaxes without a closer look.
_PLAIN = re.compile(r"[A-Za-z0-9._:/@+=, -]{0,4096}")
_PLAIN_PATH = re.compile(r"/[A-Za-z0-9._/@+=,-]{0,4095}")


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=False,  # noqa: S701 - config files, not HTML; values are validated instead
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def config_path(path: Path | str, field: str = "path") -> str:
    """A filesystem path as written in a config: absolute, config-safe, no whitespace or `#`."""
    text = str(path)
    if _PLAIN_PATH.fullmatch(text):
        return text
    validate.config_safe(text, field, max_len=4096)
    if not text.startswith("/") or any(ch.isspace() or ch == "#" for ch in text):
        raise ValidationFailed(
            f"must be an absolute path without whitespace or '#' (got {text!r})", field=field
        )
    return text


def _check(value: Any, field: str) -> None:
    if isinstance(value, Path):
        config_path(value, field)
    elif isinstance(value, str):
        if not _PLAIN.fullmatch(value):  # the common case skips the per-character walk
            validate.config_safe(value, field, max_len=4096)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _check(item, f"{field}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check(item, f"{field}[{index}]")
    elif not isinstance(value, bool | int | None):
        raise TypeError(f"{field}: templates take plain values, not {type(value).__name__}")


def render(template: str, **context: Any) -> str:
    """Render `template` after checking every value in `context`."""
    for key, value in context.items():
        _check(value, key)
    plain = {k: str(v) if isinstance(v, Path) else v for k, v in context.items()}
    return _environment().get_template(template).render(**plain)
