"""How an account is answered: `AccountView` (its six documents and revision) and
`AccountSummary`, the one projection that lists, the index and the session checks share
(the API, the CLI, the agent's list ops and the V1 migration)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from .account import Account, Limits
from .hosting import Domains, Services, Ssh
from .meta import Meta


class AccountSummary(BaseModel):
    """An account's list fields, its revision and its identity (uid + created_at)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    username: str
    primary_domain: str
    contact_email: str
    package: str
    status: str
    owner: str
    revision: str
    updated_at: str
    uid: int
    created_at: str

    @classmethod
    def of(cls, account: Account, revision: str) -> AccountSummary:
        return cls(
            username=account.username,
            primary_domain=account.primary_domain,
            contact_email=account.contact_email,
            package=account.package,
            status=account.status,
            owner=account.owner,
            revision=revision,
            updated_at=account.updated_at.isoformat(),
            uid=account.uid,
            created_at=identity_stamp(account),
        )

    @classmethod
    def of_view(cls, view: dict[str, Any]) -> AccountSummary:
        """From an account's documents as an op returned them (`{account, …, revision}`)."""
        return cls.of(Account.model_validate(view["account"]), view["revision"])

    def row(self) -> dict[str, Any]:
        return self.model_dump()


class AccountView(BaseModel):
    """An account's six documents as read from disk, and its revision: what the ops that
    read or change an account answer with (and the API's account detail)."""

    account: Account
    limits: Limits
    domains: Domains
    services: Services
    ssh: Ssh
    meta: Meta
    revision: str


def identity_stamp(account: Account) -> str:
    """created_at as it is stored in sessions and the index (UTC, seconds)."""
    return account.created_at.isoformat(timespec="seconds")
