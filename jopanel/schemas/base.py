"""Common base of the on-disk documents, constrained field types, and schema upgrades."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from .. import validate
from ..errors import ValidationFailed

SCHEMA_VERSION: Final = 1


class ConfigModel(BaseModel):
    """A JSON document JoPanel owns: unknown fields are refused, and it is versioned."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    schema_version: Literal[1] = SCHEMA_VERSION


def checked(fn: Callable[[str, str], str], field: str) -> AfterValidator:
    """Run one of our validators inside pydantic, so the error gets the full location."""

    def check(value: str) -> str:
        try:
            return fn(value, field)
        except ValidationFailed as exc:
            raise ValueError(exc.message) from None

    return AfterValidator(check)


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("must carry a UTC offset (ISO-8601 with offset)")
    return value


Username = Annotated[str, checked(validate.username, "username")]
PanelName = Annotated[str, checked(validate.panel_name, "owner")]
PackageName = Annotated[str, checked(validate.package_name, "package")]
Domain = Annotated[str, checked(validate.domain, "domain")]
Email = Annotated[str, checked(validate.email, "contact_email")]


def _config_path(value: str, field: str) -> str:
    # Document roots and app scripts end up in nginx/PHP-FPM configs: refuse `;{}`, quotes
    # and whitespace here, before a template ever sees them.
    validate.config_safe(value, field, max_len=1024)
    if any(ch.isspace() for ch in value):
        raise ValidationFailed(f"must not contain whitespace (got {value!r})", field=field)
    return value


RelPath = Annotated[
    str, checked(validate.relative_path, "docroot"), checked(_config_path, "docroot")
]
AbsPath = Annotated[str, checked(validate.absolute_path, "path")]
SshKey = Annotated[str, checked(validate.ssh_public_key, "authorized_keys")]
AwareDatetime = Annotated[datetime, AfterValidator(_aware)]
Limit = Annotated[int, Field(ge=0, le=2**31 - 1)]
SafeText = Annotated[str, Field(max_length=4096)]

# Upgrades from older schema versions: (document kind, from version) -> function that
# returns the document at version + 1. Empty while version 1 is the only one.
Upgrade = Callable[[dict[str, Any]], dict[str, Any]]
UPGRADES: dict[tuple[str, int], Upgrade] = {}


def upgrade_document(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """Bring a parsed document up to SCHEMA_VERSION, one step at a time."""
    version = data.get("schema_version", SCHEMA_VERSION)
    if not isinstance(version, int) or version < 1:
        raise ValidationFailed(
            f"invalid schema_version {version!r}", field=f"{kind}.schema_version"
        )
    if version > SCHEMA_VERSION:
        raise ValidationFailed(
            f"schema_version {version} is newer than this JoPanel ({SCHEMA_VERSION})",
            field=f"{kind}.schema_version",
        )
    while version < SCHEMA_VERSION:
        step = UPGRADES.get((kind, version))
        if step is None:
            raise ValidationFailed(
                f"no upgrade from schema_version {version}", field=f"{kind}.schema_version"
            )
        data = step(dict(data))
        version += 1
        data["schema_version"] = version
    return data
