"""Everything an agent operation needs, built once per process."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..settings import Settings
from ..store import ConfigStore, DomainClaims, PackageStore
from ..system.accounts import SystemAccounts
from ..system.accounts_cache import CachedAccounts
from ..system.runner import SAFE_PATH, Runner


@dataclass
class AgentContext:
    settings: Settings
    runner: Runner = field(default_factory=Runner)
    # passwd/shadow/group parsed once per version of the file (system/accounts_cache.py):
    # for a process that runs thousands of ops in a row (migrate-v1), not the agent.
    cached_accounts: bool = field(default=False, kw_only=True)
    store: ConfigStore = field(init=False)
    packages: PackageStore = field(init=False)
    claims: DomainClaims = field(init=False)
    accounts: SystemAccounts = field(init=False)

    def __post_init__(self) -> None:
        if self.settings.command_path is not None and self.settings.is_sandbox:
            self.runner.search_path = f"{self.settings.command_path}:{SAFE_PATH}"
        self.store = ConfigStore(self.settings)
        self.packages = PackageStore(self.settings)
        self.claims = DomainClaims(self.settings, self.store)
        accounts = CachedAccounts if self.cached_accounts else SystemAccounts
        self.accounts = accounts(self.settings, self.runner)


@dataclass
class Call:
    """One invocation of an op: who asked, and whether to only plan."""

    ctx: AgentContext
    actor: str = "root"
    dry_run: bool = False
