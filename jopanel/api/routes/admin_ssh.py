"""`PUT /api/admin/users/{username}/ssh`: an account's SSH mode, decided by its staff.

The mode is the hosting company's call, not the account's: `sftp_chroot` (the default:
SFTP only, locked in the home), `disabled`, or `shell`. A reseller may switch its own
accounts between `sftp_chroot` and `disabled`; a shell (and the forwarding flags, which
only a shell uses) is for an admin to grant. The agent's `ssh_mode_set` writes ssh.json
and the account's sshd Match block, checked with the real `sshd -t`.
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from ...errors import Forbidden
from ..deps import Ctx, Staff
from ..schemas import error_responses

router = APIRouter(prefix="/api/admin/users", tags=["admin: accounts"])

SshMode = Literal["sftp_chroot", "shell", "disabled"]


class SshModeIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"mode": "sftp_chroot"}]}
    )

    mode: SshMode
    allow_port_forwarding: bool | None = Field(None, description="shell mode only; admin only")
    allow_agent_forwarding: bool | None = Field(None, description="shell mode only; admin only")
    allow_x11_forwarding: bool | None = Field(None, description="shell mode only; admin only")


class SshModeOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "mode": "sftp_chroot",
                    "enabled": True,
                    "allow_port_forwarding": False,
                    "allow_agent_forwarding": False,
                    "allow_x11_forwarding": False,
                }
            ]
        }
    )

    mode: SshMode
    enabled: bool
    allow_port_forwarding: bool
    allow_agent_forwarding: bool
    allow_x11_forwarding: bool


@router.put(
    "/{username}/ssh",
    name="users.ssh_mode",
    summary="Set an account's SSH mode (sftp_chroot, shell or disabled)",
    responses=error_responses(401, 403, 404, 422, 503),
)
def set_ssh_mode(
    username: str, body: SshModeIn, principal: Staff, ctx: Ctx, request: Request
) -> SshModeOut:
    """A reseller may choose sftp_chroot or disabled for its accounts; shell and the
    forwarding flags are admin only (403)."""
    request.state.audit_target = username
    ctx.accounts.visible(principal, username)  # 404 for an account it may not see
    flags = body.model_dump(exclude={"mode"}, exclude_none=True)
    if principal.role != "admin" and (body.mode == "shell" or any(flags.values())):
        raise Forbidden("only an admin may grant a shell or SSH forwarding", field="mode")
    payload = {"username": username, "mode": body.mode, **flags}
    ctx.accounts.change(principal, "ssh_mode_set", payload)
    return SshModeOut.model_validate(ctx.accounts.visible(principal, username)["ssh"])
