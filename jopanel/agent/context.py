"""Everything an agent operation needs, built once per process."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..settings import Settings
from ..store import ConfigStore, DomainClaims, PackageStore
from ..system.accounts import SystemAccounts
from ..system.runner import Runner


@dataclass
class AgentContext:
    settings: Settings
    runner: Runner = field(default_factory=Runner)
    store: ConfigStore = field(init=False)
    packages: PackageStore = field(init=False)
    claims: DomainClaims = field(init=False)
    accounts: SystemAccounts = field(init=False)

    def __post_init__(self) -> None:
        self.store = ConfigStore(self.settings)
        self.packages = PackageStore(self.settings)
        self.claims = DomainClaims(self.settings, self.store)
        self.accounts = SystemAccounts(self.settings, self.runner)


@dataclass
class Call:
    """One invocation of an op: who asked, and whether to only plan."""

    ctx: AgentContext
    actor: str = "root"
    dry_run: bool = False
