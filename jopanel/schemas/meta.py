"""meta.json: notes, where the account came from, the revision stamp, and the last change."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from .base import AwareDatetime, ConfigModel, SafeText

REVISION_PATTERN = r"^sha256:[0-9a-f]{64}$"
ORIGIN_PATTERN = r"^[A-Za-z0-9:=._-]{1,64}$"


class Audit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    last_action: str = Field("", max_length=64)
    last_actor: str = Field("", max_length=64)
    last_time: AwareDatetime | None = None


class Meta(ConfigModel):
    notes: SafeText = ""
    # Where an imported account came from ("v1:users.id=12"); None for accounts made in V2.
    # Written only by the agent op import_user: no API or CLI payload carries it, and a
    # rollback keeps the current value. migrate-v1 decides re-runs by it, never by `notes`.
    origin: str | None = Field(None, pattern=ORIGIN_PATTERN)
    last_applied_revision: str = Field(pattern=REVISION_PATTERN)
    audit: Audit = Audit()
