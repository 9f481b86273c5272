"""`jopanel migrate-v1`: read V1, back it up, then create packages, admins and accounts.

Order: connect and detect (refusing what is not V1) -> read every row in one snapshot ->
dump and verify the backup (abort on failure) -> plan (pure) -> packages -> panel
admins -> accounts (agent op `import_user`, in-process under the usual locks, then the
panel login and the index row) -> verification of each account -> report.

Idempotent and resumable: every step looks at what is there first. A run killed at any
instant leaves each account either untouched, or with a config that the next run
recognises (by meta.origin, which only import_user writes; never by the notes) and
finishes (Linux user, password, login).
`--dry-run` writes nothing: no backup, no file, no Linux user, no database row.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from .. import validate
from ..agent.client import LocalAgent
from ..errors import JoPanelError, ValidationFailed
from ..schemas import LIMIT_FIELDS, Limits, Package
from ..settings import Settings
from ..system.phpfpm import installed_versions
from ..system.runner import Runner
from ..system.sandbox import init_root
from .backup import backup
from .introspect import V1Source, load, open_v1
from .mapping import (
    DEFAULT_PACKAGE,
    AccountPlan,
    AdminPlan,
    Options,
    PackagePlan,
    Plan,
    build_plan,
)
from .panel import PanelDB
from .report import Outcome, Report
from .verify import verify_account, verify_admin

log = logging.getLogger("jopanel.migrate")

ACTOR = "migrate-v1"
FALLBACK_SUFFIX = "migrated.invalid"
SERVICE_BATCH = 250
DRY_ACTIONS = {"created": "would create", "adopted": "would adopt", "updated": "would update"}


def default_domain_suffix() -> str:
    """The server's FQDN when it is a real domain name (cPanel-style temporary names),
    otherwise `migrated.invalid` (RFC 2606: never resolves, obviously a placeholder)."""
    fqdn = socket.getfqdn()
    try:
        if "." in fqdn and not fqdn.endswith(".localdomain"):
            return validate.domain(fqdn)
    except ValidationFailed:
        pass
    return FALLBACK_SUFFIX


@dataclass
class MigrateOptions:
    source: V1Source
    backup_dir: Path | None = None
    dry_run: bool = False
    default_domain_suffix: str = field(default_factory=default_domain_suffix)
    progress: bool = True
    console: Console | None = None


@contextmanager
def _progress(enabled: bool, console: Console | None, total: int) -> Iterator[Any]:
    progress = Progress(
        TextColumn("[bold]migrate-v1[/bold] {task.description:<24}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console or Console(stderr=True),
        disable=not enabled,
        transient=False,
    )
    with progress:
        task = progress.add_task("starting", total=total)

        def step(description: str, advance: int = 1) -> None:
            progress.update(task, advance=advance, description=description[:24])

        yield step


class Migration:
    """One run over one V1 database."""

    def __init__(self, settings: Settings, options: MigrateOptions) -> None:
        self.settings = settings
        self.options = options
        self.dry_run = options.dry_run
        # Every V2 read and write is an op; the cached passwd/shadow readers keep thousands
        # of account lookups in a row linear.
        self.agent = LocalAgent(settings, cached_accounts=True)

    def _read(self, op: str, payload: dict[str, Any]) -> Any:
        """The data of a read-only op."""
        return self.agent.execute(op, payload, actor=ACTOR).data

    def _package_names(self) -> dict[str, str]:
        """{name: description} of every V2 package."""
        return {
            str(p["name"]): str(p.get("description", "")) for p in self._read("package_list", {})
        }

    def _owners(self, hostnames: list[str]) -> dict[str, str | None]:
        """{hostname: the live V2 account claiming it, or None} (op domain_owners)."""
        if not hostnames:
            return {}
        owners: dict[str, str | None] = self._read("domain_owners", {"domains": hostnames})
        # The op answers by the validated (lowercased) name; ask back by the one we gave.
        return {h: owners.get(validate.domain(h)) for h in hostnames}

    # --- steps ---------------------------------------------------------------------------
    def _plan(self, report: Report) -> Plan:
        source = self.options.source
        conn, shape = open_v1(source)
        try:
            data = load(conn, shape)
        finally:
            conn.close()
        report.shape = shape.describe()
        if not self.dry_run:
            directory = self.options.backup_dir or self.settings.path("var/backups/jopanel/v1")
            report.backup = backup(source, directory, Runner()).to_dict()
        existing = self._package_names()
        if DEFAULT_PACKAGE in existing:
            package = self._read("package_get", {"name": DEFAULT_PACKAGE})
            default = Package.model_validate(package).limits()
        else:
            default = Limits()
        options = Options(
            default_domain_suffix=self.options.default_domain_suffix,
            default_limits={f: int(getattr(default, f)) for f in LIMIT_FIELDS},
            existing_packages=existing,
            php_versions=tuple(installed_versions()),
        )
        return build_plan(data, options)

    def _package(self, plan: PackagePlan) -> Outcome:
        outcome = Outcome(
            "package", plan.v1.id, plan.v1.name or "", plan.name, "migrated", notes=plan.notes
        )
        payload = {"name": plan.name, "values": plan.values}
        try:
            if plan.name in self._package_names():
                result = self.agent.execute(
                    "package_update", payload, actor=ACTOR, dry_run=self.dry_run
                )
                changes = bool(result.plan) if self.dry_run else result.changed
                outcome.action = (
                    ("would update" if self.dry_run else "updated") if changes else "unchanged"
                )
            else:
                self.agent.execute("package_create", payload, actor=ACTOR, dry_run=self.dry_run)
                outcome.action = "would create" if self.dry_run else "created"
        except JoPanelError as exc:
            outcome.result, outcome.reason = "failed", str(exc)
        return outcome

    def _admin(self, panel: PanelDB, plan: AdminPlan) -> Outcome:
        outcome = Outcome(
            "admin", plan.v1.id, plan.v1.username, plan.login.username, "migrated", notes=plan.notes
        )
        action, note = panel.ensure_login(plan.login)
        outcome.action = action
        if action == "kept":
            outcome.result, outcome.reason = "skipped", note
        elif not self.dry_run:
            problems = verify_admin(panel, plan)
            if problems:
                outcome.result, outcome.reason = "failed", "verification: " + "; ".join(problems)
        return outcome

    def _free_domains(self, plan: AccountPlan) -> dict[str, Any]:
        """Drop hostnames another V2 account already serves (reported as notes).

        One `domain_owners` op for every hostname of the account (a second one only when
        its primary domain is taken and a replacement is picked).
        """
        payload = dict(plan.payload)
        name = plan.username
        fqdns = [f"{sub['subdomain']}.{sub['parent']}" for sub in payload["subdomains"]]
        owners = self._owners(
            [
                payload["primary_domain"],
                *(a["domain"] for a in payload["addon_domains"]),
                *fqdns,
                *payload["alias_domains"],
            ]
        )

        def taken(hostname: str) -> bool:
            return owners.get(hostname) not in (None, name)

        if taken(payload["primary_domain"]):
            old = payload["primary_domain"]
            suffix = self.options.default_domain_suffix
            candidates = [f"{name}.{suffix}", f"{name}-{plan.v1.id}.{suffix}"]
            owners.update(self._owners(candidates))
            payload["primary_domain"] = next(
                (c for c in candidates if not taken(c)), candidates[-1]
            )
            plan.notes.append(
                f"{old} belongs to V2 account {owners[old]}: "
                f"primary domain set to {payload['primary_domain']}"
            )
        kept_addons = []
        for addon in payload["addon_domains"]:
            if taken(addon["domain"]):
                plan.notes.append(f"{addon['domain']} belongs to another V2 account: not migrated")
            else:
                kept_addons.append(addon)
        parents = {payload["primary_domain"], *(a["domain"] for a in kept_addons)}
        kept_subs = []
        for sub in payload["subdomains"]:
            fqdn = f"{sub['subdomain']}.{sub['parent']}"
            if sub["parent"] not in parents or taken(fqdn):
                plan.notes.append(
                    f"{fqdn}: its parent or the name belongs to another V2 account: not migrated"
                )
            else:
                kept_subs.append(sub)
        aliases = []
        for alias in payload["alias_domains"]:
            if taken(alias):
                plan.notes.append(f"{alias} belongs to another V2 account: not migrated")
            else:
                aliases.append(alias)
        payload.update(addon_domains=kept_addons, subdomains=kept_subs, alias_domains=aliases)
        return payload

    def _account(self, panel: PanelDB, plan: AccountPlan) -> Outcome:
        """Config, Linux user, login and index row; services come in batches afterwards."""
        outcome = Outcome("account", plan.v1.id, plan.v1.username, plan.username, "migrated")
        outcome.notes = plan.notes
        try:
            payload = self._free_domains(plan)
            plan.payload = payload
            result = self.agent.execute(
                "import_user",
                {**payload, "apply_services": False},
                actor=ACTOR,
                dry_run=self.dry_run,
            )
            action = str(result.data["action"])
            outcome.action = DRY_ACTIONS.get(action, action) if self.dry_run else action
            if action == "kept":
                plan.notes.append("changed in V2 since it was migrated: kept as it is in V2")
            if plan.login is not None:
                _login_action, note = panel.ensure_login(plan.login)
                if note:
                    plan.notes.append(note)
            if not self.dry_run:
                if result.account is None:
                    raise JoPanelError("import_user answered without the account's summary")
                panel.index(result.account)
        except JoPanelError as exc:
            outcome.result, outcome.reason = "failed", str(exc)
        return outcome

    def _services(self, outcomes: list[Outcome], step: Any) -> None:
        """Vhosts, PHP pools, sshd blocks of every migrated account, one check per batch.

        Accounts already in line cost nothing, so a re-run over a finished migration
        installs nothing; one killed before this point gets its services here.
        """
        migrated = [o for o in outcomes if o.result == "migrated" and o.v2_name]
        for start in range(0, len(migrated), SERVICE_BATCH):
            batch = migrated[start : start + SERVICE_BATCH]
            names = [str(o.v2_name) for o in batch]
            result = self.agent.execute("rebuild", {"usernames": names}, actor=ACTOR)
            failed: dict[str, str] = result.data["failed"]
            for outcome in batch:
                error = failed.get(str(outcome.v2_name))
                if error:
                    outcome.result, outcome.reason = "failed", f"services: {error}"
            step("services", advance=len(batch))

    def _verify(self, panel: PanelDB, plan: AccountPlan, outcome: Outcome) -> None:
        if outcome.result != "migrated" or outcome.action == "kept":
            return
        problems = verify_account(self.agent, panel, plan, actor=ACTOR)
        if problems:
            outcome.result = "failed"
            outcome.reason = "verification: " + "; ".join(problems)

    # --- the run -------------------------------------------------------------------------
    def run(self) -> Report:
        started = time.monotonic()
        report = Report(source=self.options.source.display, shape="", dry_run=self.dry_run)
        suffix = self.options.default_domain_suffix
        validate.domain(f"example.{suffix}", "--default-domain-suffix")  # before any work
        if not self.dry_run:
            init_root(self.settings)
        plan = self._plan(report)
        report.notices += plan.notices
        for skip in plan.skipped:
            report.add(
                Outcome(skip.kind, skip.v1_id, skip.v1_name, None, "skipped", reason=skip.reason)
            )
        panel = PanelDB(self.settings, dry_run=self.dry_run)
        accounts = len(plan.accounts)
        total = len(plan.packages) + len(plan.admins) + accounts * (1 if self.dry_run else 3)
        try:
            with _progress(self.options.progress, self.options.console, total) as step:
                for package in plan.packages:
                    report.add(self._package(package))
                    step(f"package {package.name}")
                for admin in plan.admins:
                    report.add(self._admin(panel, admin))
                    step(f"admin {admin.login.username}")
                outcomes = []
                for account in plan.accounts:
                    outcomes.append(self._account(panel, account))
                    step(f"account {account.username}")
                if not self.dry_run:
                    self._services(outcomes, step)
                    for account, outcome in zip(plan.accounts, outcomes, strict=True):
                        self._verify(panel, account, outcome)
                        step(f"verify {account.username}")
                report.outcomes += outcomes
        finally:
            panel.close()
        report.outcomes.sort(
            key=lambda o: (("package", "admin", "account", "domain").index(o.kind), o.v1_id)
        )
        report.seconds = time.monotonic() - started
        return report


def migrate(settings: Settings, options: MigrateOptions) -> Report:
    """Run the migration and return its report (raises only for a run-wide failure)."""
    return Migration(settings, options).run()
