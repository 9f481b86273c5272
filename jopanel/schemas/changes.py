"""A partial change of an account, as the API takes it and the agent applies it: one
model for both (the agent's `update_user_config` payload adds the username and the
revision the change is based on)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from .account import LimitsPatch, Shell
from .base import Domain, Email, PackageName, PanelName


class _Patch(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AccountPatch(_Patch):
    contact_email: Annotated[Email | None, Field(max_length=254)] = None
    package: Annotated[PackageName | None, Field(max_length=32)] = None
    shell: Shell | None = None
    primary_domain: Annotated[Domain | None, Field(max_length=253)] = None
    owner: Annotated[PanelName | None, Field(max_length=32, description="admin only")] = None


class MetaPatch(_Patch):
    notes: Annotated[str | None, Field(max_length=4096)] = None


class AccountChange(_Patch):
    """A partial change: only the fields given are changed."""

    account: AccountPatch | None = None
    limits: LimitsPatch | None = None
    meta: MetaPatch | None = None
