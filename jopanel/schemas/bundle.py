"""The six files of one account as one value, and the revision formula anyone
can recompute to check a directory is one consistent revision."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from ..errors import ValidationFailed
from .account import Account, Limits
from .base import upgrade_document
from .hosting import Domains, Services, Ssh
from .meta import Meta

# Document kind -> file name; the first five make up the revision, meta carries it.
M = TypeVar("M", bound=BaseModel)

REVISION_KINDS = ("account", "limits", "domains", "services", "ssh")
KINDS = (*REVISION_KINDS, "meta")
FILE_NAMES = {kind: f"{kind}.json" for kind in KINDS}
MODELS: dict[str, type[BaseModel]] = {
    "account": Account,
    "limits": Limits,
    "domains": Domains,
    "services": Services,
    "ssh": Ssh,
    "meta": Meta,
}


def compute_revision(documents: dict[str, Any]) -> str:
    """`sha256:` + hex over the five parsed documents, canonical JSON (sorted keys, no spaces), so
    the hash can be checked by any tool without JoPanel."""
    payload = {kind: documents[kind] for kind in REVISION_KINDS}
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def parse_model(model: type[M], data: Any, prefix: str) -> M:
    """Validate `data`, turning pydantic's error into ours with a dotted field name."""
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        location = ".".join(str(p) for p in first["loc"])
        field = ".".join(p for p in (prefix, location) if p) or "value"
        message = first["msg"].removeprefix("Value error, ")
        raise ValidationFailed(message, field=field) from None


def render_document(model: BaseModel) -> bytes:
    """The on-disk form: pretty-printed UTF-8 JSON with a trailing newline."""
    data = model.model_dump(mode="json")
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


@dataclass(frozen=True)
class UserConfig:
    """One consistent revision of an account's configuration."""

    account: Account
    limits: Limits
    domains: Domains
    services: Services
    ssh: Ssh
    meta: Meta

    @property
    def username(self) -> str:
        return self.account.username

    @property
    def revision(self) -> str:
        return self.meta.last_applied_revision

    def documents(self) -> dict[str, dict[str, Any]]:
        """Every file as the JSON value written to disk."""
        return {kind: getattr(self, kind).model_dump(mode="json") for kind in KINDS}

    def content_revision(self) -> str:
        return compute_revision(self.documents())

    def stamped(self) -> UserConfig:
        """The same config with meta.last_applied_revision set from its content."""
        meta = self.meta.model_copy(update={"last_applied_revision": self.content_revision()})
        return replace(self, meta=meta)

    def with_(self, **parts: BaseModel) -> UserConfig:
        return replace(self, **parts)  # type: ignore[arg-type]  # dataclass replace is untyped

    @classmethod
    def from_documents(cls, documents: dict[str, Any]) -> UserConfig:
        """Validate six parsed documents (upgrading older schema versions)."""
        parts: dict[str, Any] = {}
        for kind in KINDS:
            raw = documents.get(kind)
            if not isinstance(raw, dict):
                raise ValidationFailed(
                    "file is missing or not a JSON object", field=FILE_NAMES[kind]
                )
            parts[kind] = parse_model(MODELS[kind], upgrade_document(kind, raw), kind)
        config = cls(**parts)
        if config.domains.primary != config.account.primary_domain:
            raise ValidationFailed("differs from account.primary_domain", field="domains.primary")
        # Checked with the files, not only when applied: a hand-edited or restored
        # services.json naming another account's database is never adopted as a revision.
        foreign = config.services.databases.foreign(config.username)
        if foreign:
            raise ValidationFailed(
                f"must be {config.username}_ followed by lowercase letters, digits or _ "
                f"(got {foreign[0]!r})",
                field="services.databases",
            )
        return config
