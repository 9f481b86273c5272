"""meta.json: notes, the revision stamp, and the last change."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from .base import AwareDatetime, ConfigModel, SafeText

REVISION_PATTERN = r"^sha256:[0-9a-f]{64}$"


class Audit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    last_action: str = Field("", max_length=64)
    last_actor: str = Field("", max_length=64)
    last_time: AwareDatetime | None = None


class Meta(ConfigModel):
    notes: SafeText = ""
    last_applied_revision: str = Field(pattern=REVISION_PATTERN)
    audit: Audit = Audit()
