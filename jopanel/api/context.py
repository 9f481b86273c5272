"""Everything the API needs at run time, built once by `create_app`."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from ..accounts.service import AccountService
from ..accounts.staff import StaffLogins
from ..agent.client import Agent
from ..auth.sessions import AuthService, ClientAddress
from ..settings import Settings


@dataclass
class ApiContext:
    settings: Settings
    agent: Agent
    engine: Engine
    sessions: sessionmaker[Session]
    auth: AuthService
    accounts: AccountService
    staff: StaffLogins
    client_address: ClientAddress

    def close(self) -> None:
        """Release the agent connection and the database pool."""
        close = getattr(self.agent, "close", None)
        if callable(close):
            close()
        self.engine.dispose()
