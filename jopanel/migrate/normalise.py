"""Single V1 values made acceptable to V2, each returning the value and a note (or reason).

Pure; the rules are the second table of README.md ("Migrating from V1").
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from .. import validate
from ..errors import ValidationFailed

BCRYPT_RE = re.compile(r"^\$2[aby]\$[0-9]{2}\$[./A-Za-z0-9]{53}$")
DEFAULT_PHP = "8.2"


def aware(value: datetime | None) -> datetime | None:
    """V1 timestamps are read in UTC (the session runs with time_zone '+00:00')."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def normalise_username(raw: str, *, panel: bool = False) -> tuple[str | None, str]:
    """(V2 name, note) or (None, reason). Only whitespace and case are ever changed."""
    stripped = raw.strip()
    if not stripped.isascii():
        return None, f"username {raw!r} has non-ASCII characters"
    lowered = stripped.lower()
    try:
        name = validate.panel_name(lowered) if panel else validate.username(lowered)
    except ValidationFailed as exc:
        return None, f"username {raw!r} is not valid in V2: {exc.message}"
    note = "" if name == raw else f"username {raw!r} became {name!r}"
    return name, note


def package_slug(name: str | None, v1_id: int) -> str:
    slug = re.sub(r"[^a-z0-9_-]+", "-", (name or "").strip().lower())
    slug = re.sub(r"-{2,}", "-", slug).strip("-_")[:32].strip("-_")
    return slug or f"v1-package-{v1_id}"


def normalise_domain(raw: str | None) -> tuple[str | None, str]:
    """(hostname, "") or (None, reason): trimmed, one trailing dot dropped, IDN as punycode."""
    if raw is None or not raw.strip():
        return None, "empty domain name"
    candidate = raw.strip()
    if candidate.endswith(".") and not candidate.endswith(".."):
        candidate = candidate[:-1]
    try:
        return validate.domain(candidate), ""
    except ValidationFailed as exc:
        return None, f"domain {raw!r} is not a valid hostname: {exc.message}"


def limit_value(raw: int | None, default: int) -> tuple[int, str]:
    if raw is None:
        return default, "unset"
    if raw < 0:
        return 0, "negative"
    return min(raw, 2**31 - 1), ""


def status(raw: str | None) -> tuple[str, str]:
    value = (raw or "").strip().lower()
    if value == "active":
        return "active", ""
    if value == "suspended":
        return "suspended", ""
    if value == "pending":
        return "suspended", "pending in V1 (never approved): migrated as suspended"
    if value == "":
        return "active", "no status in V1: active"
    return "suspended", f"unknown V1 status {raw!r}: migrated as suspended"


def email(raw: str | None, name: str, primary: str) -> tuple[str, str]:
    value = (raw or "").strip()
    try:
        email = validate.email(value)
    except ValidationFailed:
        placeholder = f"{name}@{primary}"
        return placeholder, f"V1 email {raw!r} is not valid: contact email set to {placeholder}"
    return email, "" if email == raw else f"V1 email {raw!r} normalised to {email!r}"


def php(wanted: str | None, installed: tuple[str, ...]) -> tuple[str, str]:
    """V1's PHP version if this server has its FPM; else the default (or newest) installed."""
    version = wanted or DEFAULT_PHP
    if not installed or version in installed:
        return version, ""
    chosen = DEFAULT_PHP if DEFAULT_PHP in installed else max(installed, key=version_key)
    return chosen, f"PHP {version} (V1) is not installed here: PHP {chosen}"


def version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))
