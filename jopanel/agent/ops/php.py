"""PHP settings ops: show the account's PHP (version and allow-listed settings), change
its version and/or settings in one revision.

The allow-list and each range are the model `PhpValues` (schemas/hosting.py); on top of
it `memory_limit_mb` may not exceed limits.json `memory_limit_mb` (0: no cap) and
`upload_max_filesize_mb` may not exceed `post_max_size_mb` (PHP would refuse such an
upload anyway). The pool is rendered from these values and checked with the real
`php-fpm -t` by the usual converge; the vhost's client_max_body_size follows
post_max_size.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ...errors import ValidationFailed
from ...schemas import UserConfig
from ...schemas.base import Username
from ...schemas.bundle import parse_model
from ...schemas.hosting import PHP_VERSION_RE, PhpValues
from ...system.phpfpm import PhpIni, installed_versions
from ..context import Call
from ..registry import OpResult, Payload, op
from ..transaction import change_account


class PhpValuesPatch(Payload):
    """Only the settings given change; the ranges are PhpValues' (checked on merge)."""

    memory_limit_mb: int | None = Field(None, ge=32, le=8192)
    max_execution_time: int | None = Field(None, ge=1, le=600)
    upload_max_filesize_mb: int | None = Field(None, ge=1, le=1024)
    post_max_size_mb: int | None = Field(None, ge=1, le=1024)
    max_input_vars: int | None = Field(None, ge=100, le=100000)
    display_errors: bool | None = None


class PhpRef(Payload):
    username: Username


class PhpSet(Payload):
    username: Username
    version: str | None = Field(None, pattern=PHP_VERSION_RE)
    settings: PhpValuesPatch | None = None


def php_view(config: UserConfig) -> dict[str, Any]:
    php = config.services.php
    effective = PhpIni.of(config)
    return {
        "version": php.version,
        "installed": installed_versions(),
        "enabled": php.enabled,
        "settings": php.settings.model_dump(),
        "memory_limit_cap_mb": config.limits.memory_limit_mb,
        "effective_memory_limit_mb": effective.memory_limit_mb,
    }


def merged_settings(config: UserConfig, patch: PhpValuesPatch) -> PhpValues:
    values = {**config.services.php.settings.model_dump(), **patch.model_dump(exclude_none=True)}
    settings = parse_model(PhpValues, values, "settings")
    cap = config.limits.memory_limit_mb
    if cap and patch.memory_limit_mb is not None and settings.memory_limit_mb > cap:
        raise ValidationFailed(
            f"memory_limit {settings.memory_limit_mb}M is above the account's limit "
            f"memory_limit_mb = {cap}",
            field="settings.memory_limit_mb",
        )
    if settings.upload_max_filesize_mb > settings.post_max_size_mb:
        raise ValidationFailed(
            f"upload_max_filesize {settings.upload_max_filesize_mb}M is above post_max_size "
            f"{settings.post_max_size_mb}M (PHP would refuse such uploads)",
            field="settings.upload_max_filesize_mb",
        )
    return settings


@op("php_show", PhpRef, reads_only=True)
def php_show(call: Call, p: PhpRef) -> OpResult:
    return OpResult(changed=False, data=php_view(call.ctx.store.read(p.username)))


@op("php_set", PhpSet)
def php_set(call: Call, p: PhpSet) -> OpResult:
    if p.version is not None:
        available = installed_versions()
        if p.version not in available:
            raise ValidationFailed(
                f"PHP {p.version} is not installed (installed: {', '.join(available) or 'none'})",
                field="version",
            )

    def mutate(config: UserConfig) -> UserConfig:
        update: dict[str, Any] = {}
        if p.version is not None:
            update["version"] = p.version
        if p.settings is not None:
            update["settings"] = merged_settings(config, p.settings)
        php = config.services.php.model_copy(update=update)
        return config.with_(services=config.services.model_copy(update={"php": php}))

    result = change_account(call, p.username, "php_set", mutate)
    if not call.dry_run:
        result.data = php_view(call.ctx.store.read(p.username))
    return result
